import { errorLine } from '../docker/error-line.js'
import { clipped } from '../printable.js'

// What a failed registry call came to, read from the error docker printed
// (`docker buildx imagetools`, or the build's cache export): a miss, a refusal
// or a registry that cannot be used.

/** What a failed registry call came to, from the error docker printed. */
export type RegistryFault =
  /** The tag or the repository does not exist: a cache miss. */
  | { kind: 'missing' }
  /** 401/403: not logged in, or the login may not do this. */
  | { kind: 'denied'; message: string }
  /** 405: the registry takes no pushes (read-only mode, a pull-through mirror). */
  | { kind: 'read-only'; message: string }
  /** Unreachable, silent, or failing in some other way: a push would fare no better. */
  | { kind: 'broken'; message: string }

export function classifyError(stderr: string): RegistryFault {
  const message = errorMessage(stderr)
  // URLs and quoted names carry tags and image names, which may contain any
  // of the words looked for.
  const words = message.replace(/"[^"]*"/g, '""').replace(/https?:\/\/\S+/g, 'URL')
  // Asked first: the answer to a missing tag starts with the reference.
  if (/: not found$/.test(message) || /manifest unknown|name unknown/i.test(words)) return { kind: 'missing' }
  if (
    /\b(401|403)\b|unauthori[sz]ed|forbidden|denied|authorization failed|no basic auth credentials|insufficient_scope/i.test(
      words
    )
  ) {
    return { kind: 'denied', message }
  }
  if (/\b405\b|method not allowed|read-only mode/i.test(words)) return { kind: 'read-only', message }
  if (/\b404\b/.test(words)) return { kind: 'missing' }
  return { kind: 'broken', message }
}

/** Why a push to `repository` failed, and what to change when it was refused. */
export function explainPushFailure(error: string, repository: string): string {
  const fault = classifyError(error)
  switch (fault.kind) {
    case 'denied':
      return (
        `the registry refused the push to ${repository} (${fault.message}). Log in before this step with credentials that may push ` +
        "(docker/login-action); for ghcr.io give the job `permissions: packages: write`, and give this repository write access in the package's settings if another repository created it."
      )
    case 'read-only':
      return `the registry does not take pushes to ${repository} (${fault.message}): it is read-only or a mirror; point cache-ref at a registry that takes pushes.`
    case 'missing':
    case 'broken':
      return `the push to ${repository} failed: ${errorMessage(error)}`
  }
}

/** The line that says what went wrong: docker's last `ERROR:` line, else its last line. */
export function errorMessage(stderr: string): string {
  return clipped(errorLine(stderr, 'no output'))
}
