// A build that fails after hours of toolchain steps keeps them: on a run that
// may write, the steps that finished are exported by a second build of the
// Dockerfile cut before the failing instruction, and saved as a partial entry,
// which the next run of the branch (the fix) restores. The real engine
// (containerd store, and the classic store through the docker-container
// builder the action creates), the real client, the cache service stand-in,
// a real registry and a local cache root.
import { afterAll, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { branchTag } from '../../src/cache/registry-tags.js'
import { KEY_ANNOTATION } from '../../src/cache/registry-manifest.js'
import { builtSteps } from '../support/build-steps.js'
import { classicEngine, dockerConfig, uniqueWorkspaceFrom } from '../support/engine.js'
import { indexEntries } from '../support/entries.js'
import { pullRequestInto } from '../support/events.js'
import { leftovers, defaultBranchJobs, type JobOutcome } from '../support/fresh-job.js'
import { engineRegistries, registryTags } from '../support/registry.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(300_000)

const service = cacheServiceForFile()

// 8 MiB that no cache holds before the first run: the "heavy" toolchain step.
const HEAVY = 'RUN head -c 8388608 /dev/urandom > /heavy.bin'
const FAILING = 'RUN echo the tests failed >&2 && exit 3'
const FIXED = 'RUN echo the tests pass > /tests.log'

/** The fixture's Dockerfile (7 steps), then the heavy step, then `last`. */
function withSteps(workspace: string, ...last: string[]): void {
  const file = path.join(workspace, 'Dockerfile')
  const original = path.join(workspace, 'Dockerfile.original')
  if (!fs.existsSync(original)) fs.copyFileSync(file, original)
  fs.writeFileSync(file, `${fs.readFileSync(original, 'utf8').trimEnd()}\n${last.join('\n')}\n`)
}

const job = defaultBranchJobs(service)

/** The lines of one log group. */
function group(log: string, title: string): string {
  const start = log.indexOf(`::group::${title}`)
  if (start < 0) return ''
  const end = log.indexOf('::endgroup::', start)
  return log.slice(start, end < 0 ? undefined : end)
}

const CUT_GROUP = 'Export the steps the failed build finished'
const BUILD_ERROR =
  /::error::The image build failed \(docker buildx exit code 1\): .*process "\/bin\/sh -c echo the tests failed >&2 && exit 3" did not complete successfully: exit code: 3/
const savedLine = (n: number): RegExp =>
  new RegExp(
    `saved the ${n} steps that finished \\(\\d+\\.\\d MB\\); the failing step was \`RUN echo the tests failed >&2 && exit 3\``
  )

/** Seconds the cut build took, as the log says it. */
function cutSeconds(r: JobOutcome): number {
  return Number(/Kept \d+ steps \([\d.]+ MB\) in ([\d.]+) s/.exec(r.main.log)?.[1] ?? Number.NaN)
}

/** The failed run kept its progress: the build's own error, a cut build with every step CACHED, one partial save. */
function expectProgressKept(r: JobOutcome, finished: number): void {
  expect(r.main.exitCode).not.toBe(0)
  expect(r.main.log).toMatch(BUILD_ERROR)
  const cut = builtSteps(group(r.main.log, CUT_GROUP))
  expect(cut.all).toHaveLength(finished)
  expect(cut.all).toContain(HEAVY)
  expect(cut.all).not.toContain(FAILING)
  // The cut reproduced the keys of every finished step: the builder served them all.
  expect(cut.cached.sort()).toEqual(cut.all.sort())
  expect(r.post?.exitCode).toBe(0)
  expect(r.post?.log).toMatch(savedLine(finished))
  expect(r.summary).toContain('**partial**: saved the')
  expect(r.summary).toContain(
    'the failing step was <code>RUN echo the tests failed &gt;&amp;2 &amp;&amp; exit 3</code>'
  )
  expect(r.summary).toContain('failed after')
  expect(leftovers(r.runnerTemp)).toEqual([])
}

/** A failed run that saved nothing, and said why. */
function expectNothingSaved(r: JobOutcome, why: string | RegExp): void {
  expect(r.main.exitCode).not.toBe(0)
  expect(r.writes).toBe(0)
  if (typeof why === 'string') expect(r.main.log).toContain(why)
  else expect(r.main.log).toMatch(why)
  expect(r.main.log).not.toContain(`::group::${CUT_GROUP}`)
  expect(r.post?.log).toContain('Not saving the cache: the build failed.')
  expect(leftovers(r.runnerTemp)).toEqual([])
}

/** The fix, on a fresh runner: it restores the partial entry, which is no hit, and the heavy step comes from it. */
function expectFixBuiltFromPartial(r: JobOutcome, partialKey: RegExp): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.main.outputs['matched-key']).toMatch(partialKey)
  expect(r.main.outputs['cache-hit']).toBe('false')
  expect(r.main.outputs['cache-source']).toBe('branch')
  expect(r.main.log).toContain(`The entry restored, ${r.main.outputs['matched-key']}, is partial`)
  const built = builtSteps(r.main.log)
  expect(built.cached).toContain(HEAVY)
  expect(built.cached).not.toContain(FIXED)
  expect(r.summary).toContain('(**partial**: what a failed build finished)')
  expect(leftovers(r.runnerTemp)).toEqual([])
}

const figures: string[] = []
afterAll(() => {
  if (figures.length > 0) console.log(`What the cut build cost:\n${figures.join('\n')}`)
})

describe('a default-branch build that fails after a new heavy step (gha, containerd store)', () => {
  const image = 'progress-gha'
  const workspace = uniqueWorkspaceFrom('ci-image')
  let failedKey = ''

  it('fails with the build’s own error and saves the 8 steps that finished as a partial entry', async () => {
    withSteps(workspace, HEAVY, FAILING)
    const r = await job({ workspace, image })
    expectProgressKept(r, 8)
    failedKey = r.main.outputs.key
    expect(r.saves).toBe(1)
    const keys = indexEntries(service).map(e => e.key)
    expect(keys).toHaveLength(1)
    expect(keys[0].startsWith(`${failedKey}.partial/`)).toBe(true)
    figures.push(`gha, containerd store, docker driver: ${cutSeconds(r)} s`)
  })

  it('restores the partial entry on a retry, as no hit, and saves nothing more when no new step finished', async () => {
    const r = await job({ workspace, image })
    expect(r.main.outputs.key).toBe(failedKey)
    expect(r.main.outputs['matched-key'].startsWith(`${failedKey}.partial/`)).toBe(true)
    expect(r.main.outputs['cache-hit']).toBe('false')
    expect(r.main.outputs['cache-source']).toBe('branch')
    // Every finished step now comes from the partial entry: nothing new to keep.
    expectNothingSaved(r, 'every step that finished came from the restored cache')
  })

  it('gives the fixed build on a fresh runner the heavy step CACHED, and saves it whole', async () => {
    withSteps(workspace, HEAVY, FIXED)
    const r = await job({ workspace, image })
    expectFixBuiltFromPartial(r, new RegExp(`^${failedKey.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.partial/`))
    expect(r.main.outputs.key).not.toBe(failedKey)
    expect(r.saves).toBe(1)
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}/`)
    expect(r.post?.log).not.toContain('The build failed')
  })

  it('saves nothing for a pull request that fails the same way', async () => {
    withSteps(workspace, HEAVY, 'RUN echo the pull request fails >&2 && exit 3')
    const pr = pullRequestInto('master', 17)
    const r = await job({ workspace, image, ...pr })
    expect(r.main.exitCode).not.toBe(0)
    expect(r.writes).toBe(0)
    expect(r.main.log).not.toContain(`::group::${CUT_GROUP}`)
    expect(leftovers(r.runnerTemp)).toEqual([])
  })

  it('saves nothing with save-on-failure: false', async () => {
    withSteps(workspace, HEAVY, 'RUN head -c 1024 /dev/urandom > /other.bin', FAILING)
    const r = await job({ workspace, image, inputs: { 'save-on-failure': 'false' } })
    expectNothingSaved(r, 'Nothing of the failed build is saved: save-on-failure is false.')
  })

  it('saves nothing for a Dockerfile syntax error', async () => {
    withSteps(workspace, HEAVY, 'RUN head -c 2048 /dev/urandom > /new.bin', 'FROBNICATE the tests')
    const r = await job({ workspace, image })
    expectNothingSaved(r, /no step of the Dockerfile failed|unknown instruction/)
  })

  it('saves nothing when the first step fails', async () => {
    const first = uniqueWorkspaceFrom('ci-image')
    fs.writeFileSync(path.join(first, 'Dockerfile'), 'FROM scratch\nRUN ["/bin/busybox", "false"]\nCOPY nonce /nonce\n')
    const r = await job({ workspace: first, image: 'progress-first-step' })
    expectNothingSaved(r, 'Nothing of the failed build is saved: the first step')
  })
})

describe('the classic store, through the docker-container builder the action creates', () => {
  const image = 'progress-classic'
  const workspace = uniqueWorkspaceFrom('ci-image')
  const classic = (): Record<string, string> => ({ DOCKER_HOST: classicEngine(), DOCKER_CONFIG: dockerConfig() })

  it('keeps the progress of a failed build and gives the fix the heavy step CACHED', async () => {
    withSteps(workspace, HEAVY, FAILING)
    const failed = await job({ workspace, image, env: classic() })
    expectProgressKept(failed, 8)
    expect(failed.main.log).toContain('Create the docker-container builder')
    expect(failed.saves).toBe(1)
    figures.push(`gha, classic store, docker-container builder: ${cutSeconds(failed)} s`)
    const key = failed.main.outputs.key

    withSteps(workspace, HEAVY, FIXED)
    const fixed = await job({ workspace, image, env: classic() })
    expectFixBuiltFromPartial(fixed, new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.partial/`))
    expect(fixed.saves).toBe(1)
  })
})

describe('the local backend', () => {
  const image = 'progress-local'
  const workspace = uniqueWorkspaceFrom('ci-image')
  const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-'))
  const inputs = { 'cache-backend': 'local', 'cache-root': cacheRoot }
  const scope = path.join(cacheRoot, 'buildx', image, 'master')

  it('saves the partial entry beside the whole one, and the fix takes the heavy step from it', async () => {
    const first = await job({ workspace, image, inputs })
    expect(first.main.exitCode).toBe(0)
    const whole = path.basename(first.main.outputs.key)

    withSteps(workspace, HEAVY, FAILING)
    const failed = await job({ workspace, image, inputs })
    expectProgressKept(failed, 8)
    figures.push(`local, containerd store: ${cutSeconds(failed)} s`)
    const partial = `${path.basename(failed.main.outputs.key)}.partial`
    // The partial entry never replaces a whole one.
    expect(fs.readdirSync(scope).sort()).toEqual([partial, whole].sort())

    withSteps(workspace, HEAVY, FIXED)
    const fixed = await job({ workspace, image, inputs })
    expectFixBuiltFromPartial(fixed, new RegExp(`/${partial}$`))
    // A whole save supersedes every older entry of the branch, the partial one too.
    expect(fs.readdirSync(scope)).toEqual([path.basename(fixed.main.outputs.key)])
  })
})

describe('the registry backend', () => {
  const registries = engineRegistries()
  const image = 'progress-registry'
  const repository = `progress-${Date.now().toString(36)}`
  const cacheRef = `${registries.open}/${repository}`
  const workspace = uniqueWorkspaceFrom('ci-image')
  const inputs = { 'cache-backend': 'registry', 'cache-ref': cacheRef }
  const env = (): Record<string, string> => ({ DOCKER_CONFIG: dockerConfig() })

  it('pushes the partial entry under a tag of its own, points the branch at it, and the fix takes the heavy step from it', async () => {
    withSteps(workspace, HEAVY, FAILING)
    const failed = await job({ workspace, image, inputs, env: env() })
    expectProgressKept(failed, 8)
    expect(failed.calls).toEqual([])
    figures.push(`registry, containerd store: ${cutSeconds(failed)} s`)
    const partial = `${failed.main.outputs.key}.partial`
    const tags = registryTags(registries, cacheRef)
    const branch = tags[branchTag(`buildx/${image}/master/`)]
    expect(branch?.manifest.annotations?.[KEY_ANNOTATION]).toBe(partial)

    withSteps(workspace, HEAVY, FIXED)
    const fixed = await job({ workspace, image, inputs, env: env() })
    expectFixBuiltFromPartial(fixed, new RegExp(`^${partial.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))
  })
})
