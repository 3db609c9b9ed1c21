// The registry store with the registry replaced by a typed stand-in: which
// entry it picks, what it hands buildx, what it warns about, and what a save
// pushes. The real registry is in __tests__/e2e/registry.test.ts.
import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import { coreMock, freshRecord, type CoreRecord } from '../../support/core-mock.js'
import type { Lookup, Pushed, RegistryClient } from '../../../src/cache/registry-client.js'
import { CACHE_CONFIG_MEDIA_TYPE, KEY_ANNOTATION } from '../../../src/cache/registry-manifest.js'
import { branchTag, contentTag } from '../../../src/cache/registry-tags.js'
import { keyPlan } from '../../../src/key/key.js'

let record: CoreRecord = freshRecord()
jest.unstable_mockModule('@actions/core', () =>
  coreMock(new Proxy({} as CoreRecord, { get: (_t, p) => record[p as keyof CoreRecord] }))
)
const { RegistryCacheStore } = await import('../../../src/cache/registry.js')

const REPO = 'ghcr.io/acme/ci-cache'
const HASH = 'b'.repeat(64)
const OLD = 'a'.repeat(64)
const DIGEST = `sha256:${'d'.repeat(64)}`
const feature = keyPlan({
  prefix: 'buildx',
  image: 'ci',
  branch: 'feature',
  baseBranch: 'master',
  defaultBranch: 'master',
  hash: HASH
})
const onMaster = keyPlan({ prefix: 'buildx', image: 'ci', branch: 'master', defaultBranch: 'master', hash: HASH })
const tagged = (tag: string): string => `${REPO}:${tag}`
const manifest = (size = 100): string =>
  JSON.stringify({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: DIGEST, size: 10 },
    layers: [{ digest: DIGEST, size }]
  })
const pointer = (key: string): string =>
  JSON.stringify({
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ digest: DIGEST }],
    annotations: { [KEY_ANNOTATION]: key }
  })

/** A registry of fixed answers; anything not named is missing. */
class FakeRegistry implements RegistryClient {
  readonly asked: string[] = []
  readonly pointed: Array<{ target: string; source: string; annotations: Record<string, string> }> = []
  pointResult: Pushed = { ok: true }
  constructor(readonly answers: Record<string, Lookup> = {}) {}
  async inspect(ref: string): Promise<Lookup> {
    this.asked.push(ref)
    return this.answers[ref] ?? { kind: 'missing' }
  }
  async point(target: string, source: string, annotations: Record<string, string>): Promise<Pushed> {
    this.pointed.push({ target, source, annotations })
    return this.pointResult
  }
}

const found = (raw: string): Lookup => ({ kind: 'found', raw })
const warnings = (): string[] => record.log.filter(l => l.startsWith('::warning::'))

beforeEach(() => {
  record = freshRecord()
})

describe('RegistryCacheStore.restore', () => {
  it('looks up the exact tag, the same content on the base branch, then the branch tags of this branch and the base', async () => {
    const registry = new FakeRegistry()
    expect(await new RegistryCacheStore(REPO, registry).restore(feature)).toBeUndefined()
    expect(registry.asked).toEqual([
      tagged(contentTag(feature.content)),
      tagged(contentTag(`buildx/ci/master/${HASH}`)),
      tagged(branchTag('buildx/ci/feature/')),
      tagged(branchTag('buildx/ci/master/'))
    ])
    expect(warnings()).toEqual([])
  })

  it('hands buildx the exact tag on an exact hit, with the entry size', async () => {
    const registry = new FakeRegistry({ [tagged(contentTag(feature.content))]: found(manifest(90)) })
    expect(await new RegistryCacheStore(REPO, registry).restore(feature)).toEqual({
      matchedKey: feature.content,
      from: [{ type: 'registry', ref: tagged(contentTag(feature.content)) }],
      sizeBytes: 100
    })
  })

  it("reads a fallback's content key from its branch tag and hands buildx that manifest by digest", async () => {
    const older = `buildx/ci/master/${OLD}`
    const registry = new FakeRegistry({
      [tagged(branchTag('buildx/ci/master/'))]: found(pointer(older)),
      [`${REPO}@${DIGEST}`]: found(manifest())
    })
    const restored = await new RegistryCacheStore(REPO, registry).restore(feature)
    expect(restored).toEqual({
      matchedKey: older,
      from: [{ type: 'registry', ref: `${REPO}@${DIGEST}` }],
      sizeBytes: 110
    })
  })

  it('skips a branch tag that names another scope, with a warning, and goes on to the next', async () => {
    const registry = new FakeRegistry({
      [tagged(branchTag('buildx/ci/feature/'))]: found(pointer(`buildx/other/feature/${OLD}`)),
      [tagged(branchTag('buildx/ci/master/'))]: found(pointer(`buildx/ci/master/${OLD}`)),
      [`${REPO}@${DIGEST}`]: found(manifest())
    })
    const restored = await new RegistryCacheStore(REPO, registry).restore(feature)
    expect(restored?.matchedKey).toBe(`buildx/ci/master/${OLD}`)
    expect(warnings()).toEqual([
      `::warning::Skipping the damaged cache entry ${tagged(branchTag('buildx/ci/feature/'))} (it names a key outside buildx/ci/feature/); the next save on that branch replaces it.`
    ])
  })

  it('reports an exact tag that is not a cache, so that it gets replaced', async () => {
    const registry = new FakeRegistry({
      [tagged(contentTag(onMaster.content))]: found('{"mediaType":"application/vnd.oci.image.index.v1+json"}')
    })
    expect(await new RegistryCacheStore(REPO, registry).restore(onMaster)).toEqual({
      matchedKey: onMaster.content,
      from: [],
      sizeBytes: 0,
      problem: 'it is an image index, not a cache manifest'
    })
  })

  it("hands buildx the base branch's entry of the same content before any branch's newest", async () => {
    const masterContent = `buildx/ci/master/${HASH}`
    const registry = new FakeRegistry({
      [tagged(contentTag(masterContent))]: found(manifest()),
      [tagged(branchTag('buildx/ci/master/'))]: found(pointer(`buildx/ci/master/${OLD}`)),
      [`${REPO}@${DIGEST}`]: found(manifest())
    })
    expect(await new RegistryCacheStore(REPO, registry).restore(feature)).toEqual({
      matchedKey: masterContent,
      from: [{ type: 'registry', ref: tagged(contentTag(masterContent)) }],
      sizeBytes: 110
    })
  })

  it('treats a branch tag whose entry is gone as damaged', async () => {
    const registry = new FakeRegistry({
      [tagged(branchTag('buildx/ci/master/'))]: found(pointer(`buildx/ci/master/${OLD}`))
    })
    expect(await new RegistryCacheStore(REPO, registry).restore(onMaster)).toBeUndefined()
    expect(warnings().join('\n')).toContain('the entry it points at is gone')
  })

  it('builds without the cache when the registry refuses to read, says to log in, and still lets the build push', async () => {
    const registry = new FakeRegistry({
      [tagged(contentTag(onMaster.content))]: { kind: 'denied', message: '401 Unauthorized' }
    })
    const store = new RegistryCacheStore(REPO, registry)
    expect(await store.restore(onMaster)).toBeUndefined()
    expect(warnings().join('\n')).toMatch(
      /refused to read ghcr\.io\/acme\/ci-cache \(401 Unauthorized\).*Log in before this step.*created by the first save/
    )
    expect(await store.exportTo()).toEqual({ type: 'registry', ref: tagged(contentTag(onMaster.content)) })
  })

  it('builds without the cache when the registry cannot be used, and exports nowhere', async () => {
    const registry = new FakeRegistry({
      [tagged(branchTag('buildx/ci/master/'))]: { kind: 'broken', message: 'the registry did not answer within 30 s' }
    })
    const store = new RegistryCacheStore(REPO, registry)
    expect(await store.restore(onMaster)).toBeUndefined()
    expect(warnings()).toEqual([
      '::warning::The registry of ghcr.io/acme/ci-cache could not be used (the registry did not answer within 30 s); building without its cache.'
    ])
    await expect(store.exportTo()).rejects.toThrow(
      'the registry could not be used when the cache was looked up (the registry did not answer within 30 s)'
    )
  })

  it('exports nowhere before it was told the key', async () => {
    await expect(new RegistryCacheStore(REPO, new FakeRegistry()).exportTo()).rejects.toThrow(/not looked up/)
  })
})

describe('RegistryCacheStore.save', () => {
  const source = tagged(contentTag(onMaster.content))
  const target = tagged(branchTag('buildx/ci/master/'))

  it('points the branch tag at what the build pushed, naming the key, and reports its size', async () => {
    const registry = new FakeRegistry({ [source]: found(manifest(1000)) })
    expect(await new RegistryCacheStore(REPO, registry).save({ content: onMaster.content })).toEqual({
      saved: true,
      key: onMaster.content,
      sizeBytes: 1010
    })
    expect(registry.pointed).toEqual([{ target, source, annotations: { [KEY_ANNOTATION]: onMaster.content } }])
    expect(record.log).toContain(`The build pushed the cache to ${source}; ${target} now points at it.`)
  })

  it('saves nothing when the build left no cache', async () => {
    const registry = new FakeRegistry()
    const result = await new RegistryCacheStore(REPO, registry).save({ content: onMaster.content })
    expect(result).toEqual({ saved: false, reason: `the build left no cache at ${source} (not found).` })
    expect(registry.pointed).toEqual([])
  })

  it('says which permission is missing when the branch tag cannot be pushed', async () => {
    const registry = new FakeRegistry({ [source]: found(manifest()) })
    registry.pointResult = { ok: false, error: 'denied: permission_denied: write_package' }
    const result = await new RegistryCacheStore(REPO, registry).save({ content: onMaster.content })
    expect(result.saved).toBe(false)
    if (!result.saved)
      expect(result.reason).toMatch(
        /could not be moved to it: the registry refused the push .*`permissions: packages: write`/
      )
  })

  it('measures what the build pushed, in the registry', async () => {
    const registry = new FakeRegistry({ [source]: found(manifest(500)) })
    const store = new RegistryCacheStore(REPO, registry)
    await store.restore(onMaster)
    expect(await store.exported()).toEqual({ sizeBytes: 510 })
    expect(store.temporaryPaths()).toEqual([])
  })

  it('explains a push buildx reported as failed, naming the permission', async () => {
    const store = new RegistryCacheStore(REPO, new FakeRegistry({ [source]: found(manifest()) }))
    await store.restore(onMaster)
    const exported = await store.exported(
      'error writing layer blob: unexpected status from HEAD request to https://ghcr.io/v2/x: 403 Forbidden'
    )
    expect(exported.sizeBytes).toBe(0)
    expect(exported.problem).toMatch(
      new RegExp(
        `^the registry refused the push to ${source.replace(/[.]/g, '\\.')} .*\`permissions: packages: write\``
      )
    )
  })

  it('finds a push that left nothing, even when buildx said nothing', async () => {
    const store = new RegistryCacheStore(REPO, new FakeRegistry())
    await store.restore(onMaster)
    expect(await store.exported()).toEqual({ sizeBytes: 0, problem: `the build left nothing at ${source} (not found)` })
  })
})
