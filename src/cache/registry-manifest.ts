// What the registry answers, read without I/O: the manifests the registry
// backend keeps, and the errors docker prints when the registry says no.

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
    return { ok: false, problem: `its manifest has the media type ${clip(mediaType)}` }
  const config = object(manifest.config)
  if (config?.mediaType !== CACHE_CONFIG_MEDIA_TYPE) {
    return {
      ok: false,
      problem: `it is not a BuildKit cache (its config is ${clip(String(config?.mediaType ?? 'missing'))})`
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

/** What a failed registry call came to, from the error docker printed. */
export type RegistryFault =
  /** The tag or the repository does not exist: a cache miss. */
  | { kind: 'missing' }
  /** 401/403: not logged in, or the login may not do this. */
  | { kind: 'denied'; message: string }
  /** 405: the registry takes no pushes (read-only mode, a pull-through mirror). */
  | { kind: 'read-only'; message: string }
  /** Unreachable, silent, or failing in some other way: a push would fare no better. */
  | { kind: 'broken'; message: string }

export function classifyError(stderr: string): RegistryFault {
  const message = errorMessage(stderr)
  // URLs and quoted names carry tags and image names, which may contain any
  // of the words looked for.
  const words = message.replace(/"[^"]*"/g, '""').replace(/https?:\/\/\S+/g, 'URL')
  // Asked first: the answer to a missing tag starts with the reference.
  if (/: not found$/.test(message) || /manifest unknown|name unknown/i.test(words)) return { kind: 'missing' }
  if (
    /\b(401|403)\b|unauthori[sz]ed|forbidden|denied|authorization failed|no basic auth credentials|insufficient_scope/i.test(
      words
    )
  ) {
    return { kind: 'denied', message }
  }
  if (/\b405\b|method not allowed|read-only mode/i.test(words)) return { kind: 'read-only', message }
  if (/\b404\b/.test(words)) return { kind: 'missing' }
  return { kind: 'broken', message }
}

/** Why a push to `repository` failed, and what to change when it was refused. */
export function explainPushFailure(error: string, repository: string): string {
  const fault = classifyError(error)
  switch (fault.kind) {
    case 'denied':
      return (
        `the registry refused the push to ${repository} (${fault.message}). Log in before this step with credentials that may push ` +
        "(docker/login-action); for ghcr.io give the job `permissions: packages: write`, and give this repository write access in the package's settings if another repository created it."
      )
    case 'read-only':
      return `the registry does not take pushes to ${repository} (${fault.message}): it is read-only or a mirror; point cache-ref at a registry that takes pushes.`
    case 'missing':
    case 'broken':
      return `the push to ${repository} failed: ${errorMessage(error)}`
  }
}

/** The line that says what went wrong: docker's last `ERROR:` line, else its last line. */
export function errorMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean)
  const error = lines.filter(l => /^(ERROR|error):/.test(l)).at(-1) ?? lines.at(-1) ?? 'no output'
  return clip(error.replace(/^(ERROR|error):\s*/, ''))
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

function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}
