// Base images travel with the cache: a run that writes keeps the images its
// build resolved with the entry, and runs that restore it build on exactly
// those, asking no registry. Real engine, a real registry the test starts and
// stops, the local cache service.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { classicEngine, docker, dockerConfig, uniqueWorkspaceFrom } from '../support/engine.js'
import { pullRequestInto } from '../support/events.js'
import { defaultBranchJobs, expectBuilt, type JobOutcome, type DefaultBranchJob } from '../support/fresh-job.js'
import { ownRegistry, refusingRegistry, type OwnRegistry } from '../support/own-registry.js'
import { engineRegistries } from '../support/registry.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(300_000)

const service = cacheServiceForFile()

const defaultBranchJob = defaultBranchJobs(service)
/** `classic`: on the engine with the classic image store, as GitHub's ubuntu-24.04 runners have it. */
const job = ({ classic, ...spec }: DefaultBranchJob & { classic?: boolean }): Promise<JobOutcome> =>
  defaultBranchJob({ ...spec, env: classic ? { DOCKER_HOST: classicEngine(), DOCKER_CONFIG: dockerConfig() } : {} })

/** A CI image FROM a base in a registry, and a way to publish that base again under the same tag. */
function workspaceOn(base: string): { workspace: string; publish: (version: string) => void } {
  const workspace = uniqueWorkspaceFrom('ci-image')
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'base-'))
  fs.copyFileSync(path.join(workspace, 'busybox'), path.join(baseDir, 'busybox'))
  fs.writeFileSync(
    path.join(workspace, 'Dockerfile'),
    `FROM ${base}\nCOPY scripts/setup.sh /tmp/setup.sh\nRUN sh /tmp/setup.sh\nCOPY data/ /data/\nRUN cat /base-version /data/version.txt > /stamp\n`
  )
  const publish = (version: string): void => {
    fs.writeFileSync(
      path.join(baseDir, 'Dockerfile'),
      `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN echo ${version} > /base-version\n`
    )
    docker('buildx', 'build', '--quiet', '--push', '--tag', base, baseDir)
  }
  return { workspace, publish }
}

const keptLine = (r: JobOutcome): string => /^Kept \d+ base image\(s\) with the entry .*$/m.exec(r.main.log)?.[0] ?? ''

describe('base images kept with a gha entry', () => {
  const image = 'bases-gha'
  let registry: OwnRegistry
  let base = ''
  let workspace = ''
  let publish: (version: string) => void = () => undefined
  let key = ''
  let firstKept = ''

  beforeAll(async () => {
    registry = await ownRegistry()
    await registry.start()
    base = `${registry.address}/acme/base:1`
    ;({ workspace, publish } = workspaceOn(base))
    publish('one')
  })
  afterAll(async () => {
    await registry.stop()
  })

  it('a cold master run builds from the registry, saves, and keeps the base image with the entry', async () => {
    const r = await job({ workspace, image })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'none', 'cached-steps': '0/4' })
    expect(r.saves).toBe(1)
    firstKept = keptLine(r)
    expect(firstKept).toContain(`${base} at sha256:`)
    expect(r.summary).toMatch(/keeps 1 base image\(s\), adding 0\.00\d MB/)
    key = r.main.outputs.key
  })

  it('with the registry stopped, a pull request on a fresh runner builds with every step cached', async () => {
    await registry.stop()
    const r = await job({ workspace, image, ...pullRequestInto('master', 41) })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'base-branch', 'cache-hit': 'true', 'cached-steps': '4/4' })
    expect(r.main.log).toContain(`Base images come from the restored entry, asking no registry: ${base}`)
    expect(r.warnings).toEqual([])
    expect(r.summary).toContain('1 base image(s) from the entry, 1 registry lookup(s) avoided')
    expect(r.writes).toBe(0)
  })

  it('and a warm master run falls back to the kept copy with a warning, every step cached', async () => {
    const r = await job({ workspace, image })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ key, 'cache-hit': 'true', 'cached-steps': '4/4', 'cache-stale': 'false' })
    expect(r.warnings.join('\n')).toContain(
      `The registry ${registry.address} could not be reached for the base image ${base}; building on the copies the restored entry keeps instead`
    )
    expect(r.writes).toBe(0)
  })

  it('once the base is pushed again under the same tag, a pull request still builds on what master built', async () => {
    await registry.start()
    publish('two')
    const r = await job({ workspace, image, ...pullRequestInto('master', 42) })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-stale': 'false', 'cached-steps': '4/4' })
    expect(r.writes).toBe(0)
  })

  it('the next master run uses the new base: the steps after FROM are rebuilt and the entry and its kept base refreshed', async () => {
    const r = await job({ workspace, image })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ key, 'cache-hit': 'true', 'cache-stale': 'true', 'cached-steps': '0/4' })
    expect(r.saves).toBe(1)
    const kept = keptLine(r)
    expect(kept).toContain(`${base} at sha256:`)
    expect(kept).not.toBe(firstKept)
    expect(r.warnings).toEqual([])
  })

  it('and the run after it is cached, registry or not', async () => {
    await registry.stop()
    const master = await job({ workspace, image })
    expectBuilt(master)
    expect(master.main.outputs).toMatchObject({ key, 'cache-stale': 'false', 'cached-steps': '4/4' })
    expect(master.writes).toBe(0)
    const pr = await job({ workspace, image, ...pullRequestInto('master', 43) })
    expectBuilt(pr)
    expect(pr.main.outputs).toMatchObject({ 'cache-stale': 'false', 'cached-steps': '4/4' })
    expect(pr.warnings).toEqual([])
  })

  it('base-images: registry asks the registry, and fails as docker buildx does when it is down', async () => {
    const r = await job({ workspace, image, inputs: { 'base-images': 'registry' }, ...pullRequestInto('master', 44) })
    expect(r.main.exitCode).toBe(1)
    expect(r.main.log).toContain('Base images come from their registries: base-images is registry.')
    expect(r.main.log).toMatch(
      new RegExp(`::error::The base image ${base.replace(/[.]/g, '\\.')} could not be resolved: its registry`)
    )
  })
})

describe('base images kept with a local entry', () => {
  const image = 'bases-local'
  const inputs = { 'cache-backend': 'local', 'cache-root': fs.mkdtempSync(path.join(os.tmpdir(), 'bases-root-')) }
  let registry: OwnRegistry
  let base = ''
  let workspace = ''

  beforeAll(async () => {
    registry = await ownRegistry()
    await registry.start()
    base = `${registry.address}/acme/local-base:1`
    let publish: (version: string) => void
    ;({ workspace, publish } = workspaceOn(base))
    publish('one')
  })
  afterAll(async () => {
    await registry.stop()
  })

  it('keeps the base in the entry directory, and a pull request with the registry stopped has every step cached', async () => {
    const master = await job({ workspace, image, inputs })
    expectBuilt(master)
    expect(keptLine(master)).toMatch(/in \d+\.\d s \(.*\): they add 0\.00\d MB, their layers being the cache's own\.$/)
    await registry.stop()
    const pr = await job({ workspace, image, inputs, ...pullRequestInto('master', 71) })
    expectBuilt(pr)
    expect(pr.main.outputs).toMatchObject({
      'cache-source': 'base-branch',
      'cached-steps': '4/4',
      'cache-stale': 'false'
    })
    expect(pr.warnings).toEqual([])
  })
})

describe('base images kept in the cache repository (registry backend)', () => {
  const image = 'bases-registry'
  // The cache's repository stays up; the base's registry is the one that goes away.
  const cacheRef = `${engineRegistries().open}/bases-cache-${Date.now().toString(36)}`
  const inputs = { 'cache-backend': 'registry', 'cache-ref': cacheRef }
  let registry: OwnRegistry
  let base = ''
  let workspace = ''
  let publish: (version: string) => void = () => undefined
  let firstKept = ''

  beforeAll(async () => {
    registry = await ownRegistry()
    await registry.start()
    base = `${registry.address}/acme/registry-base:1`
    ;({ workspace, publish } = workspaceOn(base))
    publish('one')
  })
  afterAll(async () => {
    await registry.stop()
  })

  it('a cold master run keeps the base in the cache repository', async () => {
    const r = await job({ workspace, image, inputs })
    expectBuilt(r)
    firstKept = keptLine(r)
    expect(firstKept).toMatch(/with the entry in the cache repository in \d+\.\d s \(/)
    expect(firstKept).toContain(`(${base} at sha256:`)
    expect(r.warnings).toEqual([])
  })

  it('with the base registry stopped, a pull request and a warm master run build with every step cached', async () => {
    await registry.stop()
    const pr = await job({ workspace, image, inputs, ...pullRequestInto('master', 61) })
    expectBuilt(pr)
    expect(pr.main.outputs).toMatchObject({
      'cache-source': 'base-branch',
      'cached-steps': '4/4',
      'cache-stale': 'false'
    })
    expect(pr.main.log).toContain(`=docker-image://${cacheRef}@sha256:`)
    expect(pr.warnings).toEqual([])
    const master = await job({ workspace, image, inputs })
    expectBuilt(master)
    expect(master.main.outputs).toMatchObject({
      'cache-source': 'exact',
      'cached-steps': '4/4',
      'cache-stale': 'false'
    })
    expect(master.warnings.join('\n')).toContain(`The registry ${registry.address} could not be reached`)
  })

  it('once the base moved, the next master run rebuilds after FROM and refreshes, and the run after it is cached', async () => {
    await registry.start()
    publish('two')
    const moved = await job({ workspace, image, inputs })
    expectBuilt(moved)
    expect(moved.main.outputs).toMatchObject({ 'cache-stale': 'true', 'cached-steps': '0/4' })
    const kept = keptLine(moved)
    expect(kept).toContain(`${base} at sha256:`)
    expect(kept).not.toBe(firstKept)
    await registry.stop()
    const after = await job({ workspace, image, inputs, ...pullRequestInto('master', 62) })
    expectBuilt(after)
    expect(after.main.outputs).toMatchObject({ 'cache-stale': 'false', 'cached-steps': '4/4' })
  })
})

describe('base images kept on the classic store: saved through the docker-container builder, used by the docker driver', () => {
  const image = 'bases-classic'
  let registry: OwnRegistry
  let base = ''
  let workspace = ''
  let publish: (version: string) => void = () => undefined

  beforeAll(async () => {
    registry = await ownRegistry()
    await registry.start()
    base = `${registry.address}/acme/classic-base:1`
    ;({ workspace, publish } = workspaceOn(base))
    publish('one')
  })
  afterAll(async () => {
    await registry.stop()
  })

  it('a cold master run keeps the base through the builder it creates', async () => {
    const r = await job({ workspace, image, classic: true })
    expectBuilt(r)
    expect(r.main.log).toContain('Create the docker-container builder buildx-ci-cache')
    expect(keptLine(r)).toContain(`${base} at sha256:`)
    expect(r.warnings).toEqual([])
    expect(r.saves).toBe(1)
  })

  it('with the registry stopped, a pull request on the docker driver builds with every step cached', async () => {
    await registry.stop()
    const r = await job({ workspace, image, classic: true, ...pullRequestInto('master', 51) })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({
      'cache-source': 'base-branch',
      'cached-steps': '4/4',
      'cache-stale': 'false'
    })
    expect(r.warnings).toEqual([])
  })

  it('once the base moved, the next master run rebuilds after FROM and refreshes, and the run after it is cached', async () => {
    await registry.start()
    publish('two')
    const moved = await job({ workspace, image, classic: true })
    expectBuilt(moved)
    expect(moved.main.outputs).toMatchObject({ 'cache-stale': 'true', 'cached-steps': '0/4' })
    expect(moved.saves).toBe(1)
    expect(keptLine(moved)).toContain(`${base} at sha256:`)
    await registry.stop()
    const after = await job({ workspace, image, classic: true })
    expectBuilt(after)
    expect(after.main.outputs).toMatchObject({ 'cache-stale': 'false', 'cached-steps': '4/4' })
    expect(after.writes).toBe(0)
  })
})

describe('a base image whose registry answers 429, with no kept copy', () => {
  it('fails the cold build with one sentence naming the image, the registry and the fix', async () => {
    const refusing = await refusingRegistry(429)
    try {
      const base = `${refusing.address}/acme/limited:1`
      const { workspace } = workspaceOn(base)
      const r = await job({ workspace, image: 'bases-429' })
      expect(r.main.exitCode).toBe(1)
      const errors = r.main.log.split('\n').filter(line => line.startsWith('::error::'))
      expect(errors).toEqual([
        `::error::The base image ${base} could not be resolved: its registry ${refusing.address} answered 429 Too Many Requests (a pull rate limit). Log in to ${refusing.address} with docker/login-action before this step (a login lifts anonymous pull limits), or build from a mirror of the image; once a run that writes the cache has saved, its entry keeps a copy and later runs need no registry for it.`
      ])
      expect(refusing.requests).toBeGreaterThan(0)
    } finally {
      refusing.stop()
    }
  })
})
