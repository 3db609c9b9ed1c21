// The local cache service, driven by the real @actions/cache client, and its
// blob storage spoken to as BuildKit's Go client speaks to it.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as cache from '@actions/cache'
import { createHash, randomBytes } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runtimeToken, startCacheService, type CacheService, type TokenScope } from '../support/cache-service.js'

jest.setTimeout(30_000)

const MAIN = 'refs/heads/main'
const mainToken = runtimeToken([{ scope: MAIN, permission: 3 }])
const featureToken = (branch: string): string =>
  runtimeToken([
    { scope: `refs/heads/${branch}`, permission: 3 },
    { scope: MAIN, permission: 1 }
  ])

const CLIENT_ENV = [
  'ACTIONS_CACHE_SERVICE_V2',
  'ACTIONS_RESULTS_URL',
  'ACTIONS_RUNTIME_TOKEN',
  'RUNNER_TEMP',
  'GITHUB_WORKSPACE',
  'GITHUB_SERVER_URL',
  'ACTIONS_CACHE_MODE',
  'SEGMENT_DOWNLOAD_TIMEOUT_MINS'
]
const savedEnv = Object.fromEntries(CLIENT_ENV.map(name => [name, process.env[name]]))

let service: CacheService
let root: string
let workspace: string
let output: string[]
let serial = 0

function useToken(token: string, target: CacheService = service): void {
  Object.assign(process.env, target.env(token))
}

function scopes(...list: TokenScope[]): string {
  return runtimeToken(list)
}

// A fresh key per test keeps tests independent on a shared service.
function uniqueKey(name: string): string {
  return `${name}-${process.pid}-${++serial}`
}

// A directory inside the workspace, passed to the client by absolute path:
// the client globs relative paths from the cwd but extracts into the workspace.
async function makeDir(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = join(workspace, name)
  await rm(dir, { recursive: true, force: true })
  for (const [file, content] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true })
    await writeFile(join(dir, file), content)
  }
  return dir
}

function warnings(): string[] {
  return output.filter(line => line.startsWith('::warning::'))
}

function calls(method: string, key?: string, target: CacheService = service): Array<CacheService['requests'][number]> {
  return target.requests.filter(r => r.method === method && (key === undefined || r.key === key))
}

// The client clears its timer on a download segment only when the segment
// succeeds: after a failed Azure SDK download it holds the process for the
// segment bound, 10 minutes unless this says less. A job's process exits; a
// test run's would wait.
const SEGMENT_MINUTES = '0.5'

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cache-service-test-'))
  workspace = join(root, 'workspace')
  await mkdir(workspace)
  await mkdir(join(root, 'runner-temp'))
  process.env.RUNNER_TEMP = join(root, 'runner-temp')
  process.env.GITHUB_WORKSPACE = workspace
  delete process.env.GITHUB_SERVER_URL
  delete process.env.ACTIONS_CACHE_MODE
  process.env.SEGMENT_DOWNLOAD_TIMEOUT_MINS = SEGMENT_MINUTES
  service = await startCacheService()
})

afterAll(async () => {
  await service.close()
  await rm(root, { recursive: true, force: true })
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
})

// The client reports through @actions/core, which writes workflow commands to stdout.
function captureOutput(): void {
  output = []
  jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    output.push(...String(chunk).split('\n').filter(Boolean))
    return true
  })
}

beforeEach(() => {
  captureOutput()
  service.setFault(undefined)
  useToken(mainToken)
})

afterEach(() => {
  jest.restoreAllMocks()
})

describe('save and restore', () => {
  it('restores an exact hit with its content', async () => {
    const key = uniqueKey('exact')
    const dir = await makeDir('exact', { 'a.txt': 'alpha', 'nested/b.bin': randomBytes(4096) })
    const original = await readFile(join(dir, 'nested/b.bin'))

    expect(await cache.saveCache([dir], key)).toBeGreaterThan(0)
    await rm(dir, { recursive: true })

    expect(await cache.restoreCache([dir], key)).toBe(key)
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('alpha')
    expect(await readFile(join(dir, 'nested/b.bin'))).toEqual(original)
    expect(service.entries()).toContainEqual(expect.objectContaining({ key, scope: MAIN }))
  })

  it('matches the primary key and restore keys as prefixes, newest first', async () => {
    const prefix = uniqueKey('prefix')
    const dir = await makeDir('prefix', { 'f.txt': 'one' })
    expect(await cache.saveCache([dir], `${prefix}-older`)).toBeGreaterThan(0)
    await writeFile(join(dir, 'f.txt'), 'two')
    expect(await cache.saveCache([dir], `${prefix}-newer`)).toBeGreaterThan(0)
    await rm(dir, { recursive: true })

    expect(await cache.restoreCache([dir], `${prefix}-`)).toBe(`${prefix}-newer`)
    expect(await cache.restoreCache([dir], `${prefix}-absent`, [`${prefix}-old`, `${prefix}-`])).toBe(`${prefix}-older`)
    expect(await readFile(join(dir, 'f.txt'), 'utf8')).toBe('one')
    expect(await cache.restoreCache([dir], `${prefix}-absent`, [`${prefix}-`])).toBe(`${prefix}-newer`)
  })

  it('misses an unknown key without throwing', async () => {
    const key = uniqueKey('unknown')
    expect(await cache.restoreCache([join(workspace, 'unknown')], key, [`${key}-`])).toBeUndefined()
    expect(calls('GetCacheEntryDownloadURL', key).at(-1)?.outcome).toBe('miss')
    expect(warnings()).toEqual([])
  })

  it('misses when the path string differs, since it is part of the version', async () => {
    const key = uniqueKey('version')
    const dir = await makeDir('version', { 'f.txt': 'v' })
    expect(await cache.saveCache([dir], key)).toBeGreaterThan(0)
    expect(await cache.restoreCache([`${dir}/`], key)).toBeUndefined()
    expect(await cache.restoreCache([dir], key)).toBe(key)
  })

  it('keeps entries immutable: a second save of the same key is refused', async () => {
    const key = uniqueKey('immutable')
    const dir = await makeDir('immutable', { 'f.txt': 'first' })
    expect(await cache.saveCache([dir], key)).toBeGreaterThan(0)
    await writeFile(join(dir, 'f.txt'), 'second')

    expect(await cache.saveCache([dir], key)).toBe(-1)
    expect(calls('CreateCacheEntry', key).map(r => r.outcome)).toEqual(['created', 'exists'])
    expect(output).toContainEqual(expect.stringContaining('another job may be creating this cache'))
    expect(service.entries().filter(e => e.key === key)).toHaveLength(1)

    await rm(dir, { recursive: true })
    await cache.restoreCache([dir], key)
    expect(await readFile(join(dir, 'f.txt'), 'utf8')).toBe('first')
  })

  it('uploads archives over 128 MiB as blocks and a block list', async () => {
    const key = uniqueKey('large')
    const dir = await makeDir('large', { 'noise.bin': randomBytes(140 * 1024 * 1024) })
    expect(await cache.saveCache([dir], key)).toBeGreaterThan(0)
    expect(calls('PutBlock', key).length).toBeGreaterThan(1)
    expect(calls('PutBlockList', key)).toHaveLength(1)
    await rm(dir, { recursive: true })

    expect(await cache.restoreCache([dir], key)).toBe(key)
    const entry = service.entries().find(e => e.key === key)
    expect(entry?.sizeBytes).toBeGreaterThan(128 * 1024 * 1024)
    await rm(dir, { recursive: true })
  }, 120_000)
})

describe('scopes', () => {
  it('lets a branch read the default branch but not a sibling branch', async () => {
    const mainKey = uniqueKey('from-main')
    const siblingKey = uniqueKey('from-sibling')
    const dir = await makeDir('scoped', { 'f.txt': 'x' })
    expect(await cache.saveCache([dir], mainKey)).toBeGreaterThan(0)
    useToken(featureToken('feature-b'))
    expect(await cache.saveCache([dir], siblingKey)).toBeGreaterThan(0)
    expect(service.entries()).toContainEqual(
      expect.objectContaining({ key: siblingKey, scope: 'refs/heads/feature-b' })
    )

    useToken(featureToken('feature-a'))
    expect(await cache.restoreCache([dir], mainKey)).toBe(mainKey)
    expect(calls('GetCacheEntryDownloadURL', mainKey).at(-1)?.scope).toBe(MAIN)
    expect(await cache.restoreCache([dir], siblingKey)).toBeUndefined()
  })

  it('prefers the current branch over the default branch', async () => {
    const key = uniqueKey('shadowed')
    const dir = await makeDir('shadowed', { 'f.txt': 'main' })
    expect(await cache.saveCache([dir], `${key}-main`)).toBeGreaterThan(0)
    useToken(featureToken('feature-c'))
    await writeFile(join(dir, 'f.txt'), 'feature')
    expect(await cache.saveCache([dir], `${key}-feature`)).toBeGreaterThan(0)

    expect(await cache.restoreCache([dir], `${key}-main`, [`${key}-`])).toBe(`${key}-feature`)
  })

  it('writes nothing with a read-only token', async () => {
    const key = uniqueKey('read-only')
    const dir = await makeDir('read-only', { 'f.txt': 'x' })
    useToken(scopes({ scope: MAIN, permission: 1 }))

    expect(await cache.saveCache([dir], key)).toBe(-1)
    expect(calls('CreateCacheEntry', key).map(r => r.outcome)).toEqual(['write-denied'])
    expect(calls('PutBlob', key)).toEqual([])
    expect(service.entries().some(e => e.key === key)).toBe(false)
    expect(warnings()).toContainEqual(expect.stringContaining('cache write denied:'))
  })

  it('denies a restore with a token that has no readable scope', async () => {
    useToken(scopes({ scope: MAIN, permission: 2 }))
    expect(await cache.restoreCache([join(workspace, 'x')], uniqueKey('write-only'))).toBeUndefined()
    expect(warnings()).toContainEqual(expect.stringContaining('cache read denied:'))
  })
})

describe('faults', () => {
  let key: string
  let dir: string

  beforeAll(async () => {
    key = uniqueKey('faulty')
    dir = await makeDir('faulty', { 'f.txt': 'payload', 'g.bin': randomBytes(256 * 1024) })
    useToken(mainToken)
    captureOutput()
    expect(await cache.saveCache([dir], key)).toBeGreaterThan(0)
    jest.restoreAllMocks()
  })

  beforeEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('truncate-download: the restore fails softly', async () => {
    service.setFault({ kind: 'truncate-download' })
    expect(await cache.restoreCache([dir], key)).toBeUndefined()
    expect(calls('GetBlob', key).at(-1)?.outcome).toBe('fault:truncate-download')
    expect(warnings()).toEqual([expect.stringContaining('Failed to restore')])
  })

  it('garbage-download: extraction fails and the restore reports a miss', async () => {
    service.setFault({ kind: 'garbage-download' })
    expect(await cache.restoreCache([dir], key)).toBeUndefined()
    expect(warnings()).toEqual([expect.stringContaining('Failed to restore')])
  })

  it('refuse: connections are refused, then served again on the same port', async () => {
    service.setFault({ kind: 'refuse' })
    expect(await cache.restoreCache([dir], key)).toBeUndefined()
    expect(warnings()).toEqual([expect.stringContaining('ECONNREFUSED')])
    await makeDir('faulty', { 'f.txt': 'payload' })
    expect(await cache.saveCache([dir], uniqueKey('refused'))).toBe(-1)

    service.setFault(undefined)
    expect(await cache.restoreCache([dir], key)).toBe(key)
  })

  it('refuse on one method resets the connection of that call only', async () => {
    service.setFault({ kind: 'refuse', methods: ['GetCacheEntryDownloadURL'] })
    expect(await cache.restoreCache([dir], key)).toBeUndefined()
    expect(warnings()).toEqual([expect.stringContaining('ECONNRESET')])
  })

  it('rate-limit: a save gives up at once and says so', async () => {
    service.setFault({ kind: 'rate-limit', retryAfterSeconds: 30, methods: ['CreateCacheEntry'] })
    await makeDir('faulty', { 'f.txt': 'payload' })
    expect(await cache.saveCache([dir], uniqueKey('limited'))).toBe(-1)
    expect(warnings()).toContainEqual(expect.stringContaining('rate limit will reset in 30 seconds'))
    expect(calls('CreateCacheEntry').at(-1)?.outcome).toBe('fault:rate-limit')
  })

  it('status: a 4xx lookup is not retried and reads as a miss', async () => {
    service.setFault({ kind: 'status', status: 403, methods: ['GetCacheEntryDownloadURL'] })
    expect(await cache.restoreCache([dir], key)).toBeUndefined()
    expect(calls('GetCacheEntryDownloadURL').filter(r => r.outcome === 'fault:status')).toHaveLength(1)
  })

  it('an entry stays invisible until its upload is finalized', async () => {
    const pending = uniqueKey('unfinalized')
    await makeDir('faulty', { 'f.txt': 'payload' })
    service.setFault({ kind: 'status', status: 400, methods: ['FinalizeCacheEntryUpload'] })
    expect(await cache.saveCache([dir], pending)).toBe(-1)
    expect(calls('PutBlob', pending).map(r => r.outcome)).toEqual(['uploaded'])

    service.setFault(undefined)
    expect(await cache.restoreCache([dir], pending)).toBeUndefined()
    expect(service.entries().some(e => e.key === pending)).toBe(false)
  })

  it('hang: the call never completes until the service closes', async () => {
    const hanging = await startCacheService()
    try {
      useToken(mainToken, hanging)
      hanging.setFault({ kind: 'hang' })
      let settled = false
      const restore = cache.restoreCache([dir], key).finally(() => (settled = true))
      await new Promise(resolve => setTimeout(resolve, 500))
      expect(settled).toBe(false)
      expect(hanging.requests.map(r => r.outcome)).toEqual(['fault:hang'])

      await hanging.close()
      expect(await restore).toBeUndefined()
    } finally {
      await hanging.close()
    }
  })
})

const AZURE_HOST = 'actionscache.blob.core.windows.net'
const MiB = 1024 * 1024

/** The blob host the service's URLs name, for the client to resolve to the service. */
async function resolvingBlobHost(): Promise<string> {
  const host = process.env.CACHE_SERVICE_BLOB_HOST || AZURE_HOST
  const how =
    `run the end-to-end tests through \`npm test\`, which runs them in a network namespace whose hosts file ` +
    `maps ${AZURE_HOST} to 127.0.0.1 and sets CACHE_SERVICE_BLOB_HOST=${AZURE_HOST}`
  if (!host.endsWith('.blob.core.windows.net'))
    throw new Error(
      `CACHE_SERVICE_BLOB_HOST=${host}: the client downloads with the Azure SDK only from a *.blob.core.windows.net host; ${how}.`
    )
  // Errors from node: built-ins come from outside the test's realm, where instanceof does not see them.
  const found = await lookup(host, { all: true }).then(
    addresses => ({ addresses, error: undefined }),
    (error: { message?: string }) => ({ addresses: [], error: String(error?.message ?? error) })
  )
  if (found.addresses.length === 0 || found.addresses.some(a => a.address !== '127.0.0.1')) {
    const seen = found.error ?? found.addresses.map(a => a.address).join(', ')
    throw new Error(
      `${host} does not resolve to 127.0.0.1 here (${seen}), so the cache client cannot reach the test service; ${how}.`
    )
  }
  return host
}

// Jest compares large buffers byte by byte, for minutes: their digests say the same.
function digest(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex')
}

/** A saved entry of incompressible content, larger than two of the SDK's 4 MiB ranges. */
async function saveLarge(
  target: CacheService,
  name: string,
  bytes: number
): Promise<{ key: string; dir: string; content: Buffer }> {
  const key = uniqueKey(name)
  const content = randomBytes(bytes)
  const dir = await makeDir(name, { 'payload.bin': content, 'note.txt': name })
  useToken(mainToken, target)
  expect(await cache.saveCache([dir], key)).toBeGreaterThan(0)
  await rm(dir, { recursive: true })
  return { key, dir, content }
}

function rangesOf(target: CacheService, key: string): Array<{ start: number; end: number }> {
  return calls('GetBlob', key, target).map(r => r.range ?? { start: -1, end: -1 })
}

function sizeOf(target: CacheService, key: string): number {
  return target.entries().find(e => e.key === key)?.sizeBytes ?? 0
}

describe('the download path GitHub serves: blob URLs on a *.blob.core.windows.net host', () => {
  let azure: CacheService

  beforeAll(async () => {
    azure = await startCacheService({ blobHost: await resolvingBlobHost() })
  })

  afterAll(async () => {
    await azure?.close()
  })

  afterEach(() => {
    azure?.setFault(undefined)
    process.env.SEGMENT_DOWNLOAD_TIMEOUT_MINS = SEGMENT_MINUTES
  })

  it('restores through Get Blob Properties and ranged GETs of 4 MiB, the same bytes as saved', async () => {
    const { key, dir, content } = await saveLarge(azure, 'sdk-path', 12 * MiB)

    expect(await cache.restoreCache([dir], key)).toBe(key)
    expect(digest(await readFile(join(dir, 'payload.bin')))).toBe(digest(content))
    expect(await readFile(join(dir, 'note.txt'), 'utf8')).toBe('sdk-path')

    expect(calls('GetBlobProperties', key, azure).map(r => r.outcome)).toEqual(['properties'])
    const gets = calls('GetBlob', key, azure)
    expect(gets.every(r => r.status === 206 && r.outcome === 'downloaded')).toBe(true)
    // Every byte of the archive asked for once, in pieces of at most 4 MiB.
    const ranges = rangesOf(azure, key).sort((a, b) => a.start - b.start)
    expect(ranges.length).toBeGreaterThanOrEqual(3)
    expect(ranges.every(r => r.end - r.start + 1 <= 4 * MiB)).toBe(true)
    expect(ranges[0].start).toBe(0)
    expect(ranges.at(-1)?.end).toBe(sizeOf(azure, key) - 1)
    for (let i = 1; i < ranges.length; i++) expect(ranges[i].start).toBe(ranges[i - 1].end + 1)
    expect(warnings()).toEqual([])
  })

  it('gives up on a download that stalls at the segment bound, with the client warning and nothing restored', async () => {
    const { key, dir } = await saveLarge(azure, 'sdk-stall', 12 * MiB)
    // 3 s instead of the default 10 minutes: the only bound the client has on a stalled range.
    process.env.SEGMENT_DOWNLOAD_TIMEOUT_MINS = '0.05'
    azure.setFault({ kind: 'stall-download', afterBytes: 64 * 1024 })

    const started = Date.now()
    expect(await cache.restoreCache([dir], key)).toBeUndefined()
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500)
    expect(warnings()).toEqual([
      '::warning::Failed to restore: Aborting cache download as the download time exceeded the timeout.'
    ])
    expect(calls('GetBlob', key, azure).length).toBeGreaterThanOrEqual(3)
    expect(calls('GetBlob', key, azure).every(r => r.outcome === 'fault:stall-download')).toBe(true)
    await expect(readFile(join(dir, 'payload.bin'))).rejects.toThrow('ENOENT')
  })

  it('gives up on a download cut short half-way, with the SDK words for a dropped connection', async () => {
    const { key, dir } = await saveLarge(azure, 'sdk-truncate', 12 * MiB)
    azure.setFault({ kind: 'truncate-download' })

    expect(await cache.restoreCache([dir], key)).toBeUndefined()
    expect(warnings()).toEqual(['::warning::Failed to restore: The operation was aborted.'])
    expect(rangesOf(azure, key).length).toBeGreaterThanOrEqual(2)
    await expect(readFile(join(dir, 'payload.bin'))).rejects.toThrow('ENOENT')
  })

  it('fails the extraction of a download that is half noise', async () => {
    const { key, dir } = await saveLarge(azure, 'sdk-garbage', 12 * MiB)
    azure.setFault({ kind: 'garbage-download' })

    expect(await cache.restoreCache([dir], key)).toBeUndefined()
    expect(warnings()).toEqual([expect.stringMatching(/^::warning::Failed to restore: .*tar.* failed with exit code/)])
  })

  it('completes a slow download whose pace holds over all its ranges at once', async () => {
    const { key, dir, content } = await saveLarge(azure, 'sdk-throttle', 12 * MiB)
    const bytesPerSecond = 2 * MiB
    azure.setFault({ kind: 'throttle-download', bytesPerSecond })

    const started = Date.now()
    expect(await cache.restoreCache([dir], key)).toBe(key)
    const seconds = (Date.now() - started) / 1000
    expect(digest(await readFile(join(dir, 'payload.bin')))).toBe(digest(content))
    expect(calls('GetBlob', key, azure).every(r => r.outcome === 'fault:throttle-download')).toBe(true)
    // Paced per connection, three ranges at once would take a third of this.
    expect(seconds).toBeGreaterThanOrEqual((sizeOf(azure, key) / bytesPerSecond) * 0.75)
    expect(warnings()).toEqual([])
  })
})

describe('the fallback download path: blob URLs on 127.0.0.1', () => {
  it('restores with one GET of the whole blob, and no Get Blob Properties', async () => {
    const loopback = await startCacheService({ blobHost: '127.0.0.1' })
    try {
      const { key, dir, content } = await saveLarge(loopback, 'fallback', 12 * MiB)

      expect(await cache.restoreCache([dir], key)).toBe(key)
      expect(digest(await readFile(join(dir, 'payload.bin')))).toBe(digest(content))
      expect(calls('GetBlobProperties', key, loopback)).toEqual([])
      const gets = calls('GetBlob', key, loopback)
      expect(gets.map(r => [r.outcome, r.status])).toEqual([['downloaded', 200]])
      expect(gets[0].range).toBeUndefined()
    } finally {
      await loopback.close()
    }
  })
})

interface BlobAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/**
 * One request to a blob URL, sent to the service on 127.0.0.1 with the URL's
 * host in the Host header, as a client that resolved that host would send it.
 */
function blobRequest(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: Buffer
): Promise<BlobAnswer> {
  const target = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        method,
        path: `${target.pathname}${target.search}`,
        headers: { host: target.host, ...headers }
      },
      res => {
        const chunks: Buffer[] = []
        res.on('data', chunk => chunks.push(chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
        res.on('error', reject)
      }
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function twirp(
  target: CacheService,
  method: string,
  body: Record<string, unknown>
): Promise<Record<string, string>> {
  const res = await fetch(`${target.url}/twirp/github.actions.results.api.v1.CacheService/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${mainToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  expect(res.status).toBe(200)
  return (await res.json()) as Record<string, string>
}

describe('blob reads, answered as Azure Blob storage answers them', () => {
  let azure: CacheService
  const content = randomBytes(1000)
  let downloadUrl = ''
  let uploadUrl = ''

  // Stored the way BuildKit's client stores a blob: a block, then the block list.
  beforeAll(async () => {
    azure = await startCacheService({ blobHost: AZURE_HOST })
    const key = uniqueKey('raw-blob')
    const version = 'v1'
    uploadUrl = (await twirp(azure, 'CreateCacheEntry', { key, version })).signed_upload_url
    const block = Buffer.from('block-0').toString('base64')
    const staged = await blobRequest(`${uploadUrl}&comp=block&blockid=${encodeURIComponent(block)}`, 'PUT', {}, content)
    expect(staged.status).toBe(201)
    const list = `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>${block}</Latest></BlockList>`
    expect((await blobRequest(`${uploadUrl}&comp=blocklist`, 'PUT', {}, Buffer.from(list))).status).toBe(201)
    await twirp(azure, 'FinalizeCacheEntryUpload', { key, version, size_bytes: String(content.length) })
    downloadUrl = (await twirp(azure, 'GetCacheEntryDownloadURL', { key, version })).signed_download_url
  })

  afterAll(async () => {
    await azure?.close()
  })

  it('hands out host-style URLs: the account as the first label of the host, the container first in the path', () => {
    const url = new URL(downloadUrl)
    expect(url.hostname).toBe(AZURE_HOST)
    expect(url.protocol).toBe('http:')
    expect(url.pathname).toMatch(/^\/actions-cache\/[A-Za-z0-9._-]+$/)
    expect(new URL(uploadUrl).hostname).toBe(AZURE_HOST)
  })

  it('describes the blob on Get Blob Properties with what the SDKs read', async () => {
    const answer = await blobRequest(downloadUrl, 'HEAD', { 'x-ms-version': '2026-02-06' })
    expect(answer.status).toBe(200)
    expect(answer.body.length).toBe(0)
    expect(answer.headers).toMatchObject({
      'content-length': String(content.length),
      'x-ms-blob-type': 'BlockBlob',
      'accept-ranges': 'bytes',
      'x-ms-version': '2026-02-06'
    })
    expect(answer.headers.etag).toMatch(/^"0x[0-9A-F]+"$/)
    expect(answer.headers['x-ms-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(Number.isNaN(Date.parse(String(answer.headers['last-modified'])))).toBe(false)
    expect(azure.requests.at(-1)).toMatchObject({ method: 'GetBlobProperties', outcome: 'properties' })
  })

  it('answers x-ms-range and Range with 206 and Content-Range, an open end meaning the rest, x-ms-range first', async () => {
    const ranged = await blobRequest(downloadUrl, 'GET', { 'x-ms-range': 'bytes=10-19' })
    expect(ranged.status).toBe(206)
    expect(ranged.headers['content-range']).toBe(`bytes 10-19/${content.length}`)
    expect(ranged.headers['content-length']).toBe('10')
    expect(ranged.body).toEqual(content.subarray(10, 20))
    expect(azure.requests.at(-1)).toMatchObject({ method: 'GetBlob', status: 206, range: { start: 10, end: 19 } })

    // BuildKit's client resumes a blob from an offset to its end.
    const rest = await blobRequest(downloadUrl, 'GET', { range: 'bytes=990-' })
    expect(rest.status).toBe(206)
    expect(rest.headers['content-range']).toBe(`bytes 990-999/${content.length}`)
    expect(rest.body).toEqual(content.subarray(990))

    const both = await blobRequest(downloadUrl, 'GET', { 'x-ms-range': 'bytes=0-3', range: 'bytes=4-7' })
    expect(both.body).toEqual(content.subarray(0, 4))

    const past = await blobRequest(downloadUrl, 'GET', { 'x-ms-range': 'bytes=995-5000' })
    expect(past.headers['content-range']).toBe(`bytes 995-999/${content.length}`)
    expect(past.body).toEqual(content.subarray(995))
  })

  it('answers a GET without a range with the whole blob, and a range past its end with 416', async () => {
    const whole = await blobRequest(downloadUrl, 'GET')
    expect(whole.status).toBe(200)
    expect(whole.headers['content-range']).toBeUndefined()
    expect(whole.body).toEqual(content)

    const beyond = await blobRequest(downloadUrl, 'GET', { 'x-ms-range': `bytes=${content.length}-` })
    expect(beyond.status).toBe(416)
    expect(beyond.headers['x-ms-error-code']).toBe('InvalidRange')
    expect(beyond.headers['content-range']).toBe(`bytes */${content.length}`)
  })

  it('refuses a range retried against another version of the blob, as If-Match asks', async () => {
    const { etag } = (await blobRequest(downloadUrl, 'HEAD')).headers
    const same = await blobRequest(downloadUrl, 'GET', { 'x-ms-range': 'bytes=0-9', 'if-match': String(etag) })
    expect(same.status).toBe(206)
    const other = await blobRequest(downloadUrl, 'GET', { 'x-ms-range': 'bytes=0-9', 'if-match': '"0x0"' })
    expect(other.status).toBe(412)
    expect(other.headers['x-ms-error-code']).toBe('ConditionNotMet')
  })

  it('takes the same signed URL path-style on 127.0.0.1, and checks its signature and permission either way', async () => {
    const url = new URL(downloadUrl)
    const pathStyle = `http://127.0.0.1:${url.port}/actionscache${url.pathname}${url.search}`
    expect((await blobRequest(pathStyle, 'GET')).body).toEqual(content)

    const forged = new URL(downloadUrl)
    forged.searchParams.set('sig', Buffer.from('forged').toString('base64'))
    expect((await blobRequest(forged.href, 'GET')).status).toBe(403)
    // The signature covers the account, so another account's name does not pass.
    const otherAccount = `http://127.0.0.1:${url.port}/otheraccount${url.pathname}${url.search}`
    expect((await blobRequest(otherAccount, 'GET')).status).toBe(403)
    // An upload URL lets one write, not read.
    expect((await blobRequest(uploadUrl, 'GET')).status).toBe(403)
  })

  it('takes its blob host from CACHE_SERVICE_BLOB_HOST when not given one, else names 127.0.0.1 path-style', async () => {
    const saved = process.env.CACHE_SERVICE_BLOB_HOST
    const uploadHost = async (): Promise<URL> => {
      const started = await startCacheService()
      try {
        const reply = await twirp(started, 'CreateCacheEntry', { key: uniqueKey('default-host'), version: 'v1' })
        return new URL(reply.signed_upload_url)
      } finally {
        await started.close()
      }
    }
    try {
      process.env.CACHE_SERVICE_BLOB_HOST = AZURE_HOST
      expect((await uploadHost()).hostname).toBe(AZURE_HOST)
      delete process.env.CACHE_SERVICE_BLOB_HOST
      const plain = await uploadHost()
      expect(plain.hostname).toBe('127.0.0.1')
      expect(plain.pathname).toMatch(/^\/devstoreaccount1\/actions-cache\/[A-Za-z0-9._-]+$/)
    } finally {
      if (saved === undefined) delete process.env.CACHE_SERVICE_BLOB_HOST
      else process.env.CACHE_SERVICE_BLOB_HOST = saved
    }
  })
})
