// BuildKit's own GitHub Actions cache, as docker/build-push-action users write
// it: one scope per image, every intermediate layer exported,
//   docker buildx build --cache-from type=gha,scope=IMAGE
//                       --cache-to type=gha,scope=IMAGE,mode=max --load
// on every event, pull requests included, with nothing but the variables the
// runner gives the job: buildx passes ACTIONS_RESULTS_URL and
// ACTIONS_RUNTIME_TOKEN on to BuildKit as url_v2 and token when
// ACTIONS_CACHE_SERVICE_V2 is set. BuildKit runs inside the engine and talks
// to the same cache service as ours, which listens in the engine's network
// namespace and counts the bytes each job moves.
import * as path from 'node:path'
import type { EntryInfo } from '../__tests__/support/cache-service.js'
import { stepCounts } from '../src/docker/build-output.js'
import { freshRunner, hostOf, retryingEngineFlakes, type ImageStore } from './engine.js'
import { cacheToken, MASTER_REF, type Moved, type Phases, type Trigger } from './jobs.js'
import type { Lab } from './lab.js'
import { run } from './proc.js'
import type { Fixture } from './settings.js'
import { cacheExportSeconds, contextSeconds, imageExportSeconds, stopwatch } from './timing.js'

export interface GhaRun extends Phases {
  cached: number
  steps: number
  /** Of the build, buildx's "load build context". */
  contextSeconds: number
  /** Of the build, `exporting to image`: the layers into the containerd store. */
  imageExport: number
  /** Bytes to and from the service, both blobs and the twirp calls. */
  moved: Moved
  /** Entries the job added to the service, and their bytes. */
  written: { entries: number; bytes: number }
}

export interface GhaJob {
  fixture: Fixture
  workspace: string
  trigger: Trigger
  /**
   * The engine's image store (default containerd's). On the classic one the
   * docker driver cannot export a cache, so the build goes through a
   * docker-container builder made for the job, as docker/setup-buildx-action
   * makes one (its creation and removal are in the job's time, as ours are).
   */
  store?: ImageStore
}

/** The builder type=gha builds with on the classic store, on the host's network (the service listens there). */
const CLASSIC_BUILDER = 'bench-gha-classic'

export async function ghaJob(lab: Lab, job: GhaJob): Promise<GhaRun> {
  return retryingEngineFlakes(() => ghaJobOnce(lab, job))
}

async function ghaJobOnce(lab: Lab, job: GhaJob): Promise<GhaRun> {
  const { image, dockerfile } = job.fixture
  const store = job.store ?? 'containerd'
  freshRunner(lab.engine, store)
  const cache = `type=gha,scope=${image}`
  const before = lab.service.traffic()
  const entriesBefore = lab.service.entries().length
  const env = {
    ...process.env,
    DOCKER_HOST: hostOf(lab.engine, store),
    ACTIONS_CACHE_SERVICE_V2: 'true',
    ACTIONS_RESULTS_URL: `${lab.service.url}/`,
    // Apart from type=gha on the containerd store: layers are shared across scopes.
    ACTIONS_RUNTIME_TOKEN: cacheToken(job.trigger, store === 'classic' ? 'classic' : undefined)
  }
  const elapsed = stopwatch()
  const builder = store === 'classic' ? ['--builder', CLASSIC_BUILDER] : []
  if (store === 'classic')
    await run(
      'docker',
      [
        'buildx',
        'create',
        '--name',
        CLASSIC_BUILDER,
        '--driver',
        'docker-container',
        '--driver-opt',
        'network=host',
        '--bootstrap'
      ],
      { env }
    )
  let stderr: string
  try {
    ;({ stderr } = await run(
      'docker',
      [
        'buildx',
        'build',
        ...builder,
        '--progress=plain',
        '--file',
        path.join(job.workspace, dockerfile),
        '--tag',
        image,
        '--load',
        '--cache-from',
        cache,
        '--cache-to',
        `${cache},mode=max`,
        job.workspace
      ],
      { env }
    ))
  } finally {
    if (store === 'classic') await run('docker', ['buildx', 'rm', '--force', CLASSIC_BUILDER], { env })
  }
  const total = elapsed()
  const after = lab.service.traffic()
  const added = lab.service.entries().slice(entriesBefore)
  const counts = stepCounts(stderr)
  const exported = cacheExportSeconds(stderr)
  return {
    total,
    // The import happens inside the build: BuildKit fetches the index and the layers as it needs them.
    restore: 0,
    build: total - exported,
    export: exported,
    // The export is the save.
    save: 0,
    other: 0,
    cached: counts.cached,
    steps: counts.total,
    contextSeconds: contextSeconds(stderr),
    imageExport: imageExportSeconds(stderr),
    moved: { up: after.received - before.received, down: after.sent - before.sent },
    written: { entries: added.length, bytes: added.reduce((sum, e) => sum + e.sizeBytes, 0) }
  }
}

/** Keys BuildKit's type=gha gives the entries of a scope: its layers (shared by every scope of the repository) and its index. */
export function isGhaEntry(key: string, scope: string): boolean {
  return key.startsWith('buildkit-blob-') || key.startsWith(`index-${scope}-`)
}

/** What the service holds for one image, ours beside type=gha's, in bytes. */
export interface StoredBytes {
  /** Ours, every entry under the chain's key prefix and image (ours writes only from the default branch). */
  ours: number
  /** type=gha's in the default branch's scope: its layers and every generation of its index. */
  theirs: number
  /** type=gha's in pull requests' scopes: the index each pull request writes. */
  theirsPullRequests: number
}

export function storedBytes(lab: Lab, fixture: Fixture, keyPrefix: string): StoredBytes {
  const ours = `${keyPrefix}/${fixture.image}/`
  const theirs = (e: EntryInfo): boolean => isGhaEntry(e.key, fixture.image)
  return {
    ours: lab.storedBytes(e => e.key.startsWith(ours)),
    theirs: lab.storedBytes(e => theirs(e) && e.scope === MASTER_REF),
    theirsPullRequests: lab.storedBytes(e => theirs(e) && e.scope.startsWith('refs/pull/'))
  }
}
