// What users pick instead of a layer cache: the docker-layer-caching actions'
// approach. After the build, `docker save IMAGE | zstd` to a file that
// actions/cache saves through the cache service; on a later run, restore it,
// `docker load`, then build as usual and hope the build reuses the loaded
// image's layers. BuildKit keeps its build cache apart from the image store, so
// whether it does is measured (steps cached), not assumed.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ROOT } from '../__tests__/support/engine.js'
import { plainBuild } from './buildx-build.js'
import { freshRunner, retryingEngineFlakes } from './engine.js'
import { cacheToken, type Phases, type Trigger } from './jobs.js'
import type { Lab } from './lab.js'
import { pipeline, run } from './proc.js'
import type { Fixture } from './settings.js'
import { stopwatch, timed } from './timing.js'

export interface SaveLoadRun extends Phases {
  /** `zstd -d | docker load` of the restored archive. */
  load: number
  cached: number
  steps: number
  archiveBytes: number
}

/** Where one image's archive lives on the runner, and the keys it is saved under. */
export interface ImageArchive {
  /** GITHUB_WORKSPACE of the cache steps; the archive's path must be the same on every run for actions/cache to restore it. */
  dir: string
  file: string
  keyPrefix: string
}

export function imageArchive(lab: Lab, keyPrefix: string): ImageArchive {
  const dir = lab.tempDir('save-load-')
  return { dir, file: path.join(dir, 'image.tar.zst'), keyPrefix: `save-load/${keyPrefix}/` }
}

/** `docker save | zstd`, then actions/cache's save: what follows a build whose key was not found. */
export async function saveImage(
  lab: Lab,
  archive: ImageArchive,
  image: string,
  release: number,
  trigger: Trigger = 'push-master'
): Promise<{ seconds: number; bytes: number }> {
  const saved = await timed(async () => {
    await pipeline(['docker', ['save', image]], ['zstd', ['-T0', '-q', '-f', '-o', archive.file]], {
      env: dockerEnv(lab)
    })
    await cacheStep(lab, archive, trigger, ['save', `${archive.keyPrefix}${release}`, archive.file])
  })
  return { seconds: saved.seconds, bytes: (await fs.promises.stat(archive.file)).size }
}

export interface SaveLoadJob {
  fixture: Fixture
  workspace: string
  trigger: Trigger
  archive: ImageArchive
  /** The release the workspace is at: the key actions/cache looks up, and saves under on the default branch. */
  release: number
}

export async function saveLoadJob(lab: Lab, job: SaveLoadJob): Promise<SaveLoadRun> {
  return retryingEngineFlakes(() => saveLoadJobOnce(lab, job))
}

async function saveLoadJobOnce(lab: Lab, job: SaveLoadJob): Promise<SaveLoadRun> {
  const { archive, fixture } = job
  freshRunner(lab.engine)
  await fs.promises.rm(archive.file, { force: true })
  const total = stopwatch()

  const key = `${archive.keyPrefix}${job.release}`
  const restore = await timed(() =>
    cacheStep(lab, archive, job.trigger, ['restore', key, archive.file, archive.keyPrefix])
  )
  if (!restore.value)
    throw new Error(`actions/cache restored nothing for ${key}: the docker save / load run has no image to load.`)
  const archiveBytes = (await fs.promises.stat(archive.file)).size
  const load = await timed(() =>
    pipeline(['zstd', ['-d', '-q', '-c', archive.file]], ['docker', ['load', '--quiet']], { env: dockerEnv(lab) })
  )
  const build = await plainBuild(lab, { fixture, workspace: job.workspace })
  // actions/cache saves whenever the primary key missed, pull requests included.
  const save =
    restore.value === key ? 0 : (await saveImage(lab, archive, fixture.image, job.release, job.trigger)).seconds
  const seconds = total()

  return {
    total: seconds,
    restore: restore.seconds,
    load: load.seconds,
    build: build.seconds,
    export: 0,
    save,
    other: seconds - restore.seconds - load.seconds - build.seconds - save,
    cached: build.cached,
    steps: build.steps,
    archiveBytes
  }
}

/** Runs bench/cache-step.ts as an actions/cache step would run; returns the key it restored or saved. */
async function cacheStep(lab: Lab, archive: ImageArchive, trigger: Trigger, args: string[]): Promise<string> {
  const runnerTemp = lab.tempDir('cache-step-temp-')
  try {
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'bench', 'cache-step.ts'), ...args], {
      cwd: archive.dir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...lab.service.env(cacheToken(trigger)),
        GITHUB_WORKSPACE: archive.dir,
        RUNNER_TEMP: runnerTemp
      }
    })
    return stdout.trimEnd().split('\n').at(-1) ?? ''
  } finally {
    await fs.promises.rm(runnerTemp, { recursive: true, force: true })
  }
}

function dockerEnv(lab: Lab): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: lab.engine.dockerHost }
}
