import * as fs from 'node:fs'
import * as path from 'node:path'
import { MANIFEST_FILE, parseManifest, type PackManifest } from './manifest.js'
import type { Lookup } from './service.js'

// Where the packs of a restored entry are: its manifest (beside index.json,
// as restored) and a signed URL for each pack. Apart from the transfers, so
// that the action's own steps can look packs up without the storage SDK.

export type Located =
  | { kind: 'located'; manifest: PackManifest; urls: string[] }
  /** The entry is a whole layout already (saved before packs existed). */
  | { kind: 'whole' }
  | { kind: 'failed'; problem: string }

/** Looks up each pack of the entry restored at `dir` with `lookup`; undefined `lookup`: no service takes packs here. */
export async function locatePacks(
  dir: string,
  lookup: ((key: string) => Promise<Lookup>) | undefined
): Promise<Located> {
  const text = await fs.promises.readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined)
  if (text === undefined) return { kind: 'whole' }
  if (lookup === undefined) return { kind: 'failed', problem: 'its packs need the cache service v2 API' }
  const manifest = parseManifest(text)
  if ('problem' in manifest) return { kind: 'failed', problem: manifest.problem }
  const found = await Promise.all(manifest.packs.map(p => lookup(p.key)))
  const urls: string[] = []
  for (const [i, answer] of found.entries()) {
    const key = manifest.packs[i]?.key
    if (answer.kind === 'miss') return { kind: 'failed', problem: `its pack ${key} is gone from the cache service` }
    if (answer.kind === 'failed')
      return { kind: 'failed', problem: `its pack ${key} could not be looked up: ${answer.reason}` }
    urls.push(answer.downloadUrl)
  }
  return { kind: 'located', manifest, urls }
}

/** The signed URL of each pack, in the manifest's order, or why the entry has none to offer. */
export type PackUrls = { kind: 'located'; urls: string[] } | Exclude<Located, { kind: 'located' }>

/** locatePacks, keeping only the URLs: what a restore that leaves the blobs in their packs needs. */
export async function locatePackUrls(
  dir: string,
  lookup: ((key: string) => Promise<Lookup>) | undefined
): Promise<PackUrls> {
  const located = await locatePacks(dir, lookup)
  return located.kind === 'located' ? { kind: 'located', urls: located.urls } : located
}
