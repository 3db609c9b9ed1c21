// What an entry really holds: the media types of the layers in a buildx local
// cache (an OCI layout whose index points at the cache's own index). A
// compression figure means nothing unless the layers have that compression.
import * as fs from 'node:fs'
import * as path from 'node:path'

interface Descriptor {
  mediaType: string
  digest: string
  size: number
}

const LAYER = /^application\/vnd\.(oci\.image|docker\.image\.rootfs)\.(layer\.v1\.tar|diff\.tar)/

/** Counts of each layer media type, e.g. { 'tar+zstd': 11 }. */
export async function layerCompressions(cacheDir: string): Promise<Record<string, number>> {
  const read = async (file: string): Promise<{ manifests?: Descriptor[]; layers?: Descriptor[] }> =>
    JSON.parse(await fs.promises.readFile(file, 'utf8'))
  const blob = (d: Descriptor): string => path.join(cacheDir, 'blobs', ...d.digest.split(':'))
  const counts: Record<string, number> = {}
  const top = await read(path.join(cacheDir, 'index.json'))
  for (const manifest of top.manifests ?? []) {
    const inner = await read(blob(manifest))
    for (const d of [...(inner.manifests ?? []), ...(inner.layers ?? [])]) {
      if (!LAYER.test(d.mediaType)) continue
      const kind = d.mediaType.replace(/^.*\.(tar(\.\w+)?(\+\w+)?)$/, '$1').replace('tar.gzip', 'tar+gzip')
      counts[kind] = (counts[kind] ?? 0) + 1
    }
  }
  return counts
}

/** Whether every layer has the compression asked for. */
export function allLayers(counts: Record<string, number>, compression: 'gzip' | 'zstd' | 'uncompressed'): boolean {
  const kinds = Object.keys(counts)
  const wanted = compression === 'uncompressed' ? 'tar' : `tar+${compression}`
  return kinds.length > 0 && kinds.every(k => k === wanted)
}
