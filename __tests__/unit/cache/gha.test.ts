import { describe, expect, it } from '@jest/globals'
import { tokenScopes, writeDenied } from '../../../src/cache/gha.js'

describe('writeDenied', () => {
  const token = (ac: unknown): string =>
    ['{"alg":"none"}', JSON.stringify({ ac: JSON.stringify(ac) }), 'sig']
      .map(p => Buffer.from(p).toString('base64url'))
      .join('.')

  it('lets a token with a writable scope save', () => {
    expect(
      writeDenied({ ACTIONS_RUNTIME_TOKEN: token([{ Scope: 'refs/heads/master', Permission: 3 }]) })
    ).toBeUndefined()
  })

  it('says plainly when every scope is read-only', () => {
    const reason = writeDenied({ ACTIONS_RUNTIME_TOKEN: token([{ Scope: 'refs/heads/master', Permission: 1 }]) })
    expect(reason).toMatch(/may read but not write \(cache write denied; its scopes: refs\/heads\/master\)/)
  })

  it("honours the runner's cache mode", () => {
    expect(writeDenied({ ACTIONS_CACHE_MODE: 'read' })).toMatch(/ACTIONS_CACHE_MODE=read/)
    expect(writeDenied({ ACTIONS_CACHE_MODE: 'none' })).toMatch(/ACTIONS_CACHE_MODE=none/)
    expect(writeDenied({ ACTIONS_CACHE_MODE: 'write-only' })).toBeUndefined()
  })

  it('tries anyway when the token cannot be read: the service has the last word', () => {
    expect(writeDenied({})).toBeUndefined()
    expect(writeDenied({ ACTIONS_RUNTIME_TOKEN: 'not-a-jwt' })).toBeUndefined()
    expect(tokenScopes(token('not a list'))).toBeUndefined()
  })
})
