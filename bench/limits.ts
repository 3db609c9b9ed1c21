// What a warm exact hit cannot go below, measured on the same content in the
// same run as ours: BuildKit importing the restored directory by itself, the
// disk taking the image's files, and Node starting. Ours is reported as a
// ratio to each, so that a slow figure says whose time it is.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { plainBuild, type PlainBuildResult } from './buildx-build.js'
import { docker, freshRunner, retryingEngineFlakes } from './engine.js'
import type { Lab } from './lab.js'
import { run } from './proc.js'
import type { Fixture } from './settings.js'
import { median, timed } from './timing.js'

/**
 * `docker buildx build --cache-from type=local,src=DIR --load` alone, on a
 * fresh runner, DIR already on disk: BuildKit's own cost of a warm hit.
 */
export async function bareImport(
  lab: Lab,
  fixture: Fixture,
  workspace: string,
  cacheDir: string
): Promise<PlainBuildResult> {
  return retryingEngineFlakes(async () => {
    freshRunner(lab.engine)
    return plainBuild(lab, { fixture, workspace, cacheFrom: cacheDir })
  })
}

/**
 * A plain `tar -x` of the image's files (`docker export` of a container made
 * from it, read from the page cache): what writing the image's files to disk
 * costs, without layers, compression or snapshots.
 */
export async function imageFilesExtraction(lab: Lab, image: string): Promise<{ seconds: number; bytes: number }> {
  const dir = lab.tempDir('image-files-')
  const tarball = path.join(dir, 'image.tar')
  // A scratch image has no default command; create never runs it anyway.
  const container = docker(lab.engine, ['create', image, '/bin/true']).trim()
  try {
    docker(lab.engine, ['export', '--output', tarball, container])
  } finally {
    docker(lab.engine, ['rm', container])
  }
  const into = path.join(dir, 'root')
  await fs.promises.mkdir(into)
  const extracted = await timed(() => run('tar', ['-x', '-f', tarball, '-C', into]))
  const bytes = (await fs.promises.stat(tarball)).size
  await fs.promises.rm(dir, { recursive: true, force: true })
  return { seconds: extracted.seconds, bytes }
}

/**
 * `node -e 0` with the Node the action's steps run on, the median of a few
 * starts: every JavaScript action pays it once per step.
 */
export async function bareNodeStart(samples = 5): Promise<number> {
  const seconds: number[] = []
  for (let i = 0; i < samples; i++) seconds.push((await timed(() => run(process.execPath, ['-e', '0']))).seconds)
  return median(seconds)
}
