// The gha store moves only what changed: an entry is the layout's index and
// a manifest of packs, and each save uploads one pack of the blobs no held
// pack has. Real engine, the real client for the index, the storage SDK for
// packs, the local cache service; each test checks what the service holds.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as cache from '@actions/cache'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { MANIFEST_FILE } from '../../src/cache/packs/manifest.js'
import { withClient } from '../support/client.js'
import { uniqueWorkspaceFrom } from '../support/engine.js'
import { indexEntries, isPack, packEntries } from '../support/entries.js'
import { pullRequestInto, pushTo, writer } from '../support/events.js'
import { freshJob, leftovers, type JobOutcome } from '../support/fresh-job.js'
import type { EventSpec } from '../support/run-action.js'
import { startCacheService, type CacheService, type TokenScope } from '../support/cache-service.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(300_000)

const service = cacheServiceForFile()
const IMAGE = 'packs-image'
const workspace = uniqueWorkspaceFrom('ci-image')
// A layer of some size that no change below touches, so that a save after a
// change has a great deal it need not upload: the data step's 2 MiB that
// changes stays under a tenth of the pack (past it, the pack is written again).
const dockerfile = fs.readFileSync(path.join(workspace, 'Dockerfile'), 'utf8')
fs.writeFileSync(
  path.join(workspace, 'Dockerfile'),
  dockerfile.replace(
    /^(RUN \["\/bin\/busybox", "--install".*\n)/m,
    '$1RUN ["/bin/busybox", "dd", "if=/dev/urandom", "of=/tools.bin", "bs=1M", "count=30"]\n'
  )
)

interface Job {
  event?: EventSpec
  scopes?: TokenScope[]
  inputs?: Record<string, string>
}

const job = (spec: Job = {}): Promise<JobOutcome> =>
  freshJob(service, {
    workspace,
    image: IMAGE,
    inputs: { image: IMAGE, ...spec.inputs },
    event: spec.event ?? pushTo('master'),
    scopes: spec.scopes ?? writer('master')
  })

function expectBuilt(r: JobOutcome): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.post?.exitCode).toBe(0)
  expect(leftovers(r.runnerTemp)).toEqual([])
}

const ofImage = (e: { key: string }): boolean => e.key.startsWith(`buildx/${IMAGE}/`)
const uploaded = (r: JobOutcome): number =>
  Number(/; ([\d.]+) (MB|kB) uploaded\)/.exec(r.post?.log ?? '')?.[1] ?? Number.NaN)
const downloadedBytes = (r: JobOutcome): number =>
  r.calls
    .filter(c => c.method === 'GetBlob' && c.range && isPack({ key: c.key ?? '' }))
    .reduce((sum, c) => sum + ((c.range?.end ?? 0) - (c.range?.start ?? 0) + 1), 0)

describe('entries of packs', () => {
  let firstPack = { key: '', sizeBytes: 0 }

  it('stores a cold build as one pack holding the layers and a small index entry', async () => {
    const r = await job()
    expectBuilt(r)
    const packs = packEntries(service).filter(ofImage)
    const indexes = indexEntries(service).filter(ofImage)
    expect(packs).toHaveLength(1)
    expect(indexes).toHaveLength(1)
    firstPack = packs[0] as (typeof packs)[number]
    expect(firstPack.sizeBytes).toBeGreaterThan(30 * 1024 * 1024)
    // Every blob of the exported cache, which also holds a few small files of BuildKit's.
    expect(firstPack.sizeBytes).toBeLessThanOrEqual(Number(r.main.outputs['cache-size']))
    expect(firstPack.sizeBytes).toBeGreaterThan(0.99 * Number(r.main.outputs['cache-size']))
    // The index is index.json and the manifest, archived: kilobytes.
    expect(indexes[0]?.sizeBytes).toBeLessThan(16 * 1024)
    expect(r.post?.log).toMatch(/Uploading [\d.]+ MB of new blobs; 0\.0 MB are held by the cache service already\./)
    expect(r.summary).toMatch(/MB in [\d.]+ s \([\d.]+ MB\/s, [\d.]+ MB uploaded\)/)
  })

  it('gives a fresh runner every blob in ranged reads of the pack, and writes nothing', async () => {
    const r = await job()
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cached-steps': '8/8' })
    expect(downloadedBytes(r)).toBe(firstPack.sizeBytes)
    expect(r.main.log).toMatch(
      /The entry's \d+ blobs \([\d.]+ MB\) from 1 pack\(s\) are read by the builder as it needs them/
    )
    expect(r.summary).toMatch(/index in [\d.]+ s; [\d.]+ MB of [\d.]+ MB read by the builder during the build/)
    expect(r.writes).toBe(0)
  })

  it('gives a pull request the same, and it writes nothing', async () => {
    const r = await job(pullRequestInto('master', 5))
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'base-branch', 'cached-steps': '8/8' })
    expect(r.writes).toBe(0)
  })

  it('uploads after a late change only the blobs that changed, and names the first pack for the rest', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'second\n')
    const r = await job()
    expectBuilt(r)
    expect(r.main.outputs['cache-source']).toBe('branch')
    const packs = packEntries(service).filter(ofImage)
    expect(packs).toHaveLength(2)
    const added = packs.find(p => p.key !== firstPack.key)
    // The data step's 2 MiB layer and the index, not the 30 MiB of tools.
    expect(added?.sizeBytes).toBeLessThan(firstPack.sizeBytes / 8)
    expect(uploaded(r)).toBeLessThan(4)
    expect(r.saves).toBe(1)
    // The export went back to the server that served the entry: only the new blobs reached the runner's disk.
    expect(r.main.log).toMatch(
      /The builder exported \d\.\d+ MB of new blobs; the \d+ it found in the restored entry \(\d+\.\d+ MB\) stay in their packs/
    )

    // The next fresh runner reads both packs: the old one for what did not change.
    const next = await job()
    expectBuilt(next)
    expect(next.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cached-steps': '8/8' })
    expect(next.main.log).toContain('from 2 pack(s)')
  })

  it('keeps a matrix apart: another image uploads its own pack and reads none of ours', async () => {
    const other = 'packs-other'
    const r = await freshJob(service, {
      workspace,
      image: other,
      inputs: { image: other },
      event: pushTo('master'),
      scopes: writer('master')
    })
    expectBuilt(r)
    expect(r.main.outputs['cache-source']).toBe('none')
    expect(packEntries(service).filter(e => e.key.startsWith(`buildx/${other}/master/packs/`))).toHaveLength(1)
  })

  it('writes a mostly dead pack again from what the builder left in the packs, and the next runner is whole', async () => {
    // The 30 MiB tools layer is rebuilt with other bytes: most of the first pack is no longer named.
    const file = path.join(workspace, 'Dockerfile')
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('count=30', 'count=29'))
    const r = await job()
    expectBuilt(r)
    expect(r.main.outputs['cache-source']).toBe('branch')
    expect(r.post?.log).toMatch(/Writing again the live blobs of \d+ pack\(s\)/)
    expect(r.saves).toBe(1)
    const next = await job()
    expectBuilt(next)
    expect(next.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cached-steps': '8/8' })
    // The first pack is named by no entry now: the newest reads none of it.
    expect(next.calls.some(c => c.method === 'GetBlob' && c.key === firstPack.key)).toBe(false)
  })
})

describe('a pack that is damaged or gone', () => {
  /** Saves a newer generation of the newest entry with its manifest changed by `change`. */
  async function plantChanged(change: (manifest: Record<string, unknown>) => void): Promise<string> {
    const newest = indexEntries(service)
      .filter(e => ofImage(e) && e.scope === 'refs/heads/master')
      .at(-1)
    const planted = `${newest?.key.split('/').slice(0, 4).join('/')}/zzzzzzzzz${Math.random().toString(36).slice(2, 6)}`
    await withClient(service, writer('master'), async dir => {
      expect(await cache.restoreCache([`${IMAGE}`], newest?.key ?? '')).toBe(newest?.key)
      const file = path.join(dir, IMAGE, MANIFEST_FILE)
      const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>
      change(manifest)
      fs.writeFileSync(file, JSON.stringify(manifest))
      expect(await cache.saveCache([IMAGE], planted)).toBeGreaterThan(0)
    })
    return planted
  }

  it('is a warning when a pack is gone; master uploads every blob again and the next runner is whole', async () => {
    const planted = await plantChanged(m => {
      const packs = m.packs as Array<{ key: string }>
      packs[0] = { ...packs[0], key: `buildx/${IMAGE}/master/packs/${'0'.repeat(64)}` }
    })
    const r = await job()
    expectBuilt(r)
    expect(r.warnings.join('\n')).toContain(
      `The entry ${planted} could not be used (its pack buildx/${IMAGE}/master/packs/${'0'.repeat(64)} is gone from the cache service); building without it.`
    )
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'none', 'cache-stale': 'true' })
    expect(r.post?.log).toMatch(/Uploading [\d.]+ MB of new blobs; 0\.0 MB are held/)
    expect(r.saves).toBe(1)

    const after = await job()
    expectBuilt(after)
    expect(after.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cached-steps': '8/8' })
  })

  it('is a warning when a blob arrives with other content, and the build does not use it', async () => {
    const planted = await plantChanged(m => {
      const blobs = m.blobs as Array<{ offset: number; size: number }>
      const big = blobs.reduce((a, b) => (b.size > a.size ? b : a))
      big.offset = big.offset === 0 ? 1 : big.offset - 1
    })
    const r = await job(pullRequestInto('master', 9))
    expectBuilt(r)
    // The blob is cut short before its last bytes reach the builder, which gives up on the cache.
    expect(r.warnings.join('\n')).toMatch(
      new RegExp(
        `The build could not read all of the restored entry ${planted}: blob sha256:[a-f0-9]{64} arrived with other content`
      )
    )
    expect(r.main.outputs['cached-steps']).toBe('0/8')
    expect(r.main.outputs['cache-source']).toBe('none')
    expect(r.writes).toBe(0)
  })

  it('gives up on a pack download that stops moving at the stall bound, and builds', async () => {
    // The index (kilobytes) comes through; the pack stops after 1 MB.
    service.setFault({ kind: 'stall-download', afterBytes: 1024 * 1024 })
    try {
      const r = await job({ ...pullRequestInto('master', 11), inputs: { 'stall-timeout': '4' } })
      expectBuilt(r)
      // The builder reads the pack during the build; the read that stalls is given up on, and so is the cache.
      expect(r.warnings.join('\n')).toMatch(/could not be read from its pack: nothing arrived for 4 s/)
      expect(r.main.outputs['cache-source']).toBe('none')
      expect(r.seconds).toBeLessThan(60)
      expect(r.writes).toBe(0)
    } finally {
      service.setFault(undefined)
    }
  })
})

describe('the rate limit on new entries', () => {
  // One new entry per 3 s window: the pack takes it, the entry is refused
  // until the window slides, as a matrix that saves at once meets the
  // service's 200 a minute.
  let limited: CacheService
  beforeAll(async () => {
    limited = await startCacheService({ createLimit: { perMinute: 1, windowSeconds: 3 } })
  })
  afterAll(async () => {
    await limited.close()
  })

  it('waits for the service and saves, with the pack and the entry both stored', async () => {
    const r = await freshJob(limited, {
      workspace,
      image: 'packs-limited',
      inputs: { image: 'packs-limited' },
      event: pushTo('master'),
      scopes: writer('master')
    })
    expectBuilt(r)
    expect(r.calls.some(c => c.outcome === 'rate-limited')).toBe(true)
    expect(r.post?.log).toMatch(/The cache service is rate-limiting new entries; saving again in \d+ s\./)
    expect(r.post?.log).toContain('Cache saved with key:')
    expect(r.warnings).toEqual([])
    expect(indexEntries(limited)).toHaveLength(1)
    expect(packEntries(limited)).toHaveLength(1)
  })
})
