/**
 * The line of docker's output that says what went wrong: its last `ERROR:`
 * line (the prefix left off), else its last line, else `fallback`. The
 * failure message of a build and the fault of a registry call both quote it.
 */
export function errorLine(output: string, fallback = ''): string {
  const lines = output
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean)
  const errors = lines.filter(l => /^(ERROR|error):/.test(l))
  // buildx 0.29 and later put "failed to build: " before what 0.13 said.
  return (errors.at(-1) ?? lines.at(-1) ?? fallback).replace(/^(ERROR|error):\s*/, '').replace(/^failed to build: /, '')
}
