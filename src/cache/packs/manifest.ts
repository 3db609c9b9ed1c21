// An entry of the gha store is small: the layout's index.json and this
// manifest, which says where each blob the index names is kept. Blobs live in
// packs, entries of their own that hold blobs back to back, uncompressed
// around them (layers are compressed already), so that a save uploads only
// the blobs no pack holds yet and a restore reads only the ranges it needs.

/** The file beside index.json that makes a layout an entry of packs. */
export const MANIFEST_FILE = 'buildx-ci-cache-packs.json'

const FORMAT = 'buildx-ci-cache/packs'
const FORMAT_VERSION = 1
const DIGEST = /^sha256:[a-f0-9]{64}$/
// Keys as the service takes them: no comma, at most 512 characters.
const KEY = /^[^,]{1,512}$/
const MAX_PACKS = 1000
const MAX_BLOBS = 100_000

export interface PackRef {
  key: string
  /** Bytes the pack holds, blobs no entry names any more included. */
  sizeBytes: number
}

export interface BlobPlace {
  digest: string
  size: number
  /** Index into `packs`. */
  pack: number
  /** Where the blob starts in its pack. */
  offset: number
}

export interface PackManifest {
  packs: PackRef[]
  blobs: BlobPlace[]
}

export function renderManifest(manifest: PackManifest): string {
  return `${JSON.stringify({ format: FORMAT, version: FORMAT_VERSION, ...manifest })}\n`
}

/**
 * The manifest in `text`, or why it cannot be trusted: a restore reads byte
 * ranges and writes files from it, so every place must lie inside its pack
 * and every digest must be one a path can be made of.
 */
export function parseManifest(text: string): PackManifest | { problem: string } {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return { problem: `${MANIFEST_FILE} is not valid JSON` }
  }
  const doc = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>
  if (doc.format !== FORMAT) return { problem: `${MANIFEST_FILE} is not a manifest of packs` }
  if (doc.version !== FORMAT_VERSION)
    return { problem: `${MANIFEST_FILE} has version ${JSON.stringify(doc.version)}, not ${FORMAT_VERSION}` }
  const { packs, blobs } = doc
  if (!Array.isArray(packs) || packs.length > MAX_PACKS) return { problem: `${MANIFEST_FILE} lists no valid packs` }
  if (!Array.isArray(blobs) || blobs.length > MAX_BLOBS) return { problem: `${MANIFEST_FILE} lists no valid blobs` }
  const checkedPacks: PackRef[] = []
  for (const p of packs as Array<Record<string, unknown>>) {
    if (typeof p?.key !== 'string' || !KEY.test(p.key) || !isCount(p.sizeBytes))
      return { problem: `${MANIFEST_FILE} names a pack wrongly (${JSON.stringify(p?.key)})` }
    checkedPacks.push({ key: p.key, sizeBytes: p.sizeBytes })
  }
  const checkedBlobs: BlobPlace[] = []
  const seen = new Set<string>()
  for (const b of blobs as Array<Record<string, unknown>>) {
    const { digest, size, pack, offset } = b ?? {}
    if (typeof digest !== 'string' || !DIGEST.test(digest) || !isCount(size) || !isCount(offset) || !isCount(pack))
      return { problem: `${MANIFEST_FILE} places a blob wrongly (${JSON.stringify(digest)})` }
    const holder = checkedPacks[pack]
    if (holder === undefined || offset + size > holder.sizeBytes)
      return { problem: `${MANIFEST_FILE} places blob ${digest} outside its pack` }
    if (seen.has(digest)) return { problem: `${MANIFEST_FILE} places blob ${digest} twice` }
    seen.add(digest)
    checkedBlobs.push({ digest, size, pack, offset })
  }
  return { packs: checkedPacks, blobs: checkedBlobs }
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}
