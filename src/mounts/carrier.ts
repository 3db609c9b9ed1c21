import * as fs from 'node:fs'
import * as path from 'node:path'
import { ImagetoolsClient, type RegistryClient } from '../cache/registry-client.js'
import { contentTag } from '../cache/registry-tags.js'
import type { CacheLocation, Restored } from '../cache/store.js'
import { docker } from '../docker/docker-cli.js'
import { MOUNTS_FOLDER } from './folder.js'
import { runMountBuild, type MountBuildSetup } from './mount-builds.js'

// Where an entry's mounts folder is. In a directory entry (local, gha) it
// is a folder of the entry itself, so it is saved, restored, superseded and
// aged out with it. A registry entry is a cache manifest BuildKit pushes:
// the folder goes beside it as an image tagged after the entry's own tag,
// pushed and pulled by the builder itself (with the job's registry login).

export type Fetched =
  | { kind: 'folder'; folder: string }
  | { kind: 'none'; why: string }
  | { kind: 'failed'; problem: string }

const TAG_SUFFIX = '-mounts'

/** The registry reference of the mounts of the entry saved under `contentKey`. */
export function mountsRef(repository: string, contentKey: string): string {
  return `${repository}:${contentTag(contentKey)}${TAG_SUFFIX}`
}

/** The mounts folder of the restored entry, brought to the runner when it lives elsewhere. */
export async function fetchFolder(
  entry: Restored,
  repository: string,
  scratch: string,
  setup: MountBuildSetup,
  client: RegistryClient = new ImagetoolsClient()
): Promise<Fetched> {
  const location = entry.from[0]
  if (location === undefined) return { kind: 'none', why: 'no entry was restored' }
  const dir = entry.dir ?? (location.type === 'local' ? location.dir : undefined)
  if (dir !== undefined) {
    const folder = path.join(dir, MOUNTS_FOLDER)
    return fs.existsSync(folder)
      ? { kind: 'folder', folder }
      : { kind: 'none', why: 'the entry restored holds no cache mounts' }
  }
  const ref = mountsRef(repository, entry.matchedKey)
  const lookup = await client.inspect(ref)
  if (lookup.kind === 'missing')
    return { kind: 'none', why: `the entry restored holds no cache mounts (${ref} not found)` }
  if (lookup.kind !== 'found') return { kind: 'failed', problem: `${ref} could not be read: ${lookup.message}` }
  const folder = path.join(scratch, 'pulled')
  const pulled = await runMountBuild(
    {
      dockerfile: `FROM ${ref}\n`,
      file: path.join(scratch, 'pull.Dockerfile'),
      output: `type=local,dest=${folder}`,
      context: await emptyDir(path.join(scratch, 'empty'))
    },
    { ...setup, from: [] }
  )
  return pulled.ok
    ? { kind: 'folder', folder }
    : { kind: 'failed', problem: `${ref} could not be pulled: ${pulled.error}` }
}

/** Where the save writes the mounts folder: inside the export (a directory entry), else a folder of its own to push. */
export function saveFolder(location: CacheLocation, scratch: string): string {
  return location.type === 'local' ? path.join(location.dir, MOUNTS_FOLDER) : path.join(scratch, 'saved')
}

/** Pushes the saved folder beside a registry entry; nothing to do for a directory entry. Resolves to why it failed. */
export async function publishFolder(
  location: CacheLocation,
  folder: string,
  repository: string,
  contentKey: string,
  scratch: string,
  setup: MountBuildSetup
): Promise<string | undefined> {
  if (location.type === 'local') return undefined
  const ref = mountsRef(repository, contentKey)
  const pushed = await runMountBuild(
    {
      dockerfile: 'FROM scratch\nCOPY . /\n',
      file: path.join(scratch, 'push.Dockerfile'),
      output: `type=image,name=${ref},push=true,oci-mediatypes=true`,
      context: folder
    },
    { ...setup, from: [] }
  )
  if (!pushed.ok) return `${ref} could not be pushed: ${pushed.error}`
  // The docker driver also stores what it pushes in the engine's images: not
  // an image anyone runs, and one per save on a persistent runner.
  if (setup.builder === undefined) await docker(['image', 'rm', ref])
  return undefined
}

async function emptyDir(dir: string): Promise<string> {
  await fs.promises.mkdir(dir, { recursive: true })
  return dir
}
