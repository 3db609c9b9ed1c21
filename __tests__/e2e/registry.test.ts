// The registry backend end to end: the bundled action run as the runner runs
// it, in the engine's network namespace, against real OCI registries (the
// CNCF distribution registry scripts/engine-up.sh starts there): one open,
// one behind a login, one read-only. What the registry holds is read through
// its own API.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { branchTag, contentTag } from '../../src/cache/registry-tags.js'
import { KEY_ANNOTATION } from '../../src/cache/registry-manifest.js'
import { docker, dockerConfig, keepAcrossRunners, uniqueWorkspaceFrom } from '../support/engine.js'
import { pullRequestInto, pushTo, repository } from '../support/events.js'
import { freshJob, leftovers, type JobOutcome } from '../support/fresh-job.js'
import {
  deleteBlob,
  engineRegistries,
  run as runCommand,
  login,
  registryTags,
  silentRegistry,
  type TagInfo
} from '../support/registry.js'
import type { EventSpec } from '../support/run-action.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(300_000)

const pullRequest = pullRequestInto('master', 7).event
const registries = engineRegistries()
// The registries outlive a test run: each run uses repositories of its own.
const run = Date.now().toString(36)

// The Actions cache service is there as on any runner; this backend must not use it.
const service = cacheServiceForFile()

interface Job {
  workspace: string
  cacheRef: string
  image?: string
  event?: EventSpec
  inputs?: Record<string, string>
  /** The runner's docker configuration; default: a fresh one, logged in nowhere. */
  config?: string
}

async function job(spec: Job): Promise<JobOutcome> {
  const image = spec.image ?? 'ci-image'
  const r = await freshJob(service, {
    workspace: spec.workspace,
    image,
    inputs: { image, 'cache-backend': 'registry', 'cache-ref': spec.cacheRef, ...spec.inputs },
    event: spec.event ?? pushTo('master'),
    scopes: [{ scope: 'refs/heads/master', permission: 3 }],
    env: { DOCKER_CONFIG: spec.config ?? dockerConfig() }
  })
  expect(r.calls).toEqual([])
  return r
}

/** The user-visible promise of every run: the image is built, the job passes, nothing is left behind. */
function expectBuilt(r: JobOutcome): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.main.outputs.imageid).toMatch(/^sha256:[a-f0-9]{64}$/)
  expect(r.post?.exitCode).toBe(0)
  expect(leftovers(r.runnerTemp)).toEqual([])
}

const cachedLine = (r: JobOutcome): string => /\d+ of \d+ steps were cached\./.exec(r.main.log)?.[0] ?? ''
const masterScope = (image: string): string => `buildx/${image}/master/`
const digests = (tags: Record<string, TagInfo>): Record<string, string> =>
  Object.fromEntries(Object.entries(tags).map(([tag, info]) => [tag, info.digest]))

describe('the registry backend', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')
  const cacheRef = `${registries.open}/ci-cache-${run}`
  let firstKey = ''
  let afterFirst: Record<string, TagInfo> = {}

  it('pushes the cache while building cold on master, and points the branch tag at it', async () => {
    const r = await job({ workspace, cacheRef })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'false', 'cache-source': 'none', 'matched-key': '' })
    expect(cachedLine(r)).toBe('0 of 7 steps were cached.')
    firstKey = r.main.outputs.key
    const content = contentTag(firstKey)
    const branch = branchTag(masterScope('ci-image'))
    expect(r.main.log).toContain(
      `--cache-to type=registry,ref=${cacheRef}:${content},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true`
    )
    expect(r.post?.log).toContain(
      `The build pushed the cache to ${cacheRef}:${content}; ${cacheRef}:${branch} now points at it.`
    )
    expect(r.post?.log).toContain(`Cache saved with key: ${firstKey}`)
    afterFirst = registryTags(registries, cacheRef)
    expect(Object.keys(afterFirst).sort()).toEqual([content, branch].sort())
    expect(afterFirst[branch].manifest.annotations?.[KEY_ANNOTATION]).toBe(firstKey)
    expect(afterFirst[branch].manifest.manifests?.map(m => m.digest)).toEqual([afterFirst[content].digest])
    expect(Number(r.main.outputs['cache-size'])).toBeGreaterThan(1024 * 1024)
    expect(r.summary).toMatch(/nothing: cold build \| – \| [\d.]+ s, 0\/7 steps cached \| [\d.]+ MB in [\d.]+ s/)
  })

  it('gives a fresh runner on master an exact hit with every step cached, and pushes nothing', async () => {
    const r = await job({ workspace, cacheRef })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({
      key: firstKey,
      'matched-key': firstKey,
      'cache-hit': 'true',
      'cache-source': 'exact',
      'cache-stale': 'false'
    })
    expect(cachedLine(r)).toBe('7 of 7 steps were cached.')
    expect(r.main.log).not.toContain('--cache-to')
    expect(r.post?.log).toContain(`Cache hit occurred on the primary key ${firstKey}, not saving cache.`)
    expect(digests(registryTags(registries, cacheRef))).toEqual(digests(afterFirst))
  })

  it("lets a pull request read its base branch's entry and push nothing", async () => {
    const r = await job({ workspace, cacheRef, event: pullRequest })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({
      'matched-key': firstKey,
      'cache-hit': 'true',
      'cache-source': 'base-branch'
    })
    expect(cachedLine(r)).toBe('7 of 7 steps were cached.')
    expect(r.main.log).not.toContain('--cache-to')
    expect(r.post?.log).toContain('Not saving the cache: pull_request runs never write the cache')
    expect(digests(registryTags(registries, cacheRef))).toEqual(digests(afterFirst))
  })

  it('gives a changed COPY source a new entry that shares the unchanged layers, and moves the branch tag to it', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'second version\n')
    const r = await job({ workspace, cacheRef })
    expectBuilt(r)
    const key = r.main.outputs.key
    expect(key).not.toBe(firstKey)
    expect(r.main.outputs).toMatchObject({ 'matched-key': firstKey, 'cache-hit': 'false', 'cache-source': 'branch' })
    // The nonce, busybox, its install, the setup script and its run come from the first entry.
    expect(cachedLine(r)).toBe('5 of 7 steps were cached.')
    expect(r.post?.log).toContain(`Cache saved with key: ${key}`)
    const tags = registryTags(registries, cacheRef)
    const branch = branchTag(masterScope('ci-image'))
    expect(Object.keys(tags).sort()).toEqual([contentTag(firstKey), contentTag(key), branch].sort())
    expect(tags[contentTag(firstKey)].digest).toBe(afterFirst[contentTag(firstKey)].digest)
    expect(tags[branch].manifest.annotations?.[KEY_ANNOTATION]).toBe(key)
    expect(tags[branch].manifest.manifests?.map(m => m.digest)).toEqual([tags[contentTag(key)].digest])
    const layers = (tag: string): string[] => (tags[tag].manifest.layers ?? []).map(l => l.digest)
    const shared = layers(contentTag(key)).filter(d => layers(contentTag(firstKey)).includes(d))
    expect(shared).toHaveLength(5)
  })

  it("never gives one image another image's entry, however the names line up", async () => {
    // Image a-b on branch c, then image a on branch b-c: the same Dockerfile,
    // so a mix-up would show as cached steps.
    const first = await job({
      workspace,
      cacheRef,
      image: 'a-b',
      event: pushTo('c'),
      inputs: { 'default-branch': 'c' }
    })
    expectBuilt(first)
    expect(first.post?.log).toContain('Cache saved with key: buildx/a-b/c/')
    const second = await job({
      workspace,
      cacheRef,
      image: 'a',
      event: pushTo('b-c'),
      inputs: { 'default-branch': 'b-c' }
    })
    expectBuilt(second)
    expect(second.main.outputs).toMatchObject({ 'cache-source': 'none', 'matched-key': '' })
    expect(cachedLine(second)).toBe('0 of 7 steps were cached.')
    const tags = Object.keys(registryTags(registries, cacheRef))
    expect(tags).toContain(branchTag('buildx/a-b/c/'))
    expect(tags).toContain(branchTag('buildx/a/b-c/'))
  })

  it('replaces an entry that is not a cache, with a warning naming it', async () => {
    const image = 'not-a-cache'
    // A run on master that may not write tells the key.
    const probe = await job({
      workspace,
      cacheRef,
      image,
      event: { name: 'repository_dispatch', ref: 'refs/heads/master', payload: { repository } }
    })
    const key = probe.main.outputs.key
    // Any manifest but a cache one under the content tag: here an index, as
    // a mistaken `imagetools create` would leave.
    runCommand('docker', [
      'buildx',
      'imagetools',
      'create',
      '--tag',
      `${cacheRef}:${contentTag(key)}`,
      `${cacheRef}:${contentTag(firstKey)}`
    ])
    const r = await job({ workspace, cacheRef, image })
    expectBuilt(r)
    expect(r.warnings.join('\n')).toContain(
      `Skipping the damaged cache entry ${cacheRef}:${contentTag(key)} (it is an image index, not a cache manifest)`
    )
    expect(r.main.outputs).toMatchObject({
      'matched-key': '',
      'cache-hit': 'false',
      'cache-source': 'none',
      'cache-stale': 'true'
    })
    expect(r.post?.log).toMatch(/Saving the cache: the entry of this content could not be imported/)
    expect(r.post?.log).toContain(`Cache saved with key: ${key}`)
    expect(registryTags(registries, cacheRef)[contentTag(key)].manifest.mediaType).toBe(
      'application/vnd.oci.image.manifest.v1+json'
    )
    const healed = await job({ workspace, cacheRef, image })
    expect(healed.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-source': 'exact' })
    expect(cachedLine(healed)).toBe('7 of 7 steps were cached.')
  })
})

describe('a stale registry entry', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')
  const cacheRef = `${registries.open}/stale-${run}`
  const base = `registry-test-base-${run}`

  // A base image that moves under the same tag, as an upstream image that was republished.
  function publishBase(version: string): void {
    const dockerfile = [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'COPY base-version /etc/base-version'
    ]
    fs.writeFileSync(path.join(workspace, 'Dockerfile.base'), `${dockerfile.join('\n')}\n`)
    fs.writeFileSync(path.join(workspace, 'base-version'), version)
    docker(
      'buildx',
      'build',
      '--load',
      '--tag',
      `${base}:latest`,
      '--file',
      path.join(workspace, 'Dockerfile.base'),
      workspace
    )
  }

  beforeAll(() => {
    keepAcrossRunners(base)
    fs.writeFileSync(
      path.join(workspace, 'Dockerfile.app'),
      `FROM ${base}:latest\nCOPY scripts/setup.sh /tmp/setup.sh\nRUN sh /tmp/setup.sh\n`
    )
    publishBase(`1 ${run}`)
  })
  afterAll(() => {
    docker('image', 'rm', '-f', `${base}:latest`)
  })

  it('is pushed again under the same tag once a build shows it stale, and hits in full after that', async () => {
    const inputs = { file: 'Dockerfile.app' }
    const cold = await job({ workspace, cacheRef, image: 'app', inputs })
    expectBuilt(cold)
    const key = cold.main.outputs.key
    const before = registryTags(registries, cacheRef)[contentTag(key)].digest

    publishBase(`2 ${run}`)
    const stale = await job({ workspace, cacheRef, image: 'app', inputs })
    expectBuilt(stale)
    expect(stale.main.outputs).toMatchObject({ key, 'cache-hit': 'true', 'cache-stale': 'true' })
    expect(stale.main.log).toMatch(
      /::notice::The cache matched but \d+ of \d+ steps were rebuilt .*; refreshing the entry\./
    )
    expect(stale.post?.log).toContain(`Cache saved with key: ${key}`)
    const tags = registryTags(registries, cacheRef)
    expect(tags[contentTag(key)].digest).not.toBe(before)
    expect(tags[branchTag(masterScope('app'))].manifest.manifests?.map(m => m.digest)).toEqual([
      tags[contentTag(key)].digest
    ])

    const healed = await job({ workspace, cacheRef, image: 'app', inputs })
    expectBuilt(healed)
    expect(healed.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-stale': 'false' })
    expect(healed.post?.log).toContain('Cache hit occurred on the primary key')
  })
})

describe('a registry entry that lost a layer', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')
  const cacheRef = `${registries.open}/lost-layer-${run}`

  it('costs one build without the cache, and the next run that may write pushes it whole again', async () => {
    const cold = await job({ workspace, cacheRef, image: 'gap' })
    expectBuilt(cold)
    const key = cold.main.outputs.key
    const layers = registryTags(registries, cacheRef)[contentTag(key)].manifest.layers ?? []
    // Any layer: BuildKit fetches them when it exports the image, not before.
    deleteBlob(cacheRef, layers[0]?.digest ?? '')

    const broken = await job({ workspace, cacheRef, image: 'gap' })
    expectBuilt(broken)
    expect(broken.warnings.join('\n')).toMatch(
      /The build failed while importing the restored cache \(.*from remote: not found\); building once more without it\./
    )
    expect(broken.main.outputs['cache-stale']).toBe('true')
    expect(broken.post?.log).toContain(`Cache saved with key: ${key}`)

    const whole = await job({ workspace, cacheRef, image: 'gap' })
    expectBuilt(whole)
    expect(whole.warnings).toEqual([])
    expect(whole.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-stale': 'false' })
    expect(cachedLine(whole)).toBe('7 of 7 steps were cached.')
  })
})

describe('a registry that fails', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')

  it('is unreachable: the build goes on without it, with a warning, and nothing is pushed', async () => {
    const r = await job({ workspace, cacheRef: '127.0.0.1:5009/nothing-listens' })
    expectBuilt(r)
    expect(r.main.outputs['cache-source']).toBe('none')
    expect(r.warnings.join('\n')).toMatch(
      /The registry of 127\.0\.0\.1:5009\/nothing-listens could not be used \(.*connection refused\); building without its cache\./
    )
    expect(r.main.log).not.toContain('--cache-to')
    expect(r.post?.log).toContain(
      'Not saving the cache: there is nowhere to export the new cache: the registry could not be used'
    )
  })

  it('never answers: the lookup is bounded by restore-timeout and the build goes on', async () => {
    const silent = await silentRegistry(5010)
    try {
      const r = await job({ workspace, cacheRef: '127.0.0.1:5010/silent', inputs: { 'restore-timeout': '3' } })
      expectBuilt(r)
      expect(r.main.outputs['cache-source']).toBe('none')
      expect(r.warnings.join('\n')).toContain(
        'The cache restore did not finish within 3 s (restore-timeout); building without a cache.'
      )
      expect(r.main.log).not.toContain('--cache-to')
    } finally {
      silent.stop()
    }
  })

  it('wants a login the job lacks: warnings say to log in and which permission pushes, and the build succeeds', async () => {
    const cacheRef = `${registries.auth}/no-login-${run}`
    const r = await job({ workspace, cacheRef })
    expectBuilt(r)
    const warnings = r.warnings.join('\n')
    expect(warnings).toContain(`The registry refused to read ${cacheRef}`)
    expect(warnings).toContain('Log in before this step (docker/login-action')
    expect(warnings).toMatch(
      /Not saving the cache: the build could not export a complete cache \(the registry refused the push to .*401 Unauthorized.*`permissions: packages: write`/
    )
    expect(r.post?.log).toContain('Not saving the cache: the build could not export a complete cache')
    expect(registryTags(registries, cacheRef)).toEqual({})
  })

  it('takes the login from the runner: a logged-in job pushes, and a fresh logged-in runner hits in full', async () => {
    const cacheRef = `${registries.auth}/login-${run}`
    const first = dockerConfig()
    login(registries, first, registries.auth)
    const cold = await job({ workspace, cacheRef, config: first })
    expectBuilt(cold)
    expect(cold.warnings).toEqual([])
    expect(cold.post?.log).toContain('Cache saved with key:')

    const second = dockerConfig()
    login(registries, second, registries.auth)
    const warm = await job({ workspace, cacheRef, config: second })
    expectBuilt(warm)
    expect(warm.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-source': 'exact' })
    expect(cachedLine(warm)).toBe('7 of 7 steps were cached.')
  })

  it('refuses the push (read-only): the entries already there still serve, a warning says why nothing was saved, and the build succeeds', async () => {
    // The read-only registry serves the storage of the one behind the login.
    const repository = `readonly-${run}`
    const config = dockerConfig()
    login(registries, config, registries.auth)
    const seeded = await job({ workspace, cacheRef: `${registries.auth}/${repository}`, config })
    expect(seeded.post?.log).toContain('Cache saved with key:')

    const cacheRef = `${registries.readOnly}/${repository}`
    const before = digests(registryTags(registries, cacheRef))
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), `read-only ${run}\n`)
    const readOnly = dockerConfig()
    login(registries, readOnly, registries.readOnly)
    const r = await job({ workspace, cacheRef, config: readOnly })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'branch', 'matched-key': seeded.main.outputs.key })
    expect(cachedLine(r)).toBe('5 of 7 steps were cached.')
    expect(r.warnings.join('\n')).toMatch(
      /Not saving the cache: the build could not export a complete cache \(the registry does not take pushes to .*405 Method Not Allowed/
    )
    expect(digests(registryTags(registries, cacheRef))).toEqual(before)
  })
})
