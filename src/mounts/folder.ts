import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

// The cache mounts of one entry: a folder of one tar per mount (as BuildKit
// wrote it, `--output type=tar`) and an index naming each mount's id, file,
// size and digest, so that a damaged or truncated archive is told apart
// before anything is copied into the builder. The folder travels with the
// entry: inside its directory (local and gha), or as an image beside it (registry).

/** The folder's name inside an entry's directory. */
export const MOUNTS_FOLDER = 'buildx-ci-cache-mounts'
const INDEX = 'index.json'
const VERSION = 1

export interface SavedMount {
  id: string
  /** The tar's name inside the folder. */
  file: string
  bytes: number
  sha256: string
}

export interface MountsIndex {
  version: number
  mounts: SavedMount[]
}

/** The file a mount's tar is written to: named by a digest of its id, which may hold any character. */
export function archiveName(id: string): string {
  return `${createHash('sha256').update(id).digest('hex').slice(0, 24)}.tar`
}

/** The index of a folder; an empty one when there is none, and why it is unusable when it does not parse. */
export async function readIndex(folder: string): Promise<MountsIndex | { problem: string }> {
  let text: string
  try {
    text = await fs.promises.readFile(path.join(folder, INDEX), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: VERSION, mounts: [] }
    return { problem: `its index could not be read (${(error as Error).message})` }
  }
  try {
    const parsed = JSON.parse(text) as Partial<MountsIndex>
    if (parsed.version !== VERSION || !Array.isArray(parsed.mounts))
      return { problem: 'its index is not one this version reads' }
    const mounts = parsed.mounts.filter(
      (m): m is SavedMount =>
        typeof m?.id === 'string' &&
        typeof m.file === 'string' &&
        /^[0-9a-f]{24}\.tar$/.test(m.file) &&
        typeof m.bytes === 'number' &&
        typeof m.sha256 === 'string'
    )
    return { version: VERSION, mounts }
  } catch {
    return { problem: 'its index is not valid JSON' }
  }
}

export async function writeIndex(folder: string, mounts: SavedMount[]): Promise<void> {
  await fs.promises.mkdir(folder, { recursive: true })
  await fs.promises.writeFile(path.join(folder, INDEX), JSON.stringify({ version: VERSION, mounts }, null, 2))
}

/** Why a saved mount's archive is not the one the index names (missing, another size, another digest); undefined when it is. */
export async function archiveProblem(folder: string, mount: SavedMount): Promise<string | undefined> {
  const file = path.join(folder, mount.file)
  const stat = await fs.promises.stat(file).catch(() => undefined)
  if (stat === undefined) return 'its archive is missing'
  if (stat.size !== mount.bytes) return `its archive has ${stat.size} bytes, not the ${mount.bytes} saved`
  const digest = await sha256Of(file)
  return digest === mount.sha256 ? undefined : 'its archive does not have the content saved (another digest)'
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
