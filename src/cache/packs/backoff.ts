// How long to wait before asking the service again. Its rate limit (200 new
// entries a minute per repository) is met by a matrix that starts together;
// the jobs that were refused must not all come back in the same second.

/** Longest single wait, whatever Retry-After says. */
export const MAX_WAIT_SECONDS = 60

/**
 * Seconds to wait after a 429: what Retry-After asks (seconds or an HTTP
 * date), else a doubling from 2 s, plus up to a quarter more at random so
 * that refused jobs spread out.
 */
export function rateLimitWait(
  retryAfter: string | undefined,
  attempt: number,
  now: number = Date.now(),
  random: () => number = Math.random
): number {
  const asked = retryAfterSeconds(retryAfter, now) ?? 2 ** (attempt + 1)
  const base = Math.min(Math.max(asked, 1), MAX_WAIT_SECONDS)
  return Math.min(base * (1 + random() / 4), MAX_WAIT_SECONDS)
}

/** Retry-After in seconds, or undefined when it says nothing usable. */
export function retryAfterSeconds(header: string | undefined, now: number = Date.now()): number | undefined {
  if (header === undefined || header.trim() === '') return undefined
  const text = header.trim()
  if (/^\d+$/.test(text)) return Number(text)
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000)
}

/** Seconds before the next try after a failure of the service itself (5xx, no answer): 1, 2, 4... */
export function failureWait(attempt: number): number {
  return Math.min(2 ** attempt, 8)
}
