// One job on a fresh ephemeral runner: an engine with no build cache and none
// of the image, an empty RUNNER_TEMP, and the cache service's calls recorded.
// Or, with keepEngine, the next job on a persistent runner: the engine keeps
// what earlier jobs left.
import { expect } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runtimeToken, type CacheService, type TokenScope } from './cache-service.js'
import { freshRunner } from './engine.js'
import { isPack } from './entries.js'
import { pushTo, writer } from './events.js'
import { runJob, type EventSpec, type JobResult } from './run-action.js'

export interface FreshJob {
  workspace: string
  image: string
  inputs?: Record<string, string>
  event: EventSpec
  /** The cache scopes GitHub would grant this run's token. */
  scopes: TokenScope[]
  env?: Record<string, string>
  skipPost?: boolean
  /** A persistent runner: the engine keeps the images and build cache earlier jobs left. */
  keepEngine?: boolean
  /** Called once the main step is running, e.g. to cancel it. */
  during?: (runnerTemp: string) => Promise<void>
}

export interface JobOutcome extends JobResult {
  runnerTemp: string
  seconds: number
  /** What the service received during the job. */
  calls: CacheService['requests']
  /** CreateCacheEntry calls among them: entries and packs. */
  writes: number
  /** Those of them that reserved an entry, not a pack: the saves. */
  saves: number
  warnings: string[]
}

export async function freshJob(service: CacheService, spec: FreshJob): Promise<JobOutcome> {
  if (!spec.keepEngine) freshRunner(spec.image, spec.env?.DOCKER_HOST)
  const runnerTemp = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-temp-'))
  const before = service.requests.length
  const started = Date.now()
  const running = runJob({
    inputs: { image: spec.image, ...spec.inputs },
    event: spec.event,
    workspace: spec.workspace,
    runnerTemp,
    env: { ...service.env(runtimeToken(spec.scopes)), ...spec.env },
    skipPost: spec.skipPost
  })
  await spec.during?.(runnerTemp)
  const result = await running
  const calls = service.requests.slice(before)
  const log = `${result.main.log}\n${result.post?.log ?? ''}`
  return {
    ...result,
    runnerTemp,
    seconds: (Date.now() - started) / 1000,
    calls,
    writes: calls.filter(r => r.method === 'CreateCacheEntry').length,
    saves: calls.filter(r => r.method === 'CreateCacheEntry' && !isPack({ key: r.key ?? '' })).length,
    warnings: log.split('\n').filter(line => line.startsWith('::warning::'))
  }
}

/** What a job left in RUNNER_TEMP: nothing, after its post step. */
export function leftovers(runnerTemp: string): string[] {
  return fs.readdirSync(runnerTemp)
}

/** A job as most tests run it: a push to master, whose token may write, unless the spec says otherwise. */
export type DefaultBranchJob = Omit<FreshJob, 'event' | 'scopes'> & Partial<Pick<FreshJob, 'event' | 'scopes'>>

/** Jobs against `service` that default to a push to master. */
export function defaultBranchJobs(service: CacheService): (spec: DefaultBranchJob) => Promise<JobOutcome> {
  return spec =>
    freshJob(service, { ...spec, event: spec.event ?? pushTo('master'), scopes: spec.scopes ?? writer('master') })
}

/** What every job that built shows: both steps passed and nothing is left in RUNNER_TEMP. */
export function expectBuilt(r: JobOutcome): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.post?.exitCode).toBe(0)
  expect(leftovers(r.runnerTemp)).toEqual([])
}
