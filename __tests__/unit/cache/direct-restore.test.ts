// The index entry read without the cache client: entries the real
// @actions/cache saved (in a process of its own, as the action runs it),
// against the local stand-in of the cache service over HTTP. What the client
// would read is read the same; what it would fail on is left to it; what
// hangs is given up on at the client's bounds, in its words.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import { getCacheVersion } from '../../../node_modules/@actions/cache/lib/internal/cacheUtils.js'
import { CompressionMethod } from '../../../node_modules/@actions/cache/lib/internal/constants.js'
import { clientEntryVersion, restoreDirectly } from '../../../src/cache/direct-restore.js'
import { MANIFEST_FILE, renderManifest } from '../../../src/cache/packs/manifest.js'
import { PackService } from '../../../src/cache/packs/service.js'
import { uploadPack } from '../../../src/cache/packs/transfer.js'
import { TimeoutError } from '../../../src/time-limit.js'
import { runtimeToken, startCacheService, type CacheService } from '../../support/cache-service.js'

const MASTER = 'refs/heads/master'
const token = runtimeToken([{ scope: MASTER, permission: 3 }])
const CLIENT = pathToFileURL(path.resolve('node_modules/@actions/cache/lib/cache.js')).href
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'direct-restore-'))
const bounds = { callSeconds: 1, stallSeconds: 2 }
let service: CacheService
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  // The client compresses with zstd where it is installed, and the entries
  // read here are those: `npm test` installs it with the engines.
  const zstd = spawnSync('zstd', ['--version'])
  if (zstd.status !== 0)
    throw new Error('zstd is not installed: run the tests through `npm test`, whose setup installs it.')
  service = await startCacheService({ blobHost: '127.0.0.1' })
  env = { ...service.env(token), GITHUB_SERVER_URL: 'https://github.com' }
})

afterEach(() => service.setFault(undefined))

afterAll(async () => {
  await service.close()
  fs.rmSync(tmp, { recursive: true, force: true })
})

/** Saves `files` as the folder `name` under `key`, with the real client in a process of its own. */
async function savedByClient(name: string, key: string, files: Record<string, string>): Promise<void> {
  const workRoot = fs.mkdtempSync(path.join(tmp, 'save-'))
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(workRoot, name, file)), { recursive: true })
    fs.writeFileSync(path.join(workRoot, name, file), content)
  }
  const script = `const cache = await import(${JSON.stringify(CLIENT)}); const id = await cache.saveCache([${JSON.stringify(name)}], ${JSON.stringify(key)}); if (id === -1) process.exit(3)`
  // Not synchronously: the service it talks to runs in this process.
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: workRoot,
    env: { PATH: process.env.PATH, ...env, GITHUB_WORKSPACE: workRoot, RUNNER_TEMP: workRoot }
  })
}

function request(name: string, key: string, restoreKeys: string[] = []) {
  return { paths: [name], key, restoreKeys, workRoot: fs.mkdtempSync(path.join(tmp, 'restore-')) }
}

describe('the version of an entry', () => {
  it('is the one @actions/cache gives it, so that a lookup finds what the client saved', () => {
    expect(clientEntryVersion(['ci-image'])).toBe(getCacheVersion(['ci-image'], CompressionMethod.ZstdWithoutLong))
    expect(clientEntryVersion(['ci-image'], 'win32')).not.toBe(clientEntryVersion(['ci-image'], 'linux'))
  })
})

describe('a restore without the client', () => {
  it('unpacks what the client saved, found by a restore key, and looks up the packs its manifest names', async () => {
    const packs = new PackService(service.url, token)
    const reserved = await packs.reserve('buildx/img/master/packs/p1')
    if (reserved.kind !== 'reserved') throw new Error(`not reserved: ${JSON.stringify(reserved)}`)
    const blob = path.join(tmp, 'blob')
    fs.writeFileSync(blob, 'a blob')
    await uploadPack(reserved.uploadUrl, [{ path: blob, size: 6 }])
    expect(await packs.finalize('buildx/img/master/packs/p1', 6)).toBeUndefined()
    const manifest = renderManifest({ packs: [{ key: 'buildx/img/master/packs/p1', sizeBytes: 6 }], blobs: [] })
    await savedByClient('img', 'buildx/img/master/abc/1', {
      'index.json': '{"manifests":[]}\n',
      [MANIFEST_FILE]: manifest
    })

    const asked = request('img', 'buildx/img/master/def/', ['buildx/img/master/'])
    const restored = await restoreDirectly(asked, env, bounds)
    expect(restored).toMatchObject({ kind: 'hit', matchedKey: 'buildx/img/master/abc/1', blobs: { kind: 'located' } })
    if (restored.kind !== 'hit' || restored.blobs.kind !== 'located') throw new Error('not located')
    expect(restored.blobs.urls).toHaveLength(1)
    expect(fs.readFileSync(path.join(asked.workRoot, 'img', 'index.json'), 'utf8')).toBe('{"manifests":[]}\n')
    expect(fs.readFileSync(path.join(asked.workRoot, 'img', MANIFEST_FILE), 'utf8')).toBe(manifest)
  })

  it('says a whole layout is whole, and a pack the service lost is gone', async () => {
    await savedByClient('whole', 'buildx/whole/master/abc/1', { 'index.json': '{}\n', 'oci-layout': '{}\n' })
    expect(await restoreDirectly(request('whole', 'buildx/whole/master/abc/'), env, bounds)).toMatchObject({
      kind: 'hit',
      blobs: { kind: 'whole' }
    })
    const manifest = renderManifest({ packs: [{ key: 'buildx/lost/master/packs/none', sizeBytes: 0 }], blobs: [] })
    await savedByClient('lost', 'buildx/lost/master/abc/1', { 'index.json': '{}\n', [MANIFEST_FILE]: manifest })
    const lost = await restoreDirectly(request('lost', 'buildx/lost/master/abc/'), env, bounds)
    expect(lost).toMatchObject({ kind: 'hit', blobs: { kind: 'failed' } })
    if (lost.kind === 'hit' && lost.blobs.kind === 'failed') expect(lost.blobs.problem).toMatch(/is gone/)
  })

  it('answers a miss as a miss, and finds nothing of another version', async () => {
    expect(
      await restoreDirectly(request('img', 'buildx/img/feature/x/', ['buildx/img/feature/']), env, bounds)
    ).toEqual({
      kind: 'miss'
    })
    // The same key under another path is another version: the client would not find it either.
    expect(await restoreDirectly(request('other', 'buildx/img/master/abc/'), env, bounds)).toEqual({ kind: 'miss' })
  })

  it('is unsure of a failing service, a refused connection and an archive tar rejects: the client, with its retries, does those again', async () => {
    await savedByClient('noise', 'buildx/noise/master/abc/1', { 'index.json': '{}\n' })
    service.setFault({ kind: 'status', status: 503 })
    expect(await restoreDirectly(request('noise', 'buildx/noise/master/abc/'), env, bounds)).toMatchObject({
      kind: 'unsure',
      why: 'the lookup answered HTTP 503'
    })
    service.setFault({ kind: 'random-download' })
    const noise = await restoreDirectly(request('noise', 'buildx/noise/master/abc/'), env, bounds)
    expect(noise).toMatchObject({ kind: 'unsure' })
    if (noise.kind === 'unsure') expect(noise.why).toMatch(/^tar exited with code [1-9]/)
    service.setFault({ kind: 'refuse' })
    expect(await restoreDirectly(request('noise', 'buildx/noise/master/abc/'), env, bounds)).toMatchObject({
      kind: 'unsure'
    })
  })

  it('gives up on a lookup that never answers at the call bound, in the words of the client', async () => {
    service.setFault({ kind: 'hang', methods: ['GetCacheEntryDownloadURL'] })
    const started = Date.now()
    const given = restoreDirectly(request('img', 'buildx/img/master/abc/'), env, bounds)
    await expect(given).rejects.toThrow(TimeoutError)
    await expect(given).rejects.toThrow('The cache service did not answer the lookup of the cache entry within 1 s')
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('gives up on an archive that stops arriving at the stall bound', async () => {
    await savedByClient('stall', 'buildx/stall/master/abc/1', { 'index.json': '{}\n' })
    service.setFault({ kind: 'stall-download', afterBytes: 10 })
    await expect(restoreDirectly(request('stall', 'buildx/stall/master/abc/'), env, bounds)).rejects.toThrow(
      'The cache download stopped: nothing arrived for 2 s'
    )
  })

  it('is left to the client where the service has no v2 API', async () => {
    const v1 = { ...env, ACTIONS_CACHE_SERVICE_V2: '' }
    expect(await restoreDirectly(request('img', 'buildx/img/master/abc/'), v1, bounds)).toMatchObject({
      kind: 'unsure'
    })
  })
})
