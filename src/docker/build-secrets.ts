import type { Inputs } from '../inputs.js'

// How secrets given by value reach buildx: each through a variable of the
// build's environment, named by its position, so that no value ever appears
// in the arguments, which are logged.

/** The variable that carries secret i to buildx: values never appear in the arguments, which are logged. */
export function secretVariable(i: number): string {
  return `BUILDX_CI_CACHE_SECRET_${i}`
}

export function secretEnv(secrets: Inputs['secrets']): Record<string, string> {
  return Object.fromEntries(secrets.map(({ value }, i) => [secretVariable(i), value]))
}

/**
 * What to mask in the log for secrets given by value: each whole value and,
 * since the log is read line by line, each line of a value that spans lines.
 */
export function secretMasks(secrets: Inputs['secrets']): string[] {
  const masks = new Set<string>()
  for (const { value } of secrets) {
    if (value !== '') masks.add(value)
    if (!value.includes('\n')) continue
    for (const line of value.split('\n')) if (line.trim() !== '') masks.add(line.trim())
  }
  return [...masks]
}
