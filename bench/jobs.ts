// One job of the action on a fresh ephemeral runner: the bundled main and post
// steps run as the runner runs them (ACTION_DIST picks the bundle), timed as a
// whole and split into the phases the action reports.
import * as fs from 'node:fs'
import { runtimeToken, type TokenScope } from '../__tests__/support/cache-service.js'
import { runJob, type EventSpec, type JobResult } from '../__tests__/support/run-action.js'
import { freshRunner, hostOf, retryingEngineFlakes, type ImageStore } from './engine.js'
import type { Lab } from './lab.js'
import type { Fixture } from './settings.js'
import {
  bootstrapSeconds,
  buildFromSummary,
  cacheExportSeconds,
  contextSeconds,
  imageExportSeconds,
  saveSeconds,
  stopwatch
} from './timing.js'

/** Bytes a job sent to the cache service and fetched from it. */
export interface Moved {
  up: number
  down: number
}

/** Seconds. `build` leaves out the cache export, which has its own column; `other` is what remains of the total (Node start-up of both steps, the key, bookkeeping). */
export interface Phases {
  total: number
  restore: number
  build: number
  export: number
  save: number
  other: number
}

export interface ActionRun extends Phases {
  store: ImageStore
  key: string
  /** The entry restored, if any. */
  matchedKey: string
  source: string
  cached: number
  steps: number
  /** Bytes of the cache directory imported or exported. */
  cacheBytes: number
  /** Of the build, buildx's "load build context". */
  contextSeconds: number
  /** Of the build, handing the image to the engine (on a docker-container builder, the `--load` tarball). */
  imageExport: number
  /** Starting the docker-container builder the action created (classic store, runs that save); 0 without one. */
  bootstrap: number
  /** What the job moved through the cache service: the entries it saved, the entry it restored. */
  moved: Moved
  /** Wall time of each step's process: `other` split between them. */
  mainSeconds: number
  postSeconds: number
}

export type Trigger = 'push-master' | 'pull-request'

/** The default branch's ref, whose scope the master jobs write to. */
export const MASTER_REF = 'refs/heads/master'
const MASTER = MASTER_REF
const repository = { default_branch: 'master' }

const EVENTS: Record<Trigger, { event: EventSpec; scopes: TokenScope[] }> = {
  'push-master': {
    event: { name: 'push', ref: MASTER, payload: { repository } },
    scopes: [{ scope: MASTER, permission: 3 }]
  },
  'pull-request': {
    event: {
      name: 'pull_request',
      ref: 'refs/pull/7/merge',
      headRef: 'feature',
      baseRef: 'master',
      payload: { repository, pull_request: { number: 7 } }
    },
    scopes: [
      { scope: 'refs/pull/7/merge', permission: 3 },
      { scope: MASTER, permission: 1 }
    ]
  }
}

/**
 * The cache service token GitHub would give a run of this trigger; with
 * `apart`, as if in a repository of that name, whose entries no other job
 * reads or counts.
 */
export function cacheToken(trigger: Trigger, apart?: string): string {
  const scopes = EVENTS[trigger].scopes
  return runtimeToken(apart === undefined ? scopes : scopes.map(s => ({ ...s, scope: `${apart}:${s.scope}` })))
}

export interface ActionJob {
  fixture: Fixture
  workspace: string
  trigger: Trigger
  keyPrefix: string
  inputs?: Record<string, string>
  /**
   * `cache-backend: registry` with this `cache-ref`. The job's steps then run
   * in the engine's network namespace, where its registries listen, as a
   * runner's steps share its engine's network.
   */
  cacheRef?: string
  /** The engine's image store (default containerd's); on the classic one, every run that saves goes through the docker-container builder the action creates. */
  store?: ImageStore
  /**
   * Keep the engine's build cache from the job before instead of starting
   * from an empty one: only to seed a backend with what was just built.
   */
  warmRunner?: boolean
}

export async function actionJob(lab: Lab, job: ActionJob): Promise<ActionRun> {
  return retryingEngineFlakes(() => actionJobOnce(lab, job))
}

async function actionJobOnce(lab: Lab, job: ActionJob): Promise<ActionRun> {
  const { image, dockerfile, hashFiles } = job.fixture
  const store = job.store ?? 'containerd'
  if (!job.warmRunner) freshRunner(lab.engine, store)
  const runnerTemp = lab.tempDir('runner-temp-')
  const { event, scopes } = EVENTS[job.trigger]
  const fixtureInputs = {
    ...(dockerfile === 'Dockerfile' ? {} : { file: dockerfile }),
    ...(hashFiles ? { 'hash-files': hashFiles } : {})
  }
  const backendInputs: Record<string, string> = job.cacheRef
    ? { 'cache-backend': 'registry', 'cache-ref': job.cacheRef }
    : {}
  const trafficBefore = lab.service.traffic()
  const elapsed = stopwatch()
  const result = await runJob({
    inputs: { image, 'key-prefix': job.keyPrefix, ...fixtureInputs, ...backendInputs, ...job.inputs },
    event,
    workspace: job.workspace,
    runnerTemp,
    env: { ...lab.service.env(runtimeToken(scopes)), DOCKER_HOST: hostOf(lab.engine, store) }
  })
  const total = elapsed()
  const traffic = lab.service.traffic()
  await fs.promises.rm(runnerTemp, { recursive: true, force: true })
  requireClean(result)

  const build = buildFromSummary(result.summary)
  const exported = cacheExportSeconds(result.main.log)
  const restore = Number(result.main.outputs['restore-time'])
  const save = saveSeconds(result.post?.log ?? '')
  const matchedKey = result.main.outputs['matched-key'] ?? ''
  return {
    store,
    total,
    restore,
    build: build.seconds - exported,
    export: exported,
    save,
    other: total - restore - build.seconds - save,
    key: result.main.outputs.key,
    matchedKey,
    source: result.main.outputs['cache-source'],
    cached: build.cached,
    steps: build.steps,
    cacheBytes: Number(result.main.outputs['cache-size']),
    contextSeconds: contextSeconds(result.main.log),
    imageExport: imageExportSeconds(result.main.log),
    bootstrap: bootstrapSeconds(result.main.log),
    // Body bytes both ways, blobs and calls alike, as for type=gha.
    moved: { up: traffic.received - trafficBefore.received, down: traffic.sent - trafficBefore.sent },
    mainSeconds: result.main.seconds,
    postSeconds: result.post?.seconds ?? 0
  }
}

// A figure from a job that warned (a failed save, a restore that fell back to
// a cold build) would measure the wrong thing: it is an error here.
function requireClean(result: JobResult): void {
  for (const [name, step] of [
    ['main', result.main],
    ['post', result.post]
  ] as const) {
    if (!step) throw new Error('The post step did not run.')
    const warning = step.log.split('\n').find(line => /^::(warning|error)/.test(line))
    if (step.exitCode !== 0 || warning) {
      throw new Error(
        `The action's ${name} step ${step.exitCode !== 0 ? `exited with ${step.exitCode}` : 'warned'}: ${warning ?? ''}\n${step.log.split('\n').slice(-30).join('\n')}`
      )
    }
  }
}

export function expectSource(r: ActionRun, source: string): void {
  if (r.source !== source)
    throw new Error(`Expected the restore to come from "${source}", got "${r.source}" (key ${r.key}).`)
}
