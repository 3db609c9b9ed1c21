// The main step's decisions with the toolkit, the engine and the store
// replaced by typed stand-ins: which builds run, with which cache, and what
// the post step is told to save. The end-to-end suites run the same paths for real.
import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { coreMock, freshRecord, type CoreRecord } from '../../support/core-mock.js'
import type { CacheLocation, CacheStore, Exported, Restored, SaveResult } from '../../../src/cache/store.js'
import type { BuildOutcome } from '../../../src/docker/build.js'
import type { BuildCache, BuildSetup } from '../../../src/docker/buildx-args.js'
import type { StepState } from '../../../src/steps/step-state.js'
import { HASH_VERSION } from '../../../src/key/hash-version.js'

const HASH = 'c'.repeat(64)
const CONTENT = `buildx/ci/master/${HASH}`
const EXPORT: CacheLocation = { type: 'local', dir: '/tmp/export' }
const RESTORED: CacheLocation = { type: 'local', dir: '/tmp/restored' }

let record: CoreRecord
let event: { eventName: string; ref: string; payload: Record<string, unknown> }
let entry: Restored | undefined
let steps: { cached: number; total: number }
let exportCheck: Exported = { sizeBytes: 1234 }
// What buildx prints about a failed export, and what the store was told of it.
let exportError: string | undefined
const exportedWith: Array<string | undefined> = []
const builds: Array<{ cache: BuildCache; how: Pick<BuildSetup, 'builder' | 'output' | 'origin'> }> = []
const restores: number[] = []
// The current builder's name (unset: unknown, and the engine is not asked), and what `docker image inspect` answers.
let builderName: string | undefined
let inspect: { exitCode: number; stdout: string; stderr: string }
const inspected: string[][] = []
const exports: number[] = []

const store: CacheStore = {
  backend: 'gha',
  restore: async () => {
    restores.push(1)
    return entry
  },
  exportTo: async () => {
    exports.push(1)
    return EXPORT
  },
  exported: async (buildError?: string) => {
    exportedWith.push(buildError)
    return buildError === undefined ? exportCheck : { sizeBytes: 0, problem: `the store explains: ${buildError}` }
  },
  save: async (): Promise<SaveResult> => ({ saved: false, reason: 'not in the main step' }),
  temporaryPaths: () => []
}

jest.unstable_mockModule('@actions/core', () =>
  coreMock(new Proxy({} as CoreRecord, { get: (_t, p) => record[p as keyof CoreRecord] }))
)
jest.unstable_mockModule('@actions/github', () => ({
  context: new Proxy({}, { get: (_t, p) => event[p as keyof typeof event] })
}))
jest.unstable_mockModule('../../../src/cache/create.js', () => ({ createStore: () => store }))
jest.unstable_mockModule('../../../src/key/hash.js', () => ({
  imageHash: async () => ({ hash: HASH, origin: 'test', files: [], settings: [] })
}))
jest.unstable_mockModule('../../../src/docker/builder.js', () => ({
  builderFacts: async () => ({ driver: 'docker', containerdStore: true, name: builderName }),
  pickBuilder: async () => ({ exportBlocked: false })
}))
jest.unstable_mockModule('../../../src/docker/docker-cli.js', () => ({
  docker: async (args: string[]) => {
    inspected.push(args)
    // A docker CLI that cannot be started at all.
    if (inspect.exitCode < 0) throw new Error('Unable to locate executable file: docker')
    return { ...inspect, output: inspect.stdout + inspect.stderr }
  }
}))
jest.unstable_mockModule('../../../src/docker/build.js', () => ({
  BuildError: class BuildError extends Error {},
  buildDir: (temp: string) => path.join(temp, 'build'),
  build: async (
    _inputs: unknown,
    cache: BuildCache,
    how: Pick<BuildSetup, 'builder' | 'output' | 'origin'>
  ): Promise<BuildOutcome> => {
    builds.push({ cache, how })
    // The export-only call finds everything in the builder.
    const counts = how.output === 'cache' ? { cached: steps.total, total: steps.total } : steps
    return {
      steps: counts,
      retriedWithoutCache: false,
      imageId: 'sha256:1',
      bases: [],
      digest: '',
      cacheExportError: cache.to ? exportError : undefined
    }
  }
}))

const { runMain } = await import('../../../src/steps/main-step.js')

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'main-step-'))
fs.writeFileSync(path.join(workspace, 'Dockerfile'), 'FROM scratch\n')
process.env.GITHUB_WORKSPACE = workspace
process.env.RUNNER_TEMP = workspace

const push = { eventName: 'push', ref: 'refs/heads/master', payload: { repository: { default_branch: 'master' } } }
const pullRequest = {
  eventName: 'pull_request',
  ref: 'refs/pull/7/merge',
  payload: { repository: { default_branch: 'master' } }
}
const exact = (over: Partial<Restored> = {}): Restored => ({
  matchedKey: `${CONTENT}/00000001`,
  from: [RESTORED],
  sizeBytes: 10,
  ...over
})

function report(): StepState {
  return JSON.parse(record.state.report) as StepState
}

async function run(scenario: {
  event: typeof push
  entry?: Restored
  steps: { cached: number; total: number }
  exported?: Exported
  /** The engine's answer to `docker image inspect` on builder `default`; unset: the builder is unknown. */
  engine?: { exitCode: number; stdout: string; stderr?: string }
  inputs?: Record<string, string>
}): Promise<void> {
  record = freshRecord({ image: 'ci', ...scenario.inputs })
  builderName = scenario.engine ? 'default' : undefined
  inspect = { stderr: '', ...(scenario.engine ?? { exitCode: 1, stdout: '' }) }
  inspected.length = 0
  restores.length = 0
  event = scenario.event
  entry = scenario.entry
  steps = scenario.steps
  builds.length = 0
  exports.length = 0
  exportCheck = scenario.exported ?? { sizeBytes: 1234 }
  exportedWith.length = 0
  await runMain()
  exportError = undefined
  expect(record.failed).toBeUndefined()
}

describe('the main step', () => {
  beforeEach(() => {
    delete process.env.GITHUB_HEAD_REF
    delete process.env.GITHUB_BASE_REF
  })

  it('builds once and exports nothing on an exact hit with every step cached', async () => {
    await run({ event: push, entry: exact(), steps: { cached: 6, total: 6 } })
    expect(builds).toHaveLength(1)
    expect(builds[0].cache).toEqual({ from: [RESTORED], to: undefined })
    expect(exports).toHaveLength(0)
    expect(record.outputs).toMatchObject({
      key: CONTENT,
      'cache-hit': 'true',
      'cache-source': 'exact',
      'cached-steps': '6/6',
      'cache-stale': 'false'
    })
    expect(report().save).toEqual({ save: false, skip: { kind: 'exact-hit', key: CONTENT } })
  })

  it('refreshes an exact hit that rebuilt steps with an export-only second build, on a run that may write', async () => {
    await run({ event: push, entry: exact(), steps: { cached: 2, total: 6 } })
    expect(builds.map(b => b.how.output)).toEqual(['image', 'cache'])
    expect(builds[1].cache).toEqual({ from: [RESTORED], to: EXPORT })
    expect(record.outputs).toMatchObject({ 'cache-hit': 'true', 'cached-steps': '2/6', 'cache-stale': 'true' })
    expect(report()).toMatchObject({ stale: true, save: { save: true, why: { kind: 'stale', cached: 2, total: 6 } } })
    expect(record.log).toContain(
      '::notice::The cache matched but 4 of 6 steps were rebuilt (a base image may have moved); refreshing the entry.'
    )
  })

  it('says who refreshes a stale entry on a run that may not write, and exports nothing', async () => {
    await run({
      event: pullRequest,
      entry: exact({ matchedKey: `${CONTENT}/00000001` }),
      steps: { cached: 2, total: 6 }
    })
    expect(builds).toHaveLength(1)
    expect(exports).toHaveLength(0)
    expect(record.outputs['cache-stale']).toBe('true')
    expect(report().save).toMatchObject({ save: false, skip: { kind: 'denied', denial: { kind: 'pull-request' } } })
    expect(record.log.join('\n')).toMatch(
      /::notice::The cache matched but 4 of 6 steps were rebuilt \(a base image may have moved\); the next run that may write \(push, schedule or workflow_dispatch on master\) refreshes it\./
    )
  })

  it('exports during the build when the entry of this content is broken, and saves to replace it', async () => {
    await run({
      event: push,
      entry: exact({ from: [], problem: 'blob sha256:0 is missing' }),
      steps: { cached: 0, total: 6 }
    })
    expect(builds).toHaveLength(1)
    expect(builds[0].cache).toEqual({ from: [], to: EXPORT })
    expect(record.outputs['cache-hit']).toBe('false')
    expect(report()).toMatchObject({
      stale: true,
      save: { save: true, why: { kind: 'broken', problem: 'blob sha256:0 is missing' } }
    })
  })

  it("exports during the build after a fallback to another content's entry", async () => {
    await run({
      event: push,
      entry: exact({ matchedKey: `buildx/ci/master/${'d'.repeat(64)}/00000001` }),
      steps: { cached: 4, total: 6 }
    })
    expect(builds[0].cache.to).toEqual(EXPORT)
    expect(record.outputs).toMatchObject({ 'cache-hit': 'false', 'cache-source': 'branch', 'cache-stale': 'false' })
    expect(report().save).toEqual({ save: true, why: { kind: 'new-content' } })
  })

  it('saves nothing when the export came out incomplete, and says so without failing the build', async () => {
    await run({
      event: push,
      steps: { cached: 0, total: 6 },
      exported: { sizeBytes: 10, problem: 'blob sha256:0 is missing' }
    })
    expect(report().save).toEqual({ save: false, skip: { kind: 'export-failed', problem: 'blob sha256:0 is missing' } })
    expect(record.log).toContain(
      '::warning::Not saving the cache: the build could not export a complete cache (blob sha256:0 is missing).'
    )
  })

  it('hands the store what buildx said about an export that failed without failing the build, and saves nothing', async () => {
    const refused =
      'error writing layer blob: unexpected status from HEAD request to https://ghcr.io/v2/acme/c/blobs/sha256:0: 403 Forbidden'
    exportError = refused
    await run({ event: push, steps: { cached: 0, total: 6 } })
    expect(builds).toHaveLength(1)
    expect(exportedWith).toEqual([refused])
    expect(report().save).toEqual({
      save: false,
      skip: { kind: 'export-failed', problem: `the store explains: ${refused}` }
    })
    expect(record.log.join('\n')).toContain(
      '::warning::Not saving the cache: the build could not export a complete cache (the store explains: error writing layer blob'
    )
  })

  it("hands the store the refresh's own export failure, and keeps the stale entry", async () => {
    const refused = 'unexpected status from POST request to https://r/v2/c/blobs/uploads/: 405 Method Not Allowed'
    exportError = refused
    await run({ event: push, entry: exact(), steps: { cached: 2, total: 6 } })
    expect(builds.map(b => b.how.output)).toEqual(['image', 'cache'])
    expect(exportedWith).toEqual([refused])
    expect(report()).toMatchObject({ stale: true, save: { save: false, skip: { kind: 'export-failed' } } })
  })

  it('builds cold and saves on a miss', async () => {
    await run({ event: push, steps: { cached: 0, total: 6 } })
    expect(builds[0].cache).toEqual({ from: [], to: EXPORT })
    expect(record.outputs).toMatchObject({ 'matched-key': '', 'cache-source': 'none', 'cache-hit': 'false' })
  })
})

// What `docker image inspect --format '{{json .Config.Labels}}'` prints for an image built by this action.
const labels = (key: string, builder = 'default', version = HASH_VERSION) => ({
  exitCode: 0,
  stdout: `${JSON.stringify({
    'io.github.buildx-ci-cache.key': key,
    'io.github.buildx-ci-cache.hash-version': version,
    'io.github.buildx-ci-cache.builder': builder
  })}\n`
})

describe('the main step on an engine that holds an image', () => {
  it("skips the restore and builds from the builder's own cache when the image was built for this key", async () => {
    await run({ event: push, entry: exact(), steps: { cached: 6, total: 6 }, engine: labels(CONTENT) })
    expect(inspected).toEqual([['image', 'inspect', '--format', '{{json .Config.Labels}}', 'ci']])
    expect(restores).toHaveLength(0)
    expect(builds).toHaveLength(1)
    expect(builds[0].cache).toEqual({ from: [], to: undefined })
    expect(record.outputs).toMatchObject({
      'matched-key': CONTENT,
      'cache-hit': 'true',
      'cache-source': 'engine',
      'cache-size': '0',
      'cache-stale': 'false'
    })
    expect(report().source).toBe('engine')
    // Nothing was downloaded: the summary shows no restore.
    expect(report().restore).toBeUndefined()
    expect(report().save).toEqual({ save: false, skip: { kind: 'exact-hit', key: CONTENT } })
    expect(record.log.join('\n')).toContain(`The engine holds ci, built for this key (${CONTENT}) on builder default`)
  })

  it('judges a pruned engine stale, and a run that may write refreshes the entry', async () => {
    await run({ event: push, steps: { cached: 1, total: 6 }, engine: labels(CONTENT) })
    expect(restores).toHaveLength(0)
    expect(builds.map(b => b.how.output)).toEqual(['image', 'cache'])
    expect(builds[1].cache).toEqual({ from: [], to: EXPORT })
    expect(record.outputs).toMatchObject({ 'cache-source': 'engine', 'cache-stale': 'true' })
    expect(report().save).toEqual({ save: true, why: { kind: 'stale', cached: 1, total: 6 } })
  })

  it('lets a pull request use the engine, and it still writes nothing', async () => {
    // The pull request's first job on this runner built the image for its own key.
    await run({ event: pullRequest, steps: { cached: 0, total: 6 }, engine: { exitCode: 1, stdout: '' } })
    const key = record.outputs.key
    await run({ event: pullRequest, steps: { cached: 6, total: 6 }, engine: labels(key) })
    expect(restores).toHaveLength(0)
    expect(record.outputs['cache-source']).toBe('engine')
    expect(exports).toHaveLength(0)
    expect(report().save).toMatchObject({ save: false, skip: { kind: 'denied' } })
  })

  it.each([
    ['another key', labels(`buildx/ci/master/${'d'.repeat(64)}`)],
    ['another builder', labels(CONTENT, 'builder-1234')],
    ['another hash version', labels(CONTENT, 'default', `${HASH_VERSION}-old`)],
    ['no labels', { exitCode: 0, stdout: 'null\n' }],
    ['labels of someone else', { exitCode: 0, stdout: '{"maintainer":"x"}\n' }],
    ['no such image', { exitCode: 1, stdout: '', stderr: 'Error: No such image: ci' }],
    ['an answer that is not JSON', { exitCode: 0, stdout: 'permission denied\n' }],
    ['a docker CLI that cannot start', { exitCode: -1, stdout: '' }]
  ])('restores as usual when the engine holds %s', async (_what, engine) => {
    await run({ event: push, entry: exact(), steps: { cached: 6, total: 6 }, engine })
    expect(restores).toHaveLength(1)
    expect(builds[0].cache.from).toEqual([RESTORED])
    expect(record.outputs).toMatchObject({ 'cache-source': 'exact', 'matched-key': `${CONTENT}/00000001` })
  })

  it('labels the image it builds on the current builder with the key, the hash version and the builder', async () => {
    await run({ event: push, steps: { cached: 0, total: 6 }, engine: { exitCode: 1, stdout: '' } })
    expect(builds[0].how.origin).toEqual({ key: CONTENT, builder: 'default' })
  })

  it('asks the engine nothing with no-cache', async () => {
    await run({ event: push, steps: { cached: 0, total: 6 }, engine: labels(CONTENT), inputs: { 'no-cache': 'true' } })
    expect(inspected).toHaveLength(0)
    expect(restores).toHaveLength(0)
    expect(record.outputs).toMatchObject({ 'cache-source': 'none', 'cache-hit': 'false' })
  })
})
