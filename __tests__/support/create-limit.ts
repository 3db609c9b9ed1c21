// The cache service's limit on new entries: GitHub's takes at most 200 a
// minute per repository and answers 429 with Retry-After past it. How its
// window moves is not published; this one slides, so a burst that fills it
// waits only until its first create is a window old, never for a clock minute.

/** New entries a minute GitHub's cache service takes from one repository. */
export const GITHUB_CREATES_PER_MINUTE = 200

export interface CreateLimit {
  /** Entries created in any one window; GitHub's figure is GITHUB_CREATES_PER_MINUTE. */
  perMinute: number
  /** The window, in whole seconds: 60, unless a test that waits for it to pass shortens it. */
  windowSeconds?: number
  /** The clock, in milliseconds as Date.now gives them: a test moves its own instead of waiting. */
  now?: () => number
}

/** The creates of the last window, and when the next may pass. */
export class CreateWindow {
  private readonly perWindow: number
  private readonly windowMs: number
  private readonly now: () => number
  /** When each create still in the window happened, oldest first. */
  private readonly times: number[] = []

  constructor(limit: CreateLimit) {
    const windowSeconds = limit.windowSeconds ?? 60
    if (!Number.isInteger(limit.perMinute) || limit.perMinute < 1)
      throw new Error(`createLimit.perMinute must be a whole number above 0: got ${limit.perMinute}`)
    // Retry-After counts whole seconds: a shorter window could not be waited for as told.
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
      throw new Error(`createLimit.windowSeconds must be a whole number of seconds above 0: got ${windowSeconds}`)
    this.perWindow = limit.perMinute
    this.windowMs = windowSeconds * 1000
    this.now = limit.now ?? Date.now
  }

  /**
   * Counts a create if the window has room for it and returns 0; otherwise
   * counts nothing and returns the whole seconds until a create may pass.
   */
  take(): number {
    const now = this.now()
    while (this.times.length > 0 && this.times[0] <= now - this.windowMs) this.times.shift()
    if (this.times.length < this.perWindow) {
      this.times.push(now)
      return 0
    }
    return Math.max(1, Math.ceil((this.times[0] + this.windowMs - now) / 1000))
  }
}
