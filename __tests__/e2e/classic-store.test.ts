// GitHub's ubuntu-24.04 runners run Docker with the classic image store, whose
// docker driver imports a local cache but cannot export one; ubuntu-26.04 has
// the containerd store, which can. One cache must serve both. On the classic
// store every run that saves goes through a docker-container builder the
// action creates (from moby/buildkit:buildx-stable-1, which engine-up.sh puts
// in the engine), and removes again in the post step. Two real engines from
// one root (scripts/engine-up.sh), the real client, the local cache service,
// the engines' own registry.
import { describe, expect, it, jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { TokenScope } from '../support/cache-service.js'
import { classicEngine, dockerAt, dockerConfig, uniqueWorkspaceFrom } from '../support/engine.js'
import { pullRequestInto, pushTo, writer } from '../support/events.js'
import { freshJob, leftovers, type JobOutcome } from '../support/fresh-job.js'
import { engineRegistries, registryTags } from '../support/registry.js'
import type { EventSpec } from '../support/run-action.js'
import { cacheServiceForFile } from '../support/suite.js'
import { builtSteps } from '../support/build-steps.js'
import { indexEntries } from '../support/entries.js'

jest.setTimeout(300_000)

const pushToMaster = pushTo('master')
const masterWriter = writer('master')
const pullRequest = pullRequestInto('master', 3)
const BUILDER = 'buildx-ci-cache'
const BUILDKIT = 'moby/buildkit:buildx-stable-1'

const NO_EXPORT_FIX =
  'The current builder uses the docker driver without the containerd image store, which cannot export a local cache, so nothing will be saved. ' +
  'Fix: set `create-builder: true`, or add docker/setup-buildx-action before this step, or enable the containerd image store ' +
  '("features": {"containerd-snapshotter": true} in /etc/docker/daemon.json).'
const CREATE_FAILED =
  /^::warning::The current builder uses the docker driver without the containerd image store, which cannot export a local cache, and could not create a docker-container builder \(.+\), so nothing will be saved\. Fix: let the runner pull the moby\/buildkit image/
const NOT_SAVING = 'Not saving the cache: the builder cannot export a local cache (see the warning above).'

const service = cacheServiceForFile()
const registries = engineRegistries()

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

const onClassic = (...args: string[]): string => dockerAt(classicEngine(), ...args)

/** What a builder leaves on the engine while it exists: its container and its state volume. */
function builderRemains(): string[] {
  return [
    ...onClassic('ps', '-a', '--filter', 'name=buildx_buildkit_', '--format', 'container {{.Names}}').split('\n'),
    ...onClassic('volume', 'ls', '--filter', 'name=buildx_buildkit_', '--format', 'volume {{.Name}}').split('\n')
  ].filter(Boolean)
}

function expectBuilt(r: JobOutcome): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.post?.exitCode).toBe(0)
  expect(r.main.outputs.imageid).toMatch(/^sha256:[0-9a-f]{64}$/)
  expect(leftovers(r.runnerTemp)).toEqual([])
}

/** A run that went through the builder the action created, which is gone after the job. */
function expectBuilderUsedAndRemoved(r: JobOutcome): void {
  expect(r.main.log).toContain(`Create the docker-container builder ${BUILDER}`)
  expect(r.post?.log).toContain(`Removed the docker-container builder ${BUILDER}.`)
  expect(builderRemains()).toEqual([])
}

const cachedSteps = (log: string): number => builtSteps(log).cached.length

const entriesOf = (image: string): string[] =>
  indexEntries(service)
    .filter(e => e.key.startsWith(`buildx/${image}/`))
    .map(e => e.key)

describe('the ubuntu-24.04 saving path: a docker-container builder the action creates', () => {
  const image = 'classic-store'
  const workspace = uniqueWorkspaceFrom('ci-image')

  it('saves a master run on the classic store through the builder, loads the image, and leaves no builder behind', async () => {
    const config = dockerConfig()
    const r = await job({ workspace, image, classic: { dockerConfig: config } })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'none', 'cached-steps': '0/7' })
    expect(r.warnings).toEqual([])
    expect(r.saves).toBe(1)
    expect(entriesOf(image)).toHaveLength(1)
    // The builder's `--load` sends the image to the engine as a tarball.
    expect(onClassic('image', 'inspect', '--format', '{{.Id}}', image).trim()).toBe(r.main.outputs.imageid)
    expectBuilderUsedAndRemoved(r)
    const ls = execFileSync('docker', ['buildx', 'ls'], {
      env: { ...process.env, DOCKER_HOST: classicEngine(), DOCKER_CONFIG: config },
      encoding: 'utf8'
    })
    expect(ls).not.toContain(BUILDER)
  })

  it('gives a pull request on the classic store every step cached from it, on the docker driver, and it writes nothing', async () => {
    const r = await job({ workspace, image, classic: {}, ...pullRequest })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({
      'cache-hit': 'true',
      'cache-source': 'base-branch',
      'cache-stale': 'false',
      'cached-steps': '7/7'
    })
    expect(cachedSteps(r.main.log)).toBe(7)
    expect(r.main.log).not.toContain('Create the docker-container builder')
    expect(r.warnings).toEqual([])
    expect(r.writes).toBe(0)
  })

  it('gives a pull request on the containerd store every step cached from the same entry', async () => {
    const r = await job({ workspace, image, ...pullRequest })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cached-steps': '7/7' })
    expect(r.writes).toBe(0)
  })

  // What a failed build keeps of its progress: progress-on-failure.test.ts.
  it('removes the builder when the build fails, after keeping what it finished, and fails with the build error', async () => {
    const failing = uniqueWorkspaceFrom('ci-image')
    fs.appendFileSync(path.join(failing, 'Dockerfile'), 'RUN echo the test suite failed >&2 && exit 3\n')
    const r = await job({ workspace: failing, image: 'classic-failing', classic: {} })
    expect(r.main.exitCode).toBe(1)
    expect(r.main.log).toMatch(/^::error::.*exit code: 3/m)
    expect(r.saves).toBe(1)
    expect(entriesOf('classic-failing')).toEqual([expect.stringMatching(/\.partial\/[0-9a-z]+$/)])
    expect(leftovers(r.runnerTemp)).toEqual([])
    expectBuilderUsedAndRemoved(r)
  })

  it('warns and builds without saving when the builder cannot start (its image cannot be pulled), and none is left', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'no buildkit image\n')
    const saved = entriesOf(image)
    // As on a runner that cannot pull moby/buildkit: the image is not there.
    onClassic('image', 'rm', BUILDKIT)
    try {
      const r = await job({ workspace, image, classic: {} })
      expectBuilt(r)
      expect(r.main.outputs).toMatchObject({ 'cache-hit': 'false', 'cache-source': 'branch' })
      expect(r.warnings).toHaveLength(1)
      expect(r.warnings[0]).toMatch(CREATE_FAILED)
      expect(r.post?.log).toContain(NOT_SAVING)
      expect(r.writes).toBe(0)
      expect(entriesOf(image)).toEqual(saved)
      expect(builderRemains()).toEqual([])
    } finally {
      onClassic('image', 'tag', 'moby/buildkit:v0.32.2', BUILDKIT)
    }
  })

  it('with create-builder: false, imports, says exactly how to fix it, and builds', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'classic four\n')
    const saved = entriesOf(image)
    const r = await job({ workspace, image, classic: {}, inputs: { 'create-builder': 'false' } })
    expectBuilt(r)
    expect(r.main.outputs['cached-steps']).toBe('5/7')
    expect(r.main.log).not.toContain('Create the docker-container builder')
    expect(r.warnings).toEqual([`::warning::${NO_EXPORT_FIX}`])
    expect(r.post?.log).toContain(NOT_SAVING)
    expect(entriesOf(image)).toEqual(saved)
  })
})

describe('a stale entry healed on the classic store', () => {
  const image = 'classic-stale'
  // A docker-container builder sees none of the engine's images: the base
  // comes from a registry, as on a real runner.
  const base = `${registries.open}/classic-stale-base:1`
  const workspace = uniqueWorkspaceFrom('ci-image')
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'base-'))
  fs.copyFileSync(path.join(workspace, 'busybox'), path.join(baseDir, 'busybox'))
  fs.writeFileSync(
    path.join(workspace, 'Dockerfile'),
    `FROM ${base}\nCOPY scripts/setup.sh /tmp/setup.sh\nRUN sh /tmp/setup.sh\nCOPY data/ /data/\nRUN cat /base-version /data/version.txt > /stamp\n`
  )
  const publishBase = (version: string): void => {
    fs.writeFileSync(
      path.join(baseDir, 'Dockerfile'),
      `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN echo ${version} > /base-version\n`
    )
    dockerAt(undefined, 'buildx', 'build', '--quiet', '--push', '--tag', base, baseDir)
  }
  let key = ''

  it('is saved by a master run on the classic store', async () => {
    publishBase('one')
    const r = await job({ workspace, image, classic: {} })
    expectBuilt(r)
    expect(r.main.outputs['cached-steps']).toBe('0/4')
    expect(r.saves).toBe(1)
    key = r.main.outputs.key
  })

  it('is refreshed by the next master run on the classic store once the base moved, through the builder', async () => {
    publishBase('two')
    const r = await job({ workspace, image, classic: {} })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ key, 'cache-hit': 'true', 'cache-source': 'exact', 'cache-stale': 'true' })
    expect(r.main.log).toMatch(
      /^::notice::The cache matched but \d of 4 steps were rebuilt .*; refreshing the entry\.$/m
    )
    expect(r.main.log).toContain('Export the refreshed cache')
    expect(r.warnings).toEqual([])
    expect(r.saves).toBe(1)
    expect(entriesOf(image)).toHaveLength(2)
    expectBuilderUsedAndRemoved(r)
  })

  it('serves the run after it every step, and that run saves nothing', async () => {
    const r = await job({ workspace, image, classic: {} })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ key, 'cache-stale': 'false', 'cached-steps': '4/4' })
    expect(r.writes).toBe(0)
    expect(builderRemains()).toEqual([])
  })
})

describe('the registry backend on the classic store', () => {
  const image = 'classic-registry'
  const cacheRef = `${registries.open}/classic-cache-${process.pid}`
  const workspace = uniqueWorkspaceFrom('ci-image')
  const inputs = { 'cache-backend': 'registry', 'cache-ref': cacheRef }

  it('pushes the cache from the builder it creates, which reaches the runner-local registry', async () => {
    const r = await job({ workspace, image, classic: {}, inputs })
    expectBuilt(r)
    expect(r.warnings).toEqual([])
    expect(Object.keys(registryTags(registries, cacheRef))).toHaveLength(2)
    expectBuilderUsedAndRemoved(r)
  })

  it('gives a pull request on the classic store every step cached from the registry', async () => {
    const r = await job({ workspace, image, classic: {}, inputs, ...pullRequest })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-source': 'base-branch', 'cached-steps': '7/7' })
    expect(r.warnings).toEqual([])
    expect(Object.keys(registryTags(registries, cacheRef))).toHaveLength(2)
  })
})
