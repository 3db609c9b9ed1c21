import { createHash } from 'node:crypto'
import type { LayoutBlob } from '../integrity.js'
import type { BlobPlace, PackManifest, PackRef } from './manifest.js'

/**
 * A pack whose blobs no longer named take more than this share of it is
 * written again: its live blobs go into the new pack and it is left to be
 * deleted, which keeps what the service stores within a tenth of what the
 * newest entry needs.
 */
export const MAX_DEAD_SHARE = 0.1

export interface SavePlan {
  /** What the new entry's manifest says. */
  manifest: PackManifest
  /** The pack this save uploads, unless every blob is held already. */
  upload?: { key: string; blobs: LayoutBlob[]; sizeBytes: number }
  /** Bytes of the layout that are taken from packs the service holds. */
  reusedBytes: number
  /** Held packs written again because too much of them is dead. */
  rewritten: string[]
}

/**
 * What to upload for `blobs` (the exported layout, in its order) when the
 * service holds the packs of `held` (the restored entry's manifest, every blob
 * of which was read back and verified this run). `scope` is where this
 * branch's packs are named: `<prefix>/<image>/<branch>/`.
 */
export function planSave(blobs: readonly LayoutBlob[], held: PackManifest | undefined, scope: string): SavePlan {
  const wanted = new Set(blobs.map(b => b.digest))
  const heldAt = new Map((held?.blobs ?? []).map(b => [b.digest, b]))
  const kept = keptPacks(held, wanted)

  const packs: PackRef[] = []
  const packIndex = new Map<number, number>()
  const places: BlobPlace[] = []
  const fresh: LayoutBlob[] = []
  let reusedBytes = 0
  for (const blob of blobs) {
    const place = heldAt.get(blob.digest)
    if (place !== undefined && place.size === blob.size && kept.has(place.pack) && held) {
      let index = packIndex.get(place.pack)
      if (index === undefined) {
        index = packs.push(held.packs[place.pack] as PackRef) - 1
        packIndex.set(place.pack, index)
      }
      places.push({ ...place, pack: index })
      reusedBytes += blob.size
    } else fresh.push(blob)
  }
  const rewritten = (held?.packs ?? []).filter((_, i) => !kept.has(i) && usedBy(held, i, wanted)).map(p => p.key)
  if (fresh.length === 0) return { manifest: { packs, blobs: places }, reusedBytes, rewritten }

  const key = packKey(scope, fresh)
  const sizeBytes = fresh.reduce((sum, b) => sum + b.size, 0)
  const index = packs.push({ key, sizeBytes }) - 1
  let offset = 0
  for (const blob of fresh) {
    places.push({ digest: blob.digest, size: blob.size, pack: index, offset })
    offset += blob.size
  }
  return {
    manifest: { packs, blobs: places },
    upload: { key, blobs: fresh, sizeBytes },
    reusedBytes,
    rewritten
  }
}

/** The held packs worth keeping: those whose dead share stays within the bound. */
function keptPacks(held: PackManifest | undefined, wanted: Set<string>): Set<number> {
  const kept = new Set<number>()
  if (held === undefined) return kept
  const live = new Array<number>(held.packs.length).fill(0)
  for (const b of held.blobs) if (wanted.has(b.digest)) live[b.pack] = (live[b.pack] ?? 0) + b.size
  held.packs.forEach((p, i) => {
    const used = live[i] ?? 0
    if (used > 0 && p.sizeBytes - used <= MAX_DEAD_SHARE * p.sizeBytes) kept.add(i)
  })
  return kept
}

function usedBy(held: PackManifest | undefined, pack: number, wanted: Set<string>): boolean {
  return (held?.blobs ?? []).some(b => b.pack === pack && wanted.has(b.digest))
}

/**
 * Named by what it holds, in order: two runs that upload the same blobs name
 * the same pack, and the service keeps one.
 */
export function packKey(scope: string, blobs: readonly LayoutBlob[]): string {
  const hash = createHash('sha256')
  for (const b of blobs) hash.update(`${b.digest} ${b.size}\n`)
  return `${scope}packs/${hash.digest('hex')}`
}
