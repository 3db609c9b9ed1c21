import * as diagnostics from 'node:diagnostics_channel'
import type { ClientRequest, IncomingMessage } from 'node:http'

/**
 * The 429s the service answered to new entries in this process, read from the
 * responses Node reports: @actions/cache turns a refused reservation into -1
 * and a warning, and only the response says how long to wait before asking
 * again.
 */
export class RateLimits {
  private retryAfter: string | undefined
  private seen = 0

  constructor() {
    diagnostics.subscribe('http.client.response.finish', message => {
      const { request, response } = message as { request: ClientRequest; response: IncomingMessage }
      if (response.statusCode !== 429 || !request.path.endsWith('/CreateCacheEntry')) return
      this.seen++
      const header = response.headers['retry-after']
      this.retryAfter = typeof header === 'string' ? header : undefined
    })
  }

  /** How many reservations were refused so far; compare before and after a call. */
  count(): number {
    return this.seen
  }

  /** The Retry-After of the latest refusal. */
  latestRetryAfter(): string | undefined {
    return this.retryAfter
  }
}
