import { describe, expect, it } from '@jest/globals'

import type { Pending } from '../../../src/cache/client-protocol.js'

import { boundsFor, overdue } from '../../../src/cache/deadline.js'

const bounds = boundsFor(60)

const call = (method: string, idleSeconds: number): Pending => ({ kind: 'call', method, idleSeconds, bytes: 500 })

const transfer = (kind: 'download' | 'upload', idleSeconds: number, bytes: number): Pending => ({
  kind,
  method: '',
  idleSeconds,
  bytes
})

describe('boundsFor', () => {
  it('gives a call half the stall bound: 30 s and 60 s by default', () => {
    expect(boundsFor()).toEqual({ callSeconds: 30, stallSeconds: 60 })
    expect(boundsFor(4)).toEqual({ callSeconds: 2, stallSeconds: 4 })
  })
})

describe('overdue', () => {
  it('lets a call wait up to its bound, then names it in plain words', () => {
    expect(overdue([call('GetCacheEntryDownloadURL', 29.9)], 0, bounds)).toBeUndefined()
    expect(overdue([call('GetCacheEntryDownloadURL', 30)], 0, bounds)).toBe(
      'The cache service did not answer the lookup of the cache entry within 30 s'
    )
    expect(overdue([call('CreateCacheEntry', 31)], 0, bounds)).toBe(
      'The cache service did not answer the request to reserve the new entry within 30 s'
    )
    expect(overdue([call('FinalizeCacheEntryUpload', 31)], 0, bounds)).toBe(
      'The cache service did not answer the request to complete the new entry within 30 s'
    )
    expect(overdue([call('', 31)], 0, bounds)).toBe('The cache service did not answer a request within 30 s')
  })

  it('never cuts a transfer that keeps moving, however long it has run', () => {
    expect(overdue([transfer('download', 59, 8 * 1024 ** 3)], 0, bounds)).toBeUndefined()
  })

  it('gives up on a transfer that moved nothing for the stall bound, saying how far it got', () => {
    expect(overdue([transfer('download', 60, 5 * 1024 * 1024)], 0, bounds)).toBe(
      'The cache download stopped: nothing arrived for 60 s after 5.0 MB'
    )
    expect(overdue([transfer('download', 60, 66 * 1024)], 0, bounds)).toBe(
      'The cache download stopped: nothing arrived for 60 s after 66 KB'
    )
    // A request's own headers are no progress worth naming.
    expect(overdue([transfer('upload', 61, 700)], 0, bounds)).toBe(
      'The cache upload stopped: the service took nothing for 60 s'
    )
  })

  it('treats a client that stopped reporting as stalled', () => {
    expect(overdue([], 59, bounds)).toBeUndefined()
    expect(overdue([], 60, bounds)).toBe('The cache client stopped responding for 60 s')
  })

  it('writes a fraction of a second as such', () => {
    expect(overdue([call('GetCacheEntryDownloadURL', 2)], 0, boundsFor(3))).toBe(
      'The cache service did not answer the lookup of the cache entry within 1.5 s'
    )
  })
})
