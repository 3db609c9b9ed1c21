// The cache service's entries as directories on disk: what the recipe, the
// local backend and the bare import start from.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { unpackInto } from './archive.js'
import type { Lab } from './lab.js'

/** Extracts an entry's archive into `into`; returns the cache directory it held. */
export async function unpackEntry(lab: Lab, key: string, into: string): Promise<string> {
  await unpackInto(lab.entry(key).blob, into, true)
  const dirs = (await fs.promises.readdir(into, { withFileTypes: true })).filter(d => d.isDirectory())
  if (dirs.length !== 1)
    throw new Error(`The entry ${key} should hold one directory, not ${dirs.map(d => d.name).join(', ') || 'none'}.`)
  return path.join(into, dirs[0].name)
}

/** Bytes of the regular files below dir, as the action's cache-size output counts them. */
export async function dirBytes(dir: string): Promise<number> {
  const entries = await fs.promises.readdir(dir, { recursive: true, withFileTypes: true })
  const sizes = await Promise.all(
    entries.filter(e => e.isFile()).map(e => fs.promises.stat(path.join(e.parentPath, e.name)).then(s => s.size))
  )
  return sizes.reduce((a, b) => a + b, 0)
}
