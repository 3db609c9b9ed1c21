// The cache can fail in every way it can, and the build still does not: the
// bundled action on a real engine, the real @actions/cache client, a local
// cache service told to misbehave, and restored directories broken by hand.
// Each test checks what a user sees: the exit code, a `::warning::` saying
// what happened, the outputs, and an empty RUNNER_TEMP after the post step.
import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as cache from '@actions/cache'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runtimeToken, type Fault, type TokenScope } from '../support/cache-service.js'
import { freshRunner, uniqueWorkspaceFrom, workspaceFrom } from '../support/engine.js'
import { MASTER, pushTo, writer } from '../support/events.js'
import { freshJob, leftovers, type JobOutcome } from '../support/fresh-job.js'
import { runJob, type EventSpec } from '../support/run-action.js'
import { dropLargestBlob, layerBlobs, withClient } from '../support/client.js'
import { dockerSpy, type DockerSpy } from '../support/docker-spy.js'
import { isPack } from '../support/entries.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(120_000)

const onMaster = pushTo('master')
const onFeature = pushTo('feature')
const masterToken = writer('master')
const featureToken = writer('feature')
const IMAGE = 'fault-image'

const service = cacheServiceForFile()
afterEach(() => service.setFault(undefined))

interface Job {
  workspace: string
  event?: EventSpec
  scopes?: TokenScope[]
  inputs?: Record<string, string>
  env?: Record<string, string>
  /** Called once the main step is running, e.g. to cancel it. */
  during?: (runnerTemp: string) => Promise<void>
}

type Outcome = JobOutcome

const job = (spec: Job): Promise<Outcome> =>
  freshJob(service, {
    ...spec,
    image: spec.inputs?.image ?? IMAGE,
    event: spec.event ?? onMaster,
    scopes: spec.scopes ?? masterToken
  })

/** The user-visible promise of every fault test. */
function expectBuiltAndClean(r: Outcome): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.main.outputs.imageid).toMatch(/^sha256:[a-f0-9]{64}$/)
  expect(r.post?.exitCode).toBe(0)
  expect(leftovers(r.runnerTemp)).toEqual([])
}

function warned(r: Outcome, pattern: RegExp): void {
  expect(r.warnings.join('\n')).toMatch(pattern)
}

/**
 * What a given-up cache call must not change: the build ran in the job's
 * working directory with the runner's variables as the job set them, found
 * nothing the call had unpacked or left in its temp dir, and no client is
 * still running.
 */
function expectUntouched(r: Outcome, spy: DockerSpy, workspace: string, indexRestored = false): void {
  const builds = spy.calls().filter(c => c.command[0] === 'buildx' && c.command[1] === 'build')
  expect(builds.length).toBeGreaterThan(0)
  for (const call of builds) {
    expect(call).toMatchObject({ cwd: workspace, runnerTemp: r.runnerTemp, workspace })
    // An entry served to the builder keeps its index (kilobytes) on disk during the build.
    if (!indexRestored) expect(call.actionFiles).not.toContain(IMAGE)
    expect(call.actionFiles).not.toContain(`${IMAGE}.client-tmp`)
  }
  expect(clientProcesses(r)).toEqual([])
}

/** Cache client processes of this job still alive: they run with their own RUNNER_TEMP. */
function clientProcesses(r: Outcome): Array<{ pid: number; cmdline: string }> {
  return processesWithEnv('RUNNER_TEMP', path.join(r.runnerTemp, 'buildx-ci-cache', `${IMAGE}.client-tmp`))
}

describe('a cache service that fails', () => {
  const workspace = workspaceFrom('ci-image')
  let warmKey = ''

  beforeAll(async () => {
    const r = await job({ workspace })
    expect(r.post?.log).toContain('Cache saved with key:')
    warmKey = r.main.outputs.key
  })

  it('is down (connection refused): builds without the cache and warns on restore and save', async () => {
    service.setFault({ kind: 'refuse' })
    const r = await job({ workspace })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('none')
    warned(r, /Failed to restore: .*ECONNREFUSED/)
    warned(r, new RegExp(`Cache not saved with key ${warmKey}: the cache service did not accept the entry`))
  })

  it('answers 429 with Retry-After: builds without the cache and warns about the rate limit', async () => {
    service.setFault({ kind: 'rate-limit', retryAfterSeconds: 30 })
    const r = await job({ workspace })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('none')
    warned(r, /rate limit will reset in 30 seconds/)
    warned(r, /Failed to restore: .*Rate limited: .*\(429\)/)
    warned(r, /Cache not saved with key .*: the cache service did not accept the entry/)
    expect(r.calls.filter(q => q.outcome === 'fault:rate-limit').map(q => q.method)).toEqual(
      expect.arrayContaining(['GetCacheEntryDownloadURL', 'CreateCacheEntry'])
    )
  })

  it('answers 5xx to every call: the client retries, gives up, and the build goes on', async () => {
    service.setFault({ kind: 'status', status: 503 })
    const r = await job({ workspace })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('none')
    warned(r, /Failed to restore: .*after 5 attempts.*\(503\)/)
    warned(r, /Cache not saved with key .*: the cache service did not accept the entry/)
    // A step that passes must not carry an error annotation for the cache.
    expect(`${r.main.log}${r.post?.log}`).not.toContain('::error::')
  }, 180_000)

  // Small bounds where the test is about the mechanism: `stall-timeout: 4`
  // gives a call 2 s to be answered and a transfer 4 s to move a byte.
  const quick = { 'stall-timeout': '4' }

  it('never answers the lookup: goes on without the cache after the call bound, and the job is as it was', async () => {
    service.setFault({ kind: 'hang', methods: ['GetCacheEntryDownloadURL'] })
    const spy = dockerSpy()
    const r = await job({ workspace, inputs: quick, env: { PATH: `${spy.dir}:${process.env.PATH}` } })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('none')
    expect(Number(r.main.outputs['restore-time'])).toBeLessThan(10)
    expect(r.warnings).toEqual([
      '::warning::The cache service did not answer the lookup of the cache entry within 2 s; building without a cache.'
    ])
    expect(r.post?.log).toMatch(/Not saving the cache: the restore was given up on \(see the warning above\)/)
    expectUntouched(r, spy, workspace)
  })

  it('answers the lookup and stalls the download: gives up once nothing arrives, and the job is as it was', async () => {
    service.setFault({ kind: 'stall-download', afterBytes: 64 * 1024 })
    const spy = dockerSpy()
    const r = await job({
      workspace,
      event: onFeature,
      scopes: featureToken,
      inputs: { 'stall-timeout': '3' },
      env: { PATH: `${spy.dir}:${process.env.PATH}` }
    })
    expectBuiltAndClean(r)
    expect(r.calls.map(q => q.outcome)).toContain('fault:stall-download')
    // The entry's blobs are read by the builder during the build: the one
    // that stalls is given up on at the stall bound, and the build goes on
    // without the cache.
    expect(r.main.outputs['cache-source']).toBe('none')
    expect(r.main.outputs['matched-key']).toBe('')
    expect(Number(r.main.outputs['restore-time'])).toBeLessThan(10)
    expect(r.warnings).toHaveLength(2)
    expect(r.warnings[0]).toMatch(
      /^::warning::The build failed while importing the restored cache \(.*not found\); building once more without it\.$/
    )
    expect(r.warnings[1]).toMatch(
      /^::warning::The build could not read all of the restored entry \S+: blob sha256:[a-f0-9]{64} could not be read from its pack: nothing arrived for 3 s/
    )
    expectUntouched(r, spy, workspace, true)
  })

  it.each<[string, Fault, RegExp]>([
    [
      'stalls the upload',
      { kind: 'stall-upload', afterBytes: 16 * 1024 },
      /The cache upload stopped: the service took nothing for 4 s( after [\d.]+ [KM]B)?\./
    ],
    [
      'never answers the reservation',
      { kind: 'hang', methods: ['CreateCacheEntry'] },
      /The cache service did not answer the request to reserve the new entry within 2 s\./
    ]
  ])('%s: the save is given up on with one warning, and nothing is left running', async (_, fault, why) => {
    service.setFault(fault)
    const r = await job({ workspace, inputs: { ...quick, 'build-args': `FAULT=${fault.kind}` } })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('branch')
    expect(r.warnings).toHaveLength(1)
    expect(r.warnings[0]).toMatch(
      new RegExp(`^::warning::Cache not saved with key ${escapeRegExp(r.main.outputs.key)}: ${why.source}$`)
    )
    expect(clientProcesses(r)).toEqual([])
  })

  it('never answers the lookup, with the default bounds: the build starts about 30 s late, not minutes', async () => {
    service.setFault({ kind: 'hang', methods: ['GetCacheEntryDownloadURL'] })
    const r = await job({ workspace })
    expectBuiltAndClean(r)
    expect(Number(r.main.outputs['restore-time'])).toBeLessThan(45)
    expect(r.warnings).toEqual([
      '::warning::The cache service did not answer the lookup of the cache entry within 30 s; building without a cache.'
    ])
  })

  it.each<[string, Fault, RegExp]>([
    ['cut short', { kind: 'truncate-download' }, /Failed to restore: The operation was aborted/],
    ['of random bytes', { kind: 'random-download' }, /Failed to restore: .*tar.* failed with exit code/],
    ['half real, half noise', { kind: 'garbage-download' }, /Failed to restore: .*tar.* failed with exit code/]
  ])('sends an archive %s: the build goes on without it', async (_, fault, clientWarning) => {
    service.setFault(fault)
    const r = await job({ workspace, event: onFeature, scopes: featureToken })
    expectBuiltAndClean(r)
    expect(r.calls.map(q => q.outcome)).toContain(`fault:${fault.kind}`)
    expect(r.main.outputs['cache-source']).toBe('none')
    // One warning: ours, with the client's words in it.
    expect(r.warnings).toHaveLength(1)
    warned(
      r,
      new RegExp(
        `The cache entry ${escapeRegExp(warmKey)}/[0-9a-z]+ was found but could not be downloaded or unpacked: ${clientWarning.source}.*; building without a cache\\.`
      )
    )
    expect(r.writes).toBe(0)
  })

  it('lets two jobs saving the same content at once both pass, each entry a generation of that content', async () => {
    freshRunner(IMAGE)
    const env = service.env(runtimeToken(masterToken))
    const before = service.requests.length
    const jobs = await Promise.all(
      [1, 2].map(async n => {
        const runnerTemp = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-temp-'))
        // Two runners would have two engines; sharing one, the jobs must not
        // load the same tag at once. The tag is not part of the key.
        const inputs = { image: IMAGE, tags: `${IMAGE}-${n}`, 'build-args': 'RACE=1' }
        return { ...(await runJob({ inputs, event: onMaster, workspace, runnerTemp, env })), runnerTemp }
      })
    )
    for (const j of jobs) {
      expect(j.main.exitCode).toBe(0)
      expect(j.post?.exitCode).toBe(0)
      expect(leftovers(j.runnerTemp)).toEqual([])
    }
    // Generations are milliseconds apart: both usually save, and the lookup
    // takes the newer. Should the service refuse one (a collision), or one
    // engine export fail while the other writes the same layers, that job
    // says why in a warning; neither fails.
    const posts = jobs.map(j => j.post?.log ?? '')
    const saved = posts.flatMap(log => [...log.matchAll(/^Cache saved with key: (\S+)/gm)].map(m => m[1]))
    expect(saved.length).toBeGreaterThanOrEqual(1)
    for (const key of saved) expect(key.startsWith(`${jobs[0].main.outputs.key}/`)).toBe(true)
    for (const j of jobs)
      expect(j.post?.log).toMatch(
        /Cache saved with key: |::warning::Cache not saved with key |Not saving the cache: the build could not export/
      )
    const creates = service.requests
      .slice(before)
      .filter(q => q.method === 'CreateCacheEntry' && !isPack({ key: q.key ?? '' }))
      .map(q => q.outcome)
    expect(creates.filter(o => o === 'created')).toHaveLength(saved.length)
  })

  it.each<[string, TokenScope[], Record<string, string>]>([
    ['a read-only token', [{ scope: MASTER, permission: 1 }], {}],
    ["the runner's read-only cache mode", masterToken, { ACTIONS_CACHE_MODE: 'read' }]
  ])('skips the save with a clear line for %s, without calling the service', async (_, scopes, env) => {
    const r = await job({
      workspace,
      scopes,
      env,
      inputs: { 'build-args': `DENIED=${scopes[0].permission}${env.ACTIONS_CACHE_MODE ?? ''}` }
    })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('branch')
    warned(
      r,
      /Cache not saved with key .*: (this job's cache token may read but not write \(cache write denied|the runner's cache mode \(ACTIONS_CACHE_MODE=read\) does not permit writes)/
    )
    expect(r.writes).toBe(0)
  })

  // What a failed build keeps of its progress (save-on-failure): progress-on-failure.test.ts.
  it('runs the post step after a failed main step: nothing saved, nothing left, the cache not blamed', async () => {
    fs.writeFileSync(
      path.join(workspace, 'Dockerfile.fails'),
      'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "exit 3"]\n'
    )
    const r = await job({ workspace, inputs: { file: 'Dockerfile.fails', 'save-on-failure': 'false' } })
    expect(r.main.exitCode).toBe(1)
    expect(r.main.log).toMatch(/::error::The image build failed .*exit code: 3/)
    expect(r.main.log).not.toContain('building once more without it')
    expect(r.post?.exitCode).toBe(0)
    expect(r.post?.log).toContain('Not saving the cache: the build failed.')
    expect(r.writes).toBe(0)
    expect(leftovers(r.runnerTemp)).toEqual([])
  })

  it('runs the post step after the main step is cancelled mid-build: nothing saved, nothing left', async () => {
    fs.writeFileSync(
      path.join(workspace, 'Dockerfile.slow'),
      'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sleep", "120"]\n'
    )
    const r = await job({ workspace, inputs: { file: 'Dockerfile.slow' }, during: cancelOnceBuilding })
    expect(r.main.exitCode).not.toBe(0)
    expect(r.seconds).toBeLessThan(60)
    expect(r.post?.exitCode).toBe(0)
    expect(r.writes).toBe(0)
    expect(leftovers(r.runnerTemp)).toEqual([])
  })
})

describe('a cache service that is slow but steady', () => {
  // A cache of about 40 MB that does not compress, sent at 2 MB/s: a
  // download of some 20 s, five times the stall bound given here.
  const workspace = uniqueWorkspaceFrom('ci-image')
  const image = 'slow-image'
  const slow = { image, 'stall-timeout': '4' }
  let archiveBytes = 0

  beforeAll(async () => {
    const dockerfile = path.join(workspace, 'Dockerfile')
    fs.appendFileSync(dockerfile, 'RUN head -c 40000000 /dev/urandom > /toolchain.bin\n')
    const r = await job({ workspace, inputs: { image } })
    expect(r.post?.log).toContain('Cache saved with key:')
    // The pack that holds the layers is what a restore downloads.
    archiveBytes = Math.max(
      ...service
        .entries()
        .filter(e => e.key.startsWith(`buildx/${image}/master/`))
        .map(e => e.sizeBytes)
    )
    expect(archiveBytes).toBeGreaterThan(30_000_000)
  })

  it('keeps a download that moves, however long it takes, and the build uses it', async () => {
    service.setFault({ kind: 'throttle-download', bytesPerSecond: 2 * 1024 * 1024 })
    const r = await job({ workspace, inputs: slow, event: onFeature, scopes: featureToken })
    expectBuiltAndClean(r)
    expect(r.calls.map(q => q.outcome)).toContain('fault:throttle-download')
    // The premise: the download, which the builder makes during the build, lasted well past the stall bound.
    expect(Number(r.main.outputs['build-time'])).toBeGreaterThan(4 * 3)
    expect(r.main.outputs['cache-source']).toBe('default-branch')
    const [cached, total] = r.main.outputs['cached-steps'].split('/').map(Number)
    expect(cached).toBe(total)
    expect(r.warnings).toEqual([])
  }, 180_000)

  it('still stops at restore-timeout when the user sets one', async () => {
    service.setFault({ kind: 'throttle-download', bytesPerSecond: 2 * 1024 * 1024 })
    const r = await job({
      workspace,
      inputs: { ...slow, 'restore-timeout': '3' },
      event: onFeature,
      scopes: featureToken
    })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('none')
    expect(r.warnings).toEqual([
      '::warning::The cache restore did not finish within 3 s (restore-timeout); building without a cache.'
    ])
    expect(processesWithEnv('RUNNER_TEMP', path.join(r.runnerTemp, 'buildx-ci-cache', `${image}.client-tmp`))).toEqual(
      []
    )
  })
})

describe('a restored cache directory that is broken', () => {
  // Steps unique to this run: a damaged import leaves records in the engine
  // that break later builds of the same steps (see
  // src/docker/import-failures.ts), and these steps must be no other test's,
  // nor the other engine users'.
  const workspace = uniqueWorkspaceFrom('ci-image')
  const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-'))
  const pristine = fs.mkdtempSync(path.join(os.tmpdir(), 'pristine-'))
  const inputs = { image: 'broken-cache', 'cache-backend': 'local', 'cache-root': cacheRoot }
  let key = ''
  let entry = ''

  beforeAll(async () => {
    const r = await job({ workspace, inputs })
    expect(r.post?.log).toContain('Cache saved with key:')
    key = r.main.outputs.key
    entry = path.join(cacheRoot, key)
    fs.cpSync(entry, pristine, { recursive: true })
  })

  /** Puts the saved entry back as it was, then damages it. */
  function damage(how: (entry: string) => void): void {
    fs.rmSync(entry, { recursive: true, force: true })
    fs.cpSync(pristine, entry, { recursive: true })
    how(entry)
  }

  it.each<[string, (entry: string) => void, RegExp]>([
    ['has no index.json', e => fs.rmSync(path.join(e, 'index.json')), /\(no index\.json\)/],
    ['misses a blob', e => fs.rmSync(layerBlobs(e)[0]), /\(blob sha256:[a-f0-9]{64} is missing\)/],
    [
      'has a blob cut short',
      e => fs.truncateSync(layerBlobs(e)[0], 10),
      /\(blob sha256:[a-f0-9]{64} has 10 bytes, not \d+\)/
    ]
  ])('%s: is skipped with a warning, the build runs cold, and master replaces it', async (_, how, problem) => {
    damage(how)
    const r = await job({ workspace, inputs })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('none')
    warned(
      r,
      new RegExp(
        `Skipping the damaged cache entry ${escapeRegExp(key)} in ${escapeRegExp(cacheRoot)} ${problem.source}`
      )
    )
    expect(r.post?.log).toContain(`Cache saved with key: ${key}`)
    expect(fs.existsSync(path.join(entry, 'index.json'))).toBe(true)
  })

  it('has corrupt blobs of the right size: buildx fails on them, and the build runs once more without the cache', async () => {
    damage(e => layerBlobs(e).forEach(flipByte))
    const r = await job({ workspace, inputs, event: onFeature, scopes: featureToken })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('default-branch')
    warned(
      r,
      /The build failed while importing the restored cache \(failed to solve: .*(unexpected commit digest|not found).*\); building once more without it\./
    )
    expect(r.post?.log).toContain('Not saving the cache: refs/heads/feature is not a branch that writes the cache')
  })

  it('leaves the engine able to build the same image in later jobs, with or without a cache', async () => {
    damage(() => undefined)
    const warm = await job({ workspace, inputs, event: onFeature, scopes: featureToken })
    expectBuiltAndClean(warm)
    expect(warm.main.outputs['cache-source']).toBe('default-branch')
    // No entry under another prefix: a cold build of the same steps.
    const cold = await job({ workspace, inputs: { ...inputs, 'key-prefix': 'elsewhere' } })
    expectBuiltAndClean(cold)
    expect(cold.main.outputs['cache-source']).toBe('none')
  })
})

describe('a gha entry whose archive holds a damaged cache', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')
  const image = 'planted-image'

  it('is refused after the download with a warning naming the entry and the damage', async () => {
    const warm = await job({ workspace, inputs: { image } })
    expect(warm.post?.log).toContain('Cache saved with key:')
    // An entry saved by some other means, complete as an archive but missing
    // a blob, and newer than the good one: the restore key prefers it.
    const planted = warm.main.outputs.key.replace(/[^/]+$/, 'planted')
    await withClient(service, masterToken, async dir => {
      expect(await cache.restoreCache([image], `${warm.main.outputs.key}/`)).toMatch(`${warm.main.outputs.key}/`)
      dropLargestBlob(path.join(dir, image))
      expect(await cache.saveCache([image], planted)).toBeGreaterThan(0)
    })
    const r = await job({ workspace, inputs: { image, 'build-args': 'PLANTED=1' } })
    expectBuiltAndClean(r)
    expect(r.main.outputs['cache-source']).toBe('none')
    warned(
      r,
      new RegExp(
        `The entry ${escapeRegExp(planted)} is not a complete buildx cache \\(blob sha256:[a-f0-9]{64} is missing\\); building without it\\.`
      )
    )
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}/`)
  })
})

function flipByte(file: string): void {
  const fd = fs.openSync(file, 'r+')
  try {
    const middle = Math.floor(fs.fstatSync(fd).size / 2)
    const byte = Buffer.alloc(1)
    fs.readSync(fd, byte, 0, 1, middle)
    byte[0] ^= 0xff
    fs.writeSync(fd, byte, 0, 1, middle)
  } finally {
    fs.closeSync(fd)
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * Cancels the job the way the runner does once the build is under way: an
 * interrupt to the step's process, then the rest of its process tree ended.
 * The processes are ours: found by the RUNNER_TEMP only this job has.
 */
async function cancelOnceBuilding(runnerTemp: string): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const step = processesWithEnv('RUNNER_TEMP', runnerTemp)
    const main = step.find(p => p.cmdline.includes(path.join('dist', 'main', 'index.js')))
    const building = step.some(p => p.cmdline.includes('buildx') && p.cmdline.includes('build'))
    if (main && building) {
      // Let the slow RUN step start.
      await new Promise(resolve => setTimeout(resolve, 2000))
      process.kill(main.pid, 'SIGINT')
      for (const p of processesWithEnv('RUNNER_TEMP', runnerTemp)) {
        if (p.pid !== main.pid) process.kill(p.pid, 'SIGTERM')
      }
      return
    }
    if (Date.now() > deadline) throw new Error('the main step never started building')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

function processesWithEnv(name: string, value: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0')
      if (!environ.includes(`${name}=${value}`)) continue
      found.push({ pid: Number(entry), cmdline: fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ') })
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found
}
