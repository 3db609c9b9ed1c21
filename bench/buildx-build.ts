// A plain `docker buildx build` of a fixture, as a workflow's own step runs
// it: what the recipe, the docker save / load approach and the bare import
// measure, with nothing of ours around it.
import * as path from 'node:path'
import { stepCounts } from '../src/docker/build-output.js'
import type { Lab } from './lab.js'
import { run } from './proc.js'
import type { Fixture } from './settings.js'
import { cacheExportSeconds, contextSeconds, stopwatch } from './timing.js'

export interface PlainBuild {
  fixture: Fixture
  workspace: string
  /** `--cache-from type=local,src=` this directory. */
  cacheFrom?: string
  /** `--cache-to type=local,dest=` this directory, mode=max. */
  cacheTo?: string
}

export interface PlainBuildResult {
  /** The whole build, cache export included. */
  seconds: number
  /** buildx's "exporting cache to client directory". */
  exportSeconds: number
  /** buildx's "load build context": sending the context to BuildKit, which the COPY steps' cache keys need. */
  contextSeconds: number
  cached: number
  steps: number
}

export async function plainBuild(lab: Lab, build: PlainBuild): Promise<PlainBuildResult> {
  const { image, dockerfile } = build.fixture
  const elapsed = stopwatch()
  const { stderr } = await run(
    'docker',
    [
      'buildx',
      'build',
      '--progress=plain',
      '--file',
      path.join(build.workspace, dockerfile),
      '--tag',
      image,
      '--load',
      ...(build.cacheFrom ? ['--cache-from', `type=local,src=${build.cacheFrom}`] : []),
      ...(build.cacheTo ? ['--cache-to', `type=local,dest=${build.cacheTo},mode=max`] : []),
      build.workspace
    ],
    { env: { ...process.env, DOCKER_HOST: lab.engine.dockerHost } }
  )
  const seconds = elapsed()
  const counts = stepCounts(stderr)
  return {
    seconds,
    exportSeconds: cacheExportSeconds(stderr),
    contextSeconds: contextSeconds(stderr),
    cached: counts.cached,
    steps: counts.total
  }
}
