// The local cache service's own behaviour that needs no cache client: the
// limit on new entries GitHub's service enforces, the token and headers
// BuildKit's type=gha client needs, and what the service reports it holds
// and moved. Spoken to over HTTP on loopback, as its clients speak to it.

import { afterEach, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import {
  GITHUB_CREATES_PER_MINUTE,
  runtimeToken,
  startCacheService,
  type CacheService,
  type CacheServiceOptions
} from '../../support/cache-service.js'

const MAIN = 'refs/heads/main'
const mainToken = runtimeToken([{ scope: MAIN, permission: 3 }])
const TWIRP = '/twirp/github.actions.results.api.v1.CacheService/'

interface Answer {
  status: number
  headers: Headers
  body: Record<string, unknown>
  /** Bytes of the request body sent and of the response body read. */
  bytes: { sent: number; read: number }
}

let started: CacheService[] = []

async function service(options: CacheServiceOptions = {}): Promise<CacheService> {
  // Path-style URLs on 127.0.0.1 whatever CACHE_SERVICE_BLOB_HOST says: they resolve everywhere.
  const s = await startCacheService({ blobHost: '127.0.0.1', ...options })
  started.push(s)
  return s
}

afterEach(async () => {
  await Promise.all(started.map(s => s.close()))
  started = []
})

async function twirp(
  target: CacheService,
  method: string,
  body: Record<string, unknown>,
  token = mainToken
): Promise<Answer> {
  const text = JSON.stringify(body)
  const res = await fetch(`${target.url}${TWIRP}${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: text
  })
  const answer = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    body: JSON.parse(answer) as Record<string, unknown>,
    bytes: { sent: Buffer.byteLength(text), read: Buffer.byteLength(answer) }
  }
}

const create = (target: CacheService, key: string, token?: string): Promise<Answer> =>
  twirp(target, 'CreateCacheEntry', { key, version: 'v1' }, token)

/** Creates, uploads in one Put Blob and finalizes an entry of `content`. */
async function save(target: CacheService, key: string, content: Buffer, token = mainToken): Promise<void> {
  const reserved = await create(target, key, token)
  expect(reserved.body.ok).toBe(true)
  const put = await fetch(String(reserved.body.signed_upload_url), {
    method: 'PUT',
    headers: { 'x-ms-blob-type': 'BlockBlob' },
    body: content
  })
  expect(put.status).toBe(201)
  const done = await twirp(
    target,
    'FinalizeCacheEntryUpload',
    { key, version: 'v1', size_bytes: String(content.length) },
    token
  )
  expect(done.body.ok).toBe(true)
}

/** A clock a test moves by hand. */
function manualClock(start = Date.parse('2026-12-02T12:00:00Z')): {
  now: () => number
  advance(seconds: number): void
} {
  let at = start
  return {
    now: () => at,
    advance(seconds) {
      at += seconds * 1000
    }
  }
}

function retryAfter(answer: Answer): number {
  return Number(answer.headers.get('retry-after'))
}

describe('the limit on new entries', () => {
  it('refuses the create past the limit with a twirp 429 and the seconds until a place frees', async () => {
    const clock = manualClock()
    const s = await service({ createLimit: { perMinute: 3, now: clock.now } })
    expect((await create(s, 'a')).body.ok).toBe(true)
    clock.advance(20)
    expect((await create(s, 'b')).body.ok).toBe(true)
    expect((await create(s, 'c')).body.ok).toBe(true)

    const refused = await create(s, 'd')
    expect(refused.status).toBe(429)
    expect(refused.body).toEqual({ code: 'resource_exhausted', msg: expect.stringMatching(/3 a minute/) })
    // The first create leaves the window 60 s after it was made, 40 s from now.
    expect(refused.headers.get('retry-after')).toBe('40')
    expect(s.requests.at(-1)).toMatchObject({
      method: 'CreateCacheEntry',
      key: 'd',
      outcome: 'rate-limited',
      status: 429
    })
    expect(s.entries()).toEqual([])

    clock.advance(39)
    expect(retryAfter(await create(s, 'd'))).toBe(1)
    clock.advance(1)
    expect((await create(s, 'd')).body.ok).toBe(true)
    // The window slides: b and c are still in it, so the next waits for b.
    const next = await create(s, 'e')
    expect(next.status).toBe(429)
    expect(retryAfter(next)).toBe(20)
  })

  it('counts only creates that reserve an entry: not a refused one, a finalize or a lookup', async () => {
    const clock = manualClock()
    const s = await service({ createLimit: { perMinute: 2, now: clock.now } })
    await save(s, 'first', Buffer.from('payload'))
    expect((await create(s, 'first')).status).toBe(409)
    const readOnly = runtimeToken([{ scope: MAIN, permission: 1 }])
    expect((await create(s, 'denied', readOnly)).body).toMatchObject({ ok: false })
    for (let i = 0; i < 5; i++) {
      const found = await twirp(s, 'GetCacheEntryDownloadURL', { key: 'first', restore_keys: [], version: 'v1' })
      expect(found.body).toMatchObject({ ok: true, matched_key: 'first' })
    }

    // The second place is still free; the third create is refused, and the entry is still found.
    expect((await create(s, 'second')).body.ok).toBe(true)
    expect((await create(s, 'third')).status).toBe(429)
    const found = await twirp(s, 'GetCacheEntryDownloadURL', { key: 'first', restore_keys: [], version: 'v1' })
    expect(found.body.ok).toBe(true)

    // Refused creates take no place: once the first two are a window old, two more pass.
    clock.advance(30)
    expect(retryAfter(await create(s, 'third'))).toBe(30)
    expect(retryAfter(await create(s, 'third'))).toBe(30)
    clock.advance(30)
    expect((await create(s, 'third')).body.ok).toBe(true)
    expect((await create(s, 'fourth')).body.ok).toBe(true)
    expect((await create(s, 'fifth')).status).toBe(429)
  })

  it('lets creates pass again once the window has gone by, on the real clock', async () => {
    const s = await service({ createLimit: { perMinute: 1, windowSeconds: 1 } })
    expect((await create(s, 'a')).body.ok).toBe(true)
    const refused = await create(s, 'b')
    expect(refused.status).toBe(429)
    expect(retryAfter(refused)).toBe(1)
    await new Promise(resolve => setTimeout(resolve, retryAfter(refused) * 1000 + 50))
    expect((await create(s, 'b')).body.ok).toBe(true)
  })

  it(`takes GitHub's figure, ${GITHUB_CREATES_PER_MINUTE} a minute, and any number without the option`, async () => {
    const limited = await service({ createLimit: { perMinute: GITHUB_CREATES_PER_MINUTE } })
    const free = await service()
    for (let i = 0; i < GITHUB_CREATES_PER_MINUTE; i++) {
      expect((await create(limited, `k${i}`)).body.ok).toBe(true)
    }
    const refused = await create(limited, 'one-more')
    expect(refused.status).toBe(429)
    expect(retryAfter(refused)).toBeGreaterThanOrEqual(1)
    expect(retryAfter(refused)).toBeLessThanOrEqual(60)

    for (let i = 0; i < GITHUB_CREATES_PER_MINUTE + 50; i++) {
      expect((await create(free, `k${i}`)).status).toBe(200)
    }
    expect(free.requests.filter(r => r.outcome === 'rate-limited')).toEqual([])
  })

  it('refuses a limit it could not keep', async () => {
    await expect(service({ createLimit: { perMinute: 0 } })).rejects.toThrow(/perMinute/)
    await expect(service({ createLimit: { perMinute: 10, windowSeconds: 0.5 } })).rejects.toThrow(/windowSeconds/)
  })
})

describe('runtimeToken', () => {
  it('carries the scopes and the time claims BuildKit requires: nbf and iat now, exp six hours on', () => {
    const before = Math.floor(Date.now() / 1000)
    const token = runtimeToken([{ scope: MAIN, permission: 3 }])
    const after = Math.floor(Date.now() / 1000)
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
    expect(JSON.parse(claims.ac)).toEqual([{ Scope: MAIN, Permission: 3 }])
    for (const claim of ['nbf', 'iat']) {
      expect(claims[claim]).toBeGreaterThanOrEqual(before)
      expect(claims[claim]).toBeLessThanOrEqual(after)
    }
    expect(claims.exp - claims.nbf).toBe(6 * 3600)
  })
})

describe('blob answers', () => {
  it('carry an x-ms-request-id, as Azure Blob storage sends on every answer, errors included', async () => {
    const s = await service()
    const reserved = String((await create(s, 'blocks')).body.signed_upload_url)
    const block = Buffer.from('block-0').toString('base64')
    const answers: Array<[string, Response]> = []
    const ask = async (name: string, url: string, init: RequestInit = {}): Promise<Response> => {
      const res = await fetch(url, init)
      await res.arrayBuffer()
      answers.push([name, res])
      return res
    }
    const content = randomBytes(100)
    await ask('Put Block', `${reserved}&comp=block&blockid=${encodeURIComponent(block)}`, {
      method: 'PUT',
      body: content
    })
    const list = `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>${block}</Latest></BlockList>`
    await ask('Put Block List', `${reserved}&comp=blocklist`, { method: 'PUT', body: list })
    await twirp(s, 'FinalizeCacheEntryUpload', { key: 'blocks', version: 'v1', size_bytes: '100' })
    const download = String(
      (await twirp(s, 'GetCacheEntryDownloadURL', { key: 'blocks', version: 'v1' })).body.signed_download_url
    )
    await ask('Get Blob Properties', download, { method: 'HEAD' })
    await ask('Get Blob', download)
    await ask('Get Blob, ranged', download, { headers: { 'x-ms-range': 'bytes=0-9' } })
    await ask('Get Blob, bad signature', download.replace(/sig=[^&]*/, 'sig=forged'))
    await ask('Put Blob', String((await create(s, 'single')).body.signed_upload_url), {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob' },
      body: content
    })
    s.setFault({ kind: 'status', status: 503, methods: ['GetBlob'] })
    await ask('Get Blob, injected 503', download)

    expect(answers.map(([name, res]) => [name, res.status])).toEqual([
      ['Put Block', 201],
      ['Put Block List', 201],
      ['Get Blob Properties', 200],
      ['Get Blob', 200],
      ['Get Blob, ranged', 206],
      ['Get Blob, bad signature', 403],
      ['Put Blob', 201],
      ['Get Blob, injected 503', 503]
    ])
    const ids = answers.map(([, res]) => res.headers.get('x-ms-request-id'))
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    expect(new Set(ids).size).toBe(ids.length)
  })
})

describe('what the service holds and moved', () => {
  it('sums the finalized entries per scope, leaving out reservations never finalized', async () => {
    const s = await service()
    const feature = runtimeToken([
      { scope: 'refs/heads/feature', permission: 3 },
      { scope: MAIN, permission: 1 }
    ])
    await save(s, 'a', randomBytes(1000))
    await save(s, 'b', randomBytes(234))
    await save(s, 'c', randomBytes(50), feature)
    expect((await create(s, 'pending')).body.ok).toBe(true)
    expect(s.storedBytes()).toEqual({ [MAIN]: 1234, 'refs/heads/feature': 50 })
    expect((await service()).storedBytes()).toEqual({})
  })

  it('counts the body bytes each way, uploads and downloads with the twirp calls', async () => {
    const s = await service()
    const content = randomBytes(300 * 1024)
    const reserved = await create(s, 'moved')
    const put = await fetch(String(reserved.body.signed_upload_url), {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob' },
      body: content
    })
    await put.arrayBuffer()
    const done = await twirp(s, 'FinalizeCacheEntryUpload', {
      key: 'moved',
      version: 'v1',
      size_bytes: String(content.length)
    })
    const found = await twirp(s, 'GetCacheEntryDownloadURL', { key: 'moved', version: 'v1' })
    const before = s.traffic()
    const body = Buffer.from(await (await fetch(String(found.body.signed_download_url))).arrayBuffer())
    expect(body).toEqual(content)

    const calls = [reserved, done, found]
    const twirpSent = calls.reduce((sum, a) => sum + a.bytes.sent, 0)
    const twirpRead = calls.reduce((sum, a) => sum + a.bytes.read, 0)
    expect(before).toEqual({ received: twirpSent + content.length, sent: twirpRead })
    expect(s.traffic()).toEqual({ received: before.received, sent: before.sent + content.length })
  })
})
