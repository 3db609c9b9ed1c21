import * as fs from 'node:fs'
import * as path from 'node:path'
import { blobPath } from '../integrity.js'
import { locatePacks, locatePackUrls } from './locate.js'
import type { PackService } from './service.js'
import { fetchBlobs, uploadPack } from './transfer.js'

// What the cache client does around the index entry @actions/cache moves:
// after a restore, fetch the blobs its manifest places; before a save, upload
// the pack of blobs the service does not hold yet.

export type Fetched =
  /** The entry is a whole layout already (saved before packs existed). */
  | { kind: 'whole' }
  | { kind: 'fetched'; bytes: number; packs: number }
  /** The packs were looked up and their download URLs kept, for the blobs to be read during the build. */
  | { kind: 'located'; urls: string[] }
  | { kind: 'failed'; problem: string }

/** Looks up the packs of the entry restored at `dir`, fetching none of their blobs. */
export async function locateEntryPacks(dir: string, service: PackService | undefined): Promise<Fetched> {
  return await locatePackUrls(dir, service && (key => service.lookup(key)))
}

/** Fills the layout at `dir` (index.json and the manifest, as restored) with the blobs its packs hold. */
export async function fetchEntryBlobs(dir: string, service: PackService | undefined): Promise<Fetched> {
  const located = await locatePacks(dir, service && (key => service.lookup(key)))
  if (located.kind !== 'located') return located
  const { manifest, urls } = located
  await fs.promises.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true })
  const packs = manifest.packs.map((_, i) => ({
    url: urls[i] as string,
    ranges: manifest.blobs
      .filter(b => b.pack === i)
      .map(b => ({ digest: b.digest, size: b.size, offset: b.offset, path: blobPath(dir, b.digest) }))
  }))
  try {
    const bytes = await fetchBlobs(packs.filter(p => p.ranges.length > 0))
    return { kind: 'fetched', bytes, packs: packs.length }
  } catch (error) {
    return { kind: 'failed', problem: `its blobs could not be fetched: ${(error as Error).message}` }
  }
}

export type Uploaded = { kind: 'uploaded'; bytes: number } | { kind: 'held' } | { kind: 'failed'; reason: string }

/** Uploads the pack of blobs (files of the layout at `dir`) under `key`, unless the service holds it already. */
export async function uploadEntryPack(
  upload: { key: string; blobs: Array<{ digest: string; size: number }> },
  dir: string,
  service: PackService
): Promise<Uploaded> {
  const reservation = await service.reserve(upload.key)
  if (reservation.kind === 'exists') return { kind: 'held' }
  if (reservation.kind === 'refused')
    return { kind: 'failed', reason: `its new blobs were refused: ${reservation.reason}` }
  const files = upload.blobs.map(b => ({ path: blobPath(dir, b.digest), size: b.size }))
  const bytes = files.reduce((sum, f) => sum + f.size, 0)
  try {
    await uploadPack(reservation.uploadUrl, files)
  } catch (error) {
    return { kind: 'failed', reason: `the upload of its new blobs failed: ${(error as Error).message}` }
  }
  const refused = await service.finalize(upload.key, bytes)
  return refused === undefined
    ? { kind: 'uploaded', bytes }
    : { kind: 'failed', reason: `its new blobs were not completed: ${refused}` }
}
