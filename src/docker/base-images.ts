/**
 * The images a build starts from (FROM, COPY --from=<image>, RUN
 * --mount=from=<image>), as the build resolved them, and the copies of them
 * an entry keeps. Pure: what the build's metadata and the layout's index say.
 */

/** A base image the build resolved from a registry. */
export interface ResolvedBase {
  /**
   * The reference as BuildKit's Dockerfile frontend looks a named context up
   * for it: the familiar form (`alpine`, `ghcr.io/acme/base:1`), `:latest` left off.
   */
  name: string
  /** What the reference resolved to: `sha256:<hex>` (an index or a manifest). */
  digest: string
  /** `os/arch[/variant]`, when the build resolved it for one platform. */
  platform?: string
}

/** A base image an entry keeps: its layout's index names it under `name`. */
export interface KeptBase {
  name: string
  /** The kept image's manifest in the layout (not the registry's: the layers are recompressed as the cache's are). */
  digest: string
  /** What the reference had resolved to in the registry when it was kept. */
  resolved: string
  mediaType: string
  size: number
}

/** The annotations that mark a kept base image in the layout's index.json. */
export const BASE_NAME_ANNOTATION = 'io.github.buildx-ci-cache.base-image'
export const BASE_RESOLVED_ANNOTATION = 'io.github.buildx-ci-cache.base-image.resolved'

const DIGEST = /^sha256:[a-f0-9]{64}$/

/**
 * The images a build's metadata file says it resolved: buildx writes the
 * provenance's materials there (`buildx.build.provenance`), each image as a
 * package URL, `pkg:docker/<name>@<tag or digest>?platform=<os/arch>`.
 * Stages and `scratch` are not materials; nor is anything but an image.
 */
export function resolvedBases(metadata: unknown): ResolvedBase[] {
  const provenance = (metadata as Record<string, unknown> | null)?.['buildx.build.provenance']
  const materials = (provenance as { materials?: unknown } | undefined)?.materials
  if (!Array.isArray(materials)) return []
  const found = new Map<string, ResolvedBase>()
  for (const material of materials) {
    const { uri, digest } = (material ?? {}) as { uri?: unknown; digest?: { sha256?: unknown } }
    if (typeof uri !== 'string' || typeof digest?.sha256 !== 'string') continue
    const base = fromPackageUrl(uri, `sha256:${digest.sha256}`)
    if (base) found.set(`${base.name} ${base.platform ?? ''}`, base)
  }
  return [...found.values()]
}

function fromPackageUrl(uri: string, digest: string): ResolvedBase | undefined {
  const m = /^pkg:docker\/([^@?#]+)@([^?#]+)(?:\?([^#]*))?/.exec(uri)
  if (!m || !DIGEST.test(digest)) return undefined
  let name: string
  let version: string
  try {
    name = decodeURIComponent(m[1] as string)
    version = decodeURIComponent(m[2] as string)
  } catch {
    return undefined
  }
  const platform = new URLSearchParams(m[3] ?? '').get('platform') ?? undefined
  const familiar = familiarName(name)
  const reference = DIGEST.test(version)
    ? `${familiar}@${version}`
    : version === 'latest'
      ? familiar
      : `${familiar}:${version}`
  return { name: reference, digest, ...(platform ? { platform } : {}) }
}

/** `docker.io/library/alpine` → `alpine`, as Docker's familiar form writes a Docker Hub name. */
export function familiarName(name: string): string {
  const hub = /^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\/(.+)$/.exec(name)
  const path = hub ? (hub[1] as string) : name
  if (!hub && hasRegistry(path)) return path
  return path.startsWith('library/') && path.split('/').length === 2 ? path.slice('library/'.length) : path
}

/** The registry a reference names: its first component when that is a host, else Docker Hub. */
export function registryOf(reference: string): string {
  const first = reference.split('/')[0] as string
  return reference.includes('/') && hasRegistry(reference) ? first : 'docker.io'
}

function hasRegistry(name: string): boolean {
  const slash = name.indexOf('/')
  if (slash < 0) return false
  const first = name.slice(0, slash)
  return first.includes('.') || first.includes(':') || first === 'localhost'
}

/** The kept bases a layout's index.json names; the cache's own manifest is not one. */
export function keptBases(index: unknown): KeptBase[] {
  const manifests = (index as { manifests?: unknown } | null)?.manifests
  if (!Array.isArray(manifests)) return []
  const kept: KeptBase[] = []
  for (const m of manifests) {
    const { digest, mediaType, size, annotations } = (m ?? {}) as Record<string, unknown>
    const notes = (annotations ?? {}) as Record<string, unknown>
    const name = notes[BASE_NAME_ANNOTATION]
    const resolved = notes[BASE_RESOLVED_ANNOTATION]
    if (typeof name !== 'string' || typeof digest !== 'string' || !DIGEST.test(digest)) continue
    if (typeof mediaType !== 'string' || typeof size !== 'number') continue
    kept.push({ name, digest, resolved: typeof resolved === 'string' ? resolved : '', mediaType, size })
  }
  return kept
}

/** The index entry that keeps a base: a descriptor of its manifest, annotated with what it stands for. */
export function keptDescriptor(base: KeptBase): Record<string, unknown> {
  return {
    mediaType: base.mediaType,
    digest: base.digest,
    size: base.size,
    annotations: { [BASE_NAME_ANNOTATION]: base.name, [BASE_RESOLVED_ANNOTATION]: base.resolved }
  }
}

/**
 * `--build-context` values that make the build use the kept copies, from
 * `source`: `oci-layout://<dir>` (a restored layout, which BuildKit reads
 * without asking any registry) or `docker-image://<repository>` (the cache's
 * own repository, which the registry backend reads anyway).
 */
export function baseContextArgs(kept: KeptBase[], source: string): string[] {
  return kept.flatMap(base => ['--build-context', `${base.name}=${source}@${base.digest}`])
}

/**
 * The annotations of the index the registry backend keeps bases under (one
 * pair per kept manifest, keyed by its digest: an index's manifests carry no
 * annotations of their own through `imagetools create`).
 */
export function basesIndexAnnotations(kept: KeptBase[]): Record<string, string> {
  const notes: Record<string, string> = {}
  for (const base of kept) {
    const hex = base.digest.slice('sha256:'.length)
    notes[`${BASE_NAME_ANNOTATION}.${hex}`] = base.name
    notes[`${BASE_RESOLVED_ANNOTATION}.${hex}`] = base.resolved
  }
  return notes
}

/** The kept bases such an index names. */
export function keptInBasesIndex(raw: string): KeptBase[] {
  let index: { manifests?: unknown; annotations?: unknown }
  try {
    index = JSON.parse(raw)
  } catch {
    return []
  }
  const notes = (index.annotations ?? {}) as Record<string, unknown>
  const kept: KeptBase[] = []
  for (const m of Array.isArray(index.manifests) ? index.manifests : []) {
    const { digest, mediaType, size } = (m ?? {}) as Record<string, unknown>
    if (typeof digest !== 'string' || !DIGEST.test(digest)) continue
    const hex = digest.slice('sha256:'.length)
    const name = notes[`${BASE_NAME_ANNOTATION}.${hex}`]
    const resolved = notes[`${BASE_RESOLVED_ANNOTATION}.${hex}`]
    if (typeof name !== 'string' || typeof mediaType !== 'string' || typeof size !== 'number') continue
    kept.push({ name, digest, resolved: typeof resolved === 'string' ? resolved : '', mediaType, size })
  }
  return kept
}

/** Why BuildKit could not resolve a base image, read from a failed build's output. */
export interface BaseResolveFailure {
  /** The reference as the build wrote it. */
  name: string
  registry: string
  /** The HTTP status the registry answered, when it answered. */
  status?: number
  /** What BuildKit said after the reference. */
  reason: string
}

const RESOLVE_FAILURE = /failed to resolve source metadata for (\S+): (.*)$/m

export function baseResolveFailure(output: string): BaseResolveFailure | undefined {
  const m = RESOLVE_FAILURE.exec(output)
  if (!m) return undefined
  const name = m[1] as string
  const reason = (m[2] as string).trim()
  // "unexpected status from HEAD request to https://...: 429 Too Many Requests", "... 401 Unauthorized".
  const status = /:\s([45]\d\d)\b/.exec(reason)
  return {
    name,
    registry: registryOf(name),
    reason,
    ...(status ? { status: Number(status[1]) } : {})
  }
}

/** The one sentence a build fails with when a base image's registry refused and no kept copy stands in. */
export function baseFailureSentence(failure: BaseResolveFailure): string {
  const answered =
    failure.status === undefined
      ? `could not be reached (${failure.reason})`
      : `answered ${statusWords(failure.status)}`
  return `The base image ${failure.name} could not be resolved: its registry ${failure.registry} ${answered}. Log in to ${failure.registry} with docker/login-action before this step (a login lifts anonymous pull limits), or build from a mirror of the image; once a run that writes the cache has saved, its entry keeps a copy and later runs need no registry for it.`
}

function statusWords(status: number): string {
  if (status === 429) return '429 Too Many Requests (a pull rate limit)'
  if (status === 401) return '401 Unauthorized'
  if (status === 403) return '403 Forbidden'
  if (status >= 500) return `${status} (the registry is failing)`
  return String(status)
}
