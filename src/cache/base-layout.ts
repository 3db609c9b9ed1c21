import * as fs from 'node:fs'
import * as path from 'node:path'
import { keptBases, keptDescriptor, type KeptBase } from '../docker/base-images.js'
import { blobPath } from './integrity.js'
import { MANIFEST_FILE, parseManifest } from './packs/manifest.js'

// Base images kept in an OCI layout beside the cache: the cache's own
// layout, whose index.json names them next to the cache manifest (BuildKit
// imports the manifest tagged `latest` and ignores the rest), so that every
// backend that moves the layout moves them, and blobs they share with the
// cache are held once.

/**
 * The kept bases a layout names, each with its manifest present: in the
 * layout, or in `held` (the blobs an entry of packs holds, when the layout
 * has only its index).
 */
export async function keptIn(layout: string, held?: ReadonlySet<string>): Promise<KeptBase[]> {
  try {
    const index = JSON.parse(await fs.promises.readFile(path.join(layout, 'index.json'), 'utf8'))
    const kept = keptBases(index)
    const present = await Promise.all(
      kept.map(k => (held ? Promise.resolve(held.has(k.digest)) : isFile(blobPath(layout, k.digest))))
    )
    return kept.filter((_, i) => present[i])
  } catch {
    return []
  }
}

/** Copies an image (its manifest or index, and all it names) into another layout; the bytes it added there. */
export async function copyImage(from: string, to: string, digest: string): Promise<number> {
  let added = 0
  const pending = [digest]
  const seen = new Set<string>()
  while (pending.length > 0) {
    const next = pending.shift() as string
    if (seen.has(next)) continue
    seen.add(next)
    const source = blobPath(from, next)
    const target = blobPath(to, next)
    const size = (await fs.promises.stat(source)).size
    if (!(await isFile(target))) {
      await fs.promises.mkdir(path.dirname(target), { recursive: true })
      await fs.promises.copyFile(source, target)
      added += size
    }
    // Manifests, indexes and configs are small JSON documents; a layer is never read.
    if (size < 1024 * 1024) pending.push(...namedBlobs(await fs.promises.readFile(source)))
  }
  return added
}

/** Names the kept bases in the layout's index.json, replacing any kept before under the same names. */
export async function addToIndex(layout: string, kept: KeptBase[]): Promise<void> {
  const file = path.join(layout, 'index.json')
  const index = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { manifests?: unknown[] }
  const names = new Set(kept.map(k => k.name))
  const others = (index.manifests ?? []).filter(m => !keptBases({ manifests: [m] }).some(k => names.has(k.name)))
  index.manifests = [...others, ...kept.map(keptDescriptor)]
  await fs.promises.writeFile(file, JSON.stringify(index))
}

function namedBlobs(text: Buffer): string[] {
  let document: unknown
  try {
    document = JSON.parse(text.toString('utf8'))
  } catch {
    return []
  }
  if (typeof document !== 'object' || document === null) return []
  const { manifests, layers, config } = document as Record<string, unknown>
  return [...(Array.isArray(manifests) ? manifests : []), ...(Array.isArray(layers) ? layers : []), config]
    .map(d => (d as { digest?: unknown } | undefined)?.digest)
    .filter((d): d is string => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))
}

async function isFile(p: string): Promise<boolean> {
  return (await fs.promises.stat(p).catch(() => undefined))?.isFile() ?? false
}

/** The digests the manifest of packs beside a restored index places, empty when it has none. */
export async function packedBlobs(layout: string): Promise<Set<string>> {
  const text = await fs.promises.readFile(path.join(layout, MANIFEST_FILE), 'utf8').catch(() => '')
  const manifest = text ? parseManifest(text) : undefined
  return new Set(manifest && !('problem' in manifest) ? manifest.blobs.map(b => b.digest) : [])
}
