// The manifests the registry backend keeps, read without I/O.
import { clipped } from '../printable.js'

/** The media type of the config that makes an image manifest a BuildKit cache (`image-manifest=true`). */
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.buildkit.cacheconfig.v0'
/** The annotation of a branch tag's index that names the content key it points at. */
export const KEY_ANNOTATION = 'io.github.buildx-ci-cache.key'

const IMAGE_MANIFESTS = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json'
]
const INDEXES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']
const DIGEST = /^sha256:[a-f0-9]{64}$/

export type Parsed<T> = ({ ok: true } & T) | { ok: false; problem: string }

/** A cache manifest as BuildKit pushes it; its size is what the entry holds in the registry. */
export function parseCacheManifest(raw: string): Parsed<{ sizeBytes: number }> {
  const manifest = json(raw)
  if (manifest === undefined) return { ok: false, problem: 'its manifest is not JSON' }
  const mediaType = manifest.mediaType
  if (typeof mediaType === 'string' && INDEXES.includes(mediaType))
    return { ok: false, problem: 'it is an image index, not a cache manifest' }
  if (typeof mediaType === 'string' && !IMAGE_MANIFESTS.includes(mediaType))
    return { ok: false, problem: `its manifest has the media type ${clipped(mediaType)}` }
  const config = object(manifest.config)
  if (config?.mediaType !== CACHE_CONFIG_MEDIA_TYPE) {
    return {
      ok: false,
      problem: `it is not a BuildKit cache (its config is ${clipped(String(config?.mediaType ?? 'missing'))})`
    }
  }
  if (!Array.isArray(manifest.layers)) return { ok: false, problem: 'its manifest lists no layers' }
  let sizeBytes = size(config.size)
  for (const layer of manifest.layers) {
    const descriptor = object(layer)
    if (typeof descriptor?.digest !== 'string' || !DIGEST.test(descriptor.digest))
      return { ok: false, problem: 'a layer of its manifest has no sha256 digest' }
    sizeBytes += size(descriptor.size)
  }
  return { ok: true, sizeBytes }
}

/**
 * A branch tag: an index of one manifest, annotated with the content key it
 * holds, which must lie in the branch's own scope.
 */
export function parseBranchPointer(raw: string, scopeKey: string): Parsed<{ key: string; digest: string }> {
  const index = json(raw)
  if (index === undefined) return { ok: false, problem: 'its index is not JSON' }
  const key = object(index.annotations)?.[KEY_ANNOTATION]
  if (typeof key !== 'string') return { ok: false, problem: `its index has no ${KEY_ANNOTATION} annotation` }
  const rest = key.startsWith(scopeKey) ? key.slice(scopeKey.length) : ''
  if (rest === '' || rest.includes('/')) return { ok: false, problem: `it names a key outside ${scopeKey}` }
  const manifests = Array.isArray(index.manifests) ? index.manifests : []
  const digest = object(manifests[0])?.digest
  if (manifests.length !== 1 || typeof digest !== 'string' || !DIGEST.test(digest)) {
    return { ok: false, problem: 'its index does not point at exactly one manifest' }
  }
  return { ok: true, key, digest }
}

type Json = Record<string, unknown>

function json(raw: string): Json | undefined {
  try {
    return object(JSON.parse(raw))
  } catch {
    return undefined
  }
}

function object(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined
}

function size(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0
}
