// Packs through the storage SDK and the service's v2 calls, against the
// local stand-in of the cache service: what goes up comes back byte for byte,
// only the ranges asked for are read, and damage is caught by digest.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { PackService } from '../../../../src/cache/packs/service.js'
import { chunksOf, fetchBlobs, uploadPack, type BlobRange } from '../../../../src/cache/packs/transfer.js'
import { runtimeToken, startCacheService, type CacheService } from '../../../support/cache-service.js'

const MASTER = 'refs/heads/master'
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'packs-'))
let service: CacheService
let packs: PackService

beforeAll(async () => {
  service = await startCacheService({ blobHost: '127.0.0.1' })
  packs = new PackService(service.url, runtimeToken([{ scope: MASTER, permission: 3 }]))
})

afterAll(async () => {
  await service.close()
  fs.rmSync(tmp, { recursive: true, force: true })
})

function file(name: string, content: Buffer): { path: string; size: number; digest: string; content: Buffer } {
  const p = path.join(tmp, name)
  fs.writeFileSync(p, content)
  return {
    path: p,
    size: content.length,
    content,
    digest: `sha256:${createHash('sha256').update(content).digest('hex')}`
  }
}

async function stored(key: string, files: Array<{ path: string; size: number }>): Promise<string> {
  const reservation = await packs.reserve(key)
  if (reservation.kind !== 'reserved') throw new Error(`not reserved: ${JSON.stringify(reservation)}`)
  await uploadPack(reservation.uploadUrl, files)
  const total = files.reduce((sum, f) => sum + f.size, 0)
  expect(await packs.finalize(key, total)).toBeUndefined()
  const found = await packs.lookup(key)
  if (found.kind !== 'hit') throw new Error(`not found: ${JSON.stringify(found)}`)
  return found.downloadUrl
}

function rangesOf(files: Array<ReturnType<typeof file>>, dir: string): BlobRange[] {
  let offset = 0
  return files.map(f => {
    const range = { digest: f.digest, size: f.size, offset, path: path.join(dir, f.digest.slice(7)) }
    offset += f.size
    return range
  })
}

describe('a pack', () => {
  const small = file('small', Buffer.from('{"config":true}'))
  const empty = file('empty', Buffer.alloc(0))
  const large = file('large', randomBytes(40 * 1024 * 1024 + 123))
  const tail = file('tail', randomBytes(5000))

  it('goes up in blocks and comes back, every blob byte for byte, in parallel ranges', async () => {
    const url = await stored('buildx/img/master/packs/one', [small, empty, large, tail])
    const calls = service.requests.filter(r => r.method === 'PutBlock').length
    expect(calls).toBeGreaterThanOrEqual(3)
    const dir = fs.mkdtempSync(path.join(tmp, 'out-'))
    const bytes = await fetchBlobs([{ url, ranges: rangesOf([small, empty, large, tail], dir) }])
    expect(bytes).toBe(small.size + large.size + tail.size)
    for (const f of [small, empty, large, tail]) {
      expect(fs.readFileSync(path.join(dir, f.digest.slice(7))).equals(f.content)).toBe(true)
    }
  })

  it('reads only the ranges of the blobs asked for', async () => {
    const url = await stored('buildx/img/master/packs/two', [large, tail])
    const dir = fs.mkdtempSync(path.join(tmp, 'out-'))
    const before = service.requests.length
    await fetchBlobs([{ url, ranges: rangesOf([large, tail], dir).slice(1) }])
    const gets = service.requests.slice(before).filter(r => r.method === 'GetBlob')
    expect(gets.map(r => r.range)).toEqual([{ start: large.size, end: large.size + tail.size - 1 }])
  })

  it('refuses a blob that arrives with other content, naming it', async () => {
    const url = await stored('buildx/img/master/packs/three', [small, tail])
    const dir = fs.mkdtempSync(path.join(tmp, 'out-'))
    const ranges = rangesOf([small, tail], dir).map(r => (r.size === tail.size ? { ...r, digest: small.digest } : r))
    await expect(fetchBlobs([{ url, ranges }])).rejects.toThrow(
      `blob ${small.digest} arrived with other content (${tail.digest})`
    )
  })

  it('is named once: a second reservation of the same key finds it held', async () => {
    await stored('buildx/img/master/packs/four', [small])
    expect(await packs.reserve('buildx/img/master/packs/four')).toEqual({ kind: 'exists' })
  })

  it('misses a key the service does not hold', async () => {
    expect(await packs.lookup('buildx/img/master/packs/none')).toEqual({ kind: 'miss' })
  })

  it('waits out a rate limit for as long as the service asks, then is reserved', async () => {
    const said: string[] = []
    const patient = new PackService(service.url, runtimeToken([{ scope: MASTER, permission: 3 }]), l => said.push(l))
    service.setFault({ kind: 'rate-limit', retryAfterSeconds: 1, methods: ['CreateCacheEntry'] })
    const lifted = new Promise(resolve => setTimeout(resolve, 1500)).then(() => service.setFault(undefined))
    const started = Date.now()
    const reservation = await patient.reserve('buildx/img/master/packs/five')
    await lifted
    expect(reservation.kind).toBe('reserved')
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    expect(said[0]).toMatch(/rate-limiting new entries; CreateCacheEntry again in \d+ s/)
  })
})

describe('chunksOf', () => {
  const range = (offset: number, size: number): BlobRange => ({ digest: '', size, offset, path: `/${offset}` })
  it('reads adjacent blobs together and cuts what is long into 16 MiB', () => {
    const mib = 1024 * 1024
    const chunks = chunksOf('u', [range(0, 10), range(10, 20 * mib), range(40 * mib, 5)])
    expect(chunks.map(c => [c.offset, c.count])).toEqual([
      [0, 16 * mib],
      [16 * mib, 20 * mib + 10 - 16 * mib],
      [40 * mib, 5]
    ])
    expect(chunks[0]?.blobs.map(b => b.offset)).toEqual([0, 10])
  })
})
