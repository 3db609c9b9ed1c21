import * as fs from 'node:fs'
import * as path from 'node:path'

export interface Descriptor {
  mediaType?: unknown
  digest?: unknown
  size?: unknown
}

// Manifests and indexes name further blobs; layers and buildkit's cache
// config (whose layer list repeats the manifest's) do not need opening.
const NAMES_BLOBS = /(manifest|index)[^/]*\+json$/
const DIGEST = /^sha256:([a-f0-9]{64})$/
const MAX_BLOBS = 100_000

/** A blob a layout names, as its descriptor gives it. */
export interface LayoutBlob {
  /** `sha256:<hex>`. */
  digest: string
  size: number
  /** Not in the directory: a blob of `held` (checkLayout), which the service holds already. */
  elsewhere?: true
}

export type LayoutCheck =
  | { blobs: LayoutBlob[] }
  /** `missing`: the blob whose absence is the problem, when that is it. */
  | { problem: string; missing?: LayoutBlob }

/**
 * Why dir is not a complete buildx local cache, or undefined when it is:
 * index.json must parse, and every blob it names (through the manifests) must
 * be present at its recorded size. Blobs are not hashed, which would read the
 * whole cache; this catches the usual damage (a half-extracted archive, an
 * interrupted copy, a truncated file), which otherwise either fails the build
 * or makes buildx quietly ignore the cache.
 */
export async function cacheProblem(dir: string): Promise<string | undefined> {
  const checked = await checkLayout(dir)
  return 'problem' in checked ? checked.problem : undefined
}

/**
 * Every blob of a complete layout, each once, in the order the index names
 * them (manifests before what they name, layers in the order they stack);
 * else why the layout is not complete, as cacheProblem says it. With `held`
 * (digest → size), a layer or config missing from the directory is complete
 * when held at its size: an export pushed to the loopback registry writes
 * only the blobs the restored entry's packs lack. Manifests must be on disk,
 * to be read.
 */
export async function checkLayout(dir: string, held?: ReadonlyMap<string, number>): Promise<LayoutCheck> {
  const problem = (text: string): LayoutCheck => ({ problem: text })
  let index: unknown
  try {
    index = JSON.parse(await fs.promises.readFile(path.join(dir, 'index.json'), 'utf8'))
  } catch (error) {
    return problem(
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no index.json' : 'index.json is not valid JSON'
    )
  }
  // Read front to back, so that blobs come in the order they are named.
  const pending = children(index)
  if (pending.length === 0) return problem('index.json names no manifest')
  const seen = new Set<string>()
  const blobs: LayoutBlob[] = []
  while (pending.length > 0) {
    const descriptor = pending.shift() as Descriptor
    const digest = typeof descriptor.digest === 'string' ? DIGEST.exec(descriptor.digest) : null
    // The digest becomes a path: anything but a plain sha256 is refused.
    if (!digest || !Number.isSafeInteger(descriptor.size) || (descriptor.size as number) < 0)
      return problem(`a descriptor is malformed (${JSON.stringify(descriptor.digest)})`)
    if (seen.has(digest[1])) continue
    if (seen.add(digest[1]).size > MAX_BLOBS) return problem(`it names more than ${MAX_BLOBS} blobs`)
    const blob = path.join(dir, 'blobs', 'sha256', digest[1])
    const stat = await fs.promises.stat(blob).catch(() => undefined)
    const opens = typeof descriptor.mediaType === 'string' && NAMES_BLOBS.test(descriptor.mediaType)
    if (!stat && !opens && held?.get(digest[0]) === descriptor.size) {
      blobs.push({ digest: digest[0], size: descriptor.size as number, elsewhere: true })
      continue
    }
    if (!stat?.isFile())
      return {
        problem: `blob ${descriptor.digest} is missing`,
        missing: { digest: digest[0], size: descriptor.size as number }
      }
    if (stat.size !== descriptor.size)
      return problem(`blob ${descriptor.digest} has ${stat.size} bytes, not ${descriptor.size}`)
    blobs.push({ digest: digest[0], size: stat.size })
    if (opens) {
      try {
        pending.push(...children(JSON.parse(await fs.promises.readFile(blob, 'utf8'))))
      } catch {
        return problem(`manifest ${descriptor.digest} is not valid JSON`)
      }
    }
  }
  return { blobs }
}

/** Where a layout keeps the blob of this digest. */
export function blobPath(dir: string, digest: string): string {
  return path.join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length))
}

/** The descriptors a manifest or index names: its manifests, layers and config. */
export function children(document: unknown): Descriptor[] {
  if (typeof document !== 'object' || document === null) return []
  const { manifests, layers, config } = document as Record<string, unknown>
  const list = [
    ...(Array.isArray(manifests) ? manifests : []),
    ...(Array.isArray(layers) ? layers : []),
    ...(config ? [config] : [])
  ]
  return list.filter((d): d is Descriptor => typeof d === 'object' && d !== null)
}
