// The cache service's entries as directories on disk: what the recipe, the
// local backend and the bare import start from.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { blobPath } from '../src/cache/integrity.js'
import { MANIFEST_FILE, parseManifest } from '../src/cache/packs/manifest.js'
import { unpackInto } from './archive.js'
import type { Lab } from './lab.js'

/** Extracts an entry's archive into `into`; returns the cache directory it held. */
export async function unpackEntry(lab: Lab, key: string, into: string): Promise<string> {
  await unpackInto(lab.entry(key).blob, into, true)
  const dirs = (await fs.promises.readdir(into, { withFileTypes: true })).filter(d => d.isDirectory())
  if (dirs.length !== 1)
    throw new Error(`The entry ${key} should hold one directory, not ${dirs.map(d => d.name).join(', ') || 'none'}.`)
  const dir = path.join(into, dirs[0].name)
  await fillFromPacks(lab, dir)
  return dir
}

/**
 * An entry of packs holds only the layout's index and the manifest placing
 * each blob in a pack: the blobs are read from the packs the service
 * stores, so that the layout is whole, as a restore that reads to disk makes it.
 */
async function fillFromPacks(lab: Lab, dir: string): Promise<void> {
  const text = await fs.promises.readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined)
  if (text === undefined) return
  const manifest = parseManifest(text)
  if ('problem' in manifest) throw new Error(`The entry in ${dir} has a broken manifest of packs: ${manifest.problem}`)
  await fs.promises.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true })
  for (const [i, pack] of manifest.packs.entries()) {
    const file = await fs.promises.open(lab.entry(pack.key).blob, 'r')
    try {
      for (const blob of manifest.blobs.filter(b => b.pack === i)) {
        const bytes = Buffer.alloc(blob.size)
        await file.read(bytes, 0, blob.size, blob.offset)
        await fs.promises.writeFile(blobPath(dir, blob.digest), bytes)
      }
    } finally {
      await file.close()
    }
  }
  await fs.promises.rm(path.join(dir, MANIFEST_FILE))
}

/** Bytes of the regular files below dir, as the action's cache-size output counts them. */
export async function dirBytes(dir: string): Promise<number> {
  const entries = await fs.promises.readdir(dir, { recursive: true, withFileTypes: true })
  const sizes = await Promise.all(
    entries.filter(e => e.isFile()).map(e => fs.promises.stat(path.join(e.parentPath, e.name)).then(s => s.size))
  )
  return sizes.reduce((a, b) => a + b, 0)
}
