// The local cache service, driven by the real @actions/cache client.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as cache from '@actions/cache'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
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
  'ACTIONS_CACHE_MODE'
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

function calls(method: string, key?: string): Array<CacheService['requests'][number]> {
  return service.requests.filter(r => r.method === method && (key === undefined || r.key === key))
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cache-service-test-'))
  workspace = join(root, 'workspace')
  await mkdir(workspace)
  await mkdir(join(root, 'runner-temp'))
  process.env.RUNNER_TEMP = join(root, 'runner-temp')
  process.env.GITHUB_WORKSPACE = workspace
  delete process.env.GITHUB_SERVER_URL
  delete process.env.ACTIONS_CACHE_MODE
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
