import { describe, expect, it } from '@jest/globals'
import { MAX_WAIT_SECONDS, rateLimitWait, retryAfterSeconds } from '../../../../src/cache/packs/backoff.js'

const NOW = Date.parse('2026-12-02T12:00:00Z')

describe('waiting on the rate limit', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterSeconds('12', NOW)).toBe(12)
    expect(retryAfterSeconds('Wed, 02 Dec 2026 12:00:30 GMT', NOW)).toBe(30)
    expect(retryAfterSeconds('Wed, 02 Dec 2026 11:00:00 GMT', NOW)).toBe(0)
    expect(retryAfterSeconds('soon', NOW)).toBeUndefined()
    expect(retryAfterSeconds(undefined, NOW)).toBeUndefined()
  })

  it('waits what the service asks, and up to a quarter more so that a refused matrix spreads out', () => {
    expect(rateLimitWait('20', 0, NOW, () => 0)).toBe(20)
    expect(rateLimitWait('20', 0, NOW, () => 0.999)).toBeCloseTo(25, 1)
  })

  it('doubles from 2 s when the service says nothing', () => {
    expect([0, 1, 2].map(a => rateLimitWait(undefined, a, NOW, () => 0))).toEqual([2, 4, 8])
  })

  it(`never waits more than ${MAX_WAIT_SECONDS} s at once`, () => {
    expect(rateLimitWait('3600', 0, NOW, () => 0.5)).toBe(MAX_WAIT_SECONDS)
    expect(rateLimitWait(undefined, 20, NOW, () => 0)).toBe(MAX_WAIT_SECONDS)
  })
})
