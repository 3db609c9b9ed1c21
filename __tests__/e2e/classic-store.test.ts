// GitHub's ubuntu-24.04 runners run Docker with the classic image store, whose
// docker driver imports a local cache but cannot export one; newer runners have
// the containerd store, which can. One cache must serve both, and a run on the
// classic store that should save must say why it cannot and still build. Two
// real engines from one root (scripts/engine-up.sh), the real client, the
// local cache service. No registry is reachable from the classic engine, so
// the docker-container builder the action tries to create (its moby/buildkit
// image must be pulled) never comes up: as on a runner that cannot pull.
import { describe, expect, it, jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { TokenScope } from '../support/cache-service.js'
import { classicEngine, dockerAt, dockerConfig, keepAcrossRunners, uniqueWorkspaceFrom } from '../support/engine.js'
import { pullRequestInto, pushTo, writer } from '../support/events.js'
import { freshJob, leftovers, type JobOutcome } from '../support/fresh-job.js'
import type { EventSpec } from '../support/run-action.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(300_000)

const pushToMaster = pushTo('master')
const masterWriter = writer('master')
const pullRequest = pullRequestInto('master', 3)

const NO_EXPORT_FIX =
  'The current builder uses the docker driver without the containerd image store, which cannot export a local cache, so nothing will be saved. ' +
  'Fix: set `create-builder: true`, or add docker/setup-buildx-action before this step, or enable the containerd image store ' +
  '("features": {"containerd-snapshotter": true} in /etc/docker/daemon.json).'
// The pull of moby/buildkit fails: its reason is the engine's own words.
const CREATE_FAILED =
  /^::warning::The current builder uses the docker driver without the containerd image store, which cannot export a local cache, and could not create a docker-container builder \(.+\), so nothing will be saved\. Fix: let the runner pull the moby\/buildkit image/
const NOT_SAVING = 'Not saving the cache: the builder cannot export a local cache (see the warning above).'

const service = cacheServiceForFile()

interface Job {
  workspace: string
  image: string
  /** The classic-store engine, with this docker configuration; else the containerd-store engine. */
  classic?: { dockerConfig?: string }
  event?: EventSpec
  scopes?: TokenScope[]
  inputs?: Record<string, string>
}

const job = (spec: Job): Promise<JobOutcome> =>
  freshJob(service, {
    workspace: spec.workspace,
    image: spec.image,
    inputs: spec.inputs,
    event: spec.event ?? pushToMaster,
    scopes: spec.scopes ?? masterWriter,
    env: spec.classic
      ? { DOCKER_HOST: classicEngine(), DOCKER_CONFIG: spec.classic.dockerConfig ?? dockerConfig() }
      : {}
  })

function expectBuilt(r: JobOutcome): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.post?.exitCode).toBe(0)
  expect(r.main.outputs.imageid).toMatch(/^sha256:[0-9a-f]{64}$/)
  expect(leftovers(r.runnerTemp)).toEqual([])
}

function cachedSteps(log: string): number {
  return log.split('\n').filter(line => /^#\d+ CACHED\s*$/.test(line)).length
}

const entriesOf = (image: string): string[] =>
  service
    .entries()
    .filter(e => e.key.startsWith(`buildx/${image}/`))
    .map(e => e.key)

/** A run on the classic store that may not export: it says why, and the image's entries stay as they were. */
function expectNothingSaved(r: JobOutcome, image: string, saved: string[]): void {
  expect(r.post?.log).toContain(NOT_SAVING)
  expect(r.writes).toBe(0)
  expect(entriesOf(image)).toEqual(saved)
}

describe('one cache for both image stores', () => {
  const image = 'classic-store'
  const workspace = uniqueWorkspaceFrom('ci-image')
  let saved: string[] = []

  it('is saved by a master run on the containerd store', async () => {
    const r = await job({ workspace, image })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'none', 'cached-steps': '0/7' })
    expect(r.writes).toBe(1)
    saved = entriesOf(image)
    expect(saved).toHaveLength(1)
  })

  it('gives a pull request on the classic store every step cached, and it writes nothing', async () => {
    const r = await job({ workspace, image, classic: {}, ...pullRequest })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({
      'cache-hit': 'true',
      'cache-source': 'base-branch',
      'cache-stale': 'false',
      'cached-steps': '7/7'
    })
    expect(cachedSteps(r.main.log)).toBe(7)
    expect(r.warnings).toEqual([])
    expect(r.post?.log).toContain('Not saving the cache: pull_request runs never write the cache')
    expect(r.writes).toBe(0)
  })

  it('builds new content on master on the classic store without saving, when no builder that exports can be created', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'classic one\n')
    const r = await job({ workspace, image, classic: {} })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'false', 'cache-source': 'branch' })
    expect(r.main.log).toContain('Create the docker-container builder buildx-ci-cache')
    expect(r.warnings).toHaveLength(1)
    expect(r.warnings[0]).toMatch(CREATE_FAILED)
    expectNothingSaved(r, image, saved)
  })

  it('never builds on a builder whose creation failed: each later step warns and builds, and none is left behind', async () => {
    const runnerConfig = dockerConfig()
    const buildx = (...args: string[]): string =>
      execFileSync('docker', ['buildx', ...args], {
        env: { ...process.env, DOCKER_HOST: classicEngine(), DOCKER_CONFIG: runnerConfig },
        stdio: 'pipe',
        encoding: 'utf8'
      })
    // What an earlier step's failed create leaves: a builder that is defined but cannot start.
    expect(() => buildx('create', '--name', 'buildx-ci-cache', '--driver', 'docker-container', '--bootstrap')).toThrow()
    expect(buildx('inspect', 'buildx-ci-cache')).toContain('inactive')
    for (const version of ['classic two', 'classic three']) {
      fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), `${version}\n`)
      const r = await job({ workspace, image, classic: { dockerConfig: runnerConfig } })
      expectBuilt(r)
      expect(r.warnings).toHaveLength(1)
      expect(r.warnings[0]).toMatch(CREATE_FAILED)
      expect(r.post?.log).toContain(NOT_SAVING)
      expect(r.writes).toBe(0)
      expect(() => buildx('inspect', 'buildx-ci-cache')).toThrow()
    }
  })

  it('with create-builder: false, says exactly how to fix it and builds', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'classic four\n')
    const r = await job({ workspace, image, classic: {}, inputs: { 'create-builder': 'false' } })
    expectBuilt(r)
    expect(r.main.log).not.toContain('Create the docker-container builder')
    expect(r.warnings).toEqual([`::warning::${NO_EXPORT_FIX}`])
    expectNothingSaved(r, image, saved)
  })
})

describe('a stale entry met on the classic store', () => {
  const image = 'classic-stale'
  const base = 'classic-stale-base:latest'
  keepAcrossRunners(base)
  const workspace = uniqueWorkspaceFrom('ci-image')
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'base-'))
  fs.copyFileSync(path.join(workspace, 'busybox'), path.join(baseDir, 'busybox'))
  fs.writeFileSync(
    path.join(workspace, 'Dockerfile'),
    `FROM ${base}\nCOPY scripts/setup.sh /tmp/setup.sh\nRUN sh /tmp/setup.sh\nCOPY data/ /data/\nRUN cat /base-version /data/version.txt > /stamp\n`
  )
  // A local base image resolves for FROM like a pulled one: each engine gets
  // its own build of it under the same tag, as if it had been republished.
  const publishBase = (host: string | undefined, version: string): void => {
    fs.writeFileSync(
      path.join(baseDir, 'Dockerfile'),
      `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN echo ${version} > /base-version\n`
    )
    dockerAt(host, 'buildx', 'build', '--quiet', '--load', '--tag', base, baseDir)
  }
  let key = ''
  let saved: string[] = []

  it('is saved by a master run on the containerd store', async () => {
    publishBase(undefined, 'one')
    const r = await job({ workspace, image })
    expectBuilt(r)
    expect(r.main.outputs['cached-steps']).toBe('0/4')
    expect(r.writes).toBe(1)
    key = r.main.outputs.key
    saved = entriesOf(image)
  })

  it('cannot be refreshed from the classic store: the exact hit is named stale, the build succeeds, nothing is saved', async () => {
    publishBase(classicEngine(), 'two')
    const r = await job({ workspace, image, classic: {} })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ key, 'cache-hit': 'true', 'cache-source': 'exact', 'cache-stale': 'true' })
    expect(r.main.outputs['cached-steps']).toMatch(/^[0-3]\/4$/)
    expect(r.main.log).toMatch(
      /^::notice::The cache matched but \d of 4 steps were rebuilt \(a base image may have moved\); this run cannot refresh it \(see the warning above\)\.$/m
    )
    expect(r.main.log).not.toContain('Export the refreshed cache')
    expect(r.warnings).toHaveLength(1)
    expect(r.warnings[0]).toMatch(CREATE_FAILED)
    expectNothingSaved(r, image, saved)
  })

  it('with create-builder: false, says exactly how to fix it', async () => {
    const r = await job({ workspace, image, classic: {}, inputs: { 'create-builder': 'false' } })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ key, 'cache-hit': 'true', 'cache-stale': 'true' })
    expect(r.warnings).toEqual([`::warning::${NO_EXPORT_FIX}`])
    expect(r.post?.log).toContain(NOT_SAVING)
    expect(r.writes).toBe(0)
  })
})
