// The local backend's directory, on the real file system: a root that cannot
// be read is said so, what killed jobs leave in .incoming goes away, and a
// damaged entry is passed over, then replaced.
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { cacheProblem } from '../../../src/cache/integrity.js'
import { LocalCacheStore } from '../../../src/cache/local.js'
import { keyPlan, type KeyPlan } from '../../../src/key/key.js'
import { writeLayeredCache } from '../../support/local-cache.js'
import { captureStdout } from '../../support/stdout.js'

const plan = keyPlan({ prefix: 'buildx', image: 'ci', branch: 'master', defaultBranch: 'master', hash: 'a'.repeat(64) })
const DAY = 24 * 60 * 60 * 1000

const stdout = captureStdout()
const warnings = (): string[] => stdout.warnings()
const scratch = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'local-store-'))

/** A complete buildx local cache of one small blob, as an export leaves it. */
function writeCache(dir: string): void {
  const blob = Buffer.from('layer')
  const digest = createHash('sha256').update(blob).digest('hex')
  const manifest = Buffer.from(
    JSON.stringify({
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${digest}`, size: blob.length }
      ]
    })
  )
  const manifestDigest = createHash('sha256').update(manifest).digest('hex')
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'blobs', 'sha256', digest), blob)
  fs.writeFileSync(path.join(dir, 'blobs', 'sha256', manifestDigest), manifest)
  const index = {
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${manifestDigest}`,
        size: manifest.length
      }
    ]
  }
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index))
}

function age(dir: string, ms: number): void {
  const then = new Date(Date.now() - ms)
  for (const p of [path.join(dir, 'index.json'), dir]) if (fs.existsSync(p)) fs.utimesSync(p, then, then)
}

describe('a cache root that cannot be read', () => {
  it('warns when cache-root is a file, and builds without a cache', async () => {
    const file = path.join(scratch(), 'not-a-directory')
    fs.writeFileSync(file, '')
    expect(await new LocalCacheStore(file, 'job').restore(plan)).toBeUndefined()
    expect(warnings()).toEqual([
      expect.stringMatching(
        /Could not read the cache root .*not-a-directory, building without a cache: it is not a directory/
      )
    ])
  })

  it('warns when the path cannot be resolved (a symlink loop)', async () => {
    const loop = path.join(scratch(), 'loop')
    fs.symlinkSync(loop, loop)
    expect(await new LocalCacheStore(loop, 'job').restore(plan)).toBeUndefined()
    expect(warnings()).toEqual([expect.stringContaining('ELOOP')])
  })

  it('warns when a folder below the root cannot be listed, rather than reading it as empty', async () => {
    const root = scratch()
    // The image's folder for this branch is a file: listing it fails with ENOTDIR.
    fs.mkdirSync(path.join(root, 'buildx', 'ci'), { recursive: true })
    fs.writeFileSync(path.join(root, 'buildx', 'ci', 'master'), '')
    expect(await new LocalCacheStore(root, 'job').restore(plan)).toBeUndefined()
    expect(warnings()).toEqual([expect.stringContaining('ENOTDIR')])
  })

  it('only says so, without a warning, when the root does not exist yet', async () => {
    expect(await new LocalCacheStore(path.join(scratch(), 'absent'), 'job').restore(plan)).toBeUndefined()
    expect(warnings()).toEqual([])
    expect(stdout.text()).toContain('does not exist yet')
  })

  it('restores from a readable root', async () => {
    const root = scratch()
    writeCache(path.join(root, plan.content))
    expect(await new LocalCacheStore(root, 'job').restore(plan)).toMatchObject({ matchedKey: plan.content })
    expect(warnings()).toEqual([])
  })
})

describe('leftovers in .incoming', () => {
  it("are removed by the next save when a day old, and fresh ones, and this job's export, are kept", async () => {
    const root = scratch()
    const incoming = path.join(root, '.incoming')
    const killed = path.join(incoming, 'killed-job')
    const running = path.join(incoming, 'running-job')
    const halfDiscarded = path.join(incoming, 'discarded-0123')
    for (const dir of [killed, running, halfDiscarded]) writeCache(dir)
    age(killed, 2 * DAY)
    age(running, 2 * 60 * 60 * 1000)

    const store = new LocalCacheStore(root, 'this-job')
    const to = await store.exportTo()
    if (to.type !== 'local') throw new Error('a local store exports to a directory')
    writeCache(to.dir)
    age(to.dir, 2 * DAY)
    expect(await store.save(plan)).toMatchObject({ saved: true, key: plan.content })

    expect(fs.readdirSync(incoming)).toEqual(['running-job'])
    expect(fs.existsSync(path.join(root, plan.content, 'index.json'))).toBe(true)
    expect(stdout.text()).toContain(
      `Removed 2 leftover directories of jobs that ended before their save from ${incoming}.`
    )
    expect(warnings()).toEqual([])
  })

  it("are removed even when the save itself fails, which leaves this job's export to the post step's clean-up", async () => {
    const root = scratch()
    const killed = path.join(root, '.incoming', 'killed-job')
    writeCache(killed)
    age(killed, 3 * DAY)
    const store = new LocalCacheStore(root, 'this-job')
    const to = await store.exportTo()
    if (to.type !== 'local') throw new Error('a local store exports to a directory')
    writeCache(to.dir)
    age(to.dir, 3 * DAY)
    // The image's folder is a file: the entry cannot be moved into place.
    fs.mkdirSync(path.join(root, 'buildx'))
    fs.writeFileSync(path.join(root, 'buildx', 'ci'), '')
    expect(await store.save(plan)).toMatchObject({ saved: false })
    expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual(['this-job'])
    expect(store.temporaryPaths()).toEqual([to.dir])
  })
})

/** A plan whose content key is `key` and whose one fallback is its branch's scope. */
function planFor(key: string): KeyPlan {
  const scope = key.slice(0, key.lastIndexOf('/') + 1)
  return {
    content: key,
    hash: key.slice(scope.length),
    lookup: `${key}/`,
    restoreKeys: [{ key: scope, source: 'branch', sameContent: false }]
  }
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'local-damaged-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))
describe('LocalCacheStore with damaged entries', () => {
  let root: string
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(tmp, 'root-'))
  })

  const warningText = (): string => stdout.warnings().join('\n')

  it('passes over a damaged entry with a warning and falls back to a complete one', async () => {
    writeLayeredCache(path.join(root, 'p/img/main/old'))
    fs.utimesSync(path.join(root, 'p/img/main/old'), 1, 1)
    const broken = writeLayeredCache(path.join(root, 'p/img/main/new'))
    fs.rmSync(broken.layer)
    const restored = await new LocalCacheStore(root, 'job').restore(planFor('p/img/main/new'))
    expect(restored?.matchedKey).toBe('p/img/main/old')
    expect(warningText()).toMatch(
      /Skipping the damaged cache entry p\/img\/main\/new in .* \(blob sha256:[a-f0-9]{64} is missing\)/
    )
  })

  it('reports a damaged entry under the exact key when nothing else serves, so that it gets replaced', async () => {
    const broken = writeLayeredCache(path.join(root, 'p/img/solo/k'))
    fs.truncateSync(broken.layer, 1)
    const restored = await new LocalCacheStore(root, 'job').restore(planFor('p/img/solo/k'))
    expect(restored).toMatchObject({
      matchedKey: 'p/img/solo/k',
      from: [],
      problem: expect.stringMatching(/has 1 bytes/)
    })
  })

  it('replaces a damaged entry under the same key on save', async () => {
    const broken = writeLayeredCache(path.join(root, 'p/img/main/k'))
    fs.truncateSync(broken.layer, 1)
    const store = new LocalCacheStore(root, 'job')
    const exported = await store.exportTo()
    writeLayeredCache(exported.type === 'local' ? exported.dir : '')
    expect(await store.save({ content: 'p/img/main/k' })).toMatchObject({ saved: true, key: 'p/img/main/k' })
    expect(await cacheProblem(path.join(root, 'p/img/main/k'))).toBeUndefined()
    expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual([])
  })

  it('replaces a complete but stale entry under the same key in place', async () => {
    writeLayeredCache(path.join(root, 'p/img/main/k'))
    fs.writeFileSync(path.join(root, 'p/img/main/k', 'stale-marker'), '')
    const store = new LocalCacheStore(root, 'job')
    const exported = await store.exportTo()
    writeLayeredCache(exported.type === 'local' ? exported.dir : '')
    expect(await store.save({ content: 'p/img/main/k' })).toMatchObject({ saved: true })
    expect(fs.existsSync(path.join(root, 'p/img/main/k', 'stale-marker'))).toBe(false)
    expect(await cacheProblem(path.join(root, 'p/img/main/k'))).toBeUndefined()
  })

  it('saves a partial entry beside the whole ones, replacing only older partial ones; a whole save then supersedes it', async () => {
    writeLayeredCache(path.join(root, 'p/img/main/k'))
    writeLayeredCache(path.join(root, 'p/img/main/old.partial'))
    const store = new LocalCacheStore(root, 'job')
    const partial = await store.exportTo()
    writeLayeredCache(partial.type === 'local' ? partial.dir : '')
    expect(await store.save({ content: 'p/img/main/new.partial' })).toMatchObject({ saved: true })
    expect(fs.readdirSync(path.join(root, 'p/img/main')).sort()).toEqual(['k', 'new.partial'])

    const whole = await store.exportTo()
    writeLayeredCache(whole.type === 'local' ? whole.dir : '')
    expect(await store.save({ content: 'p/img/main/fixed' })).toMatchObject({ saved: true })
    expect(fs.readdirSync(path.join(root, 'p/img/main'))).toEqual(['fixed'])
  })

  it('refuses to export into a root that cannot be written, so the main step can skip the save', async () => {
    const file = path.join(tmp, 'a-file')
    fs.writeFileSync(file, '')
    await expect(new LocalCacheStore(file, 'job').exportTo()).rejects.toThrow(/ENOTDIR|EEXIST/)
    expect(await new LocalCacheStore(file, 'job').restore(planFor('p/img/main/k'))).toBeUndefined()
  })
})
