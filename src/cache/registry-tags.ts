import { createHash } from 'node:crypto'

// A registry names an entry by its tag: at most 128 characters of
// [A-Za-z0-9_.-], not starting with `.` or `-`. Keys are longer than that
// (four escaped components of up to 100 characters each) and use `%`, `~` and
// `/`, so a tag cannot spell its key out. Each tag therefore ends in a digest
// of the whole key, which is what keeps tags apart exactly as their keys are
// apart (image `a-b` on branch `c` and image `a` on branch `b-c` have different
// keys, hence different digests); the readable part before it only helps a
// person browsing the registry, and may be the same for two keys.

export const MAX_TAG = 128
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const SEPARATOR = '/'
const DIGEST_CHARS = 32
const MAX_IMAGE_HINT = 40
const MAX_BRANCH_HINT = 30
const HASH_HINT = 12
/** Marks the tag that follows an image's newest entry on a branch. */
const NEWEST = 'newest'
/** Marks the tag of an entry's kept base images. */
const BASES = 'bases'

/** The tag of one content key (`<prefix>/<image>/<branch>/<hash>`): rewritten only for the same content. */
export function contentTag(contentKey: string): string {
  const [, image, branch, hash] = components(contentKey)
  return join([hint(image, MAX_IMAGE_HINT), hint(branch, MAX_BRANCH_HINT), hint(hash, HASH_HINT), digest(contentKey)])
}

/** The tag of the index that keeps the base images of one content key's entry, beside it. */
export function basesTag(contentKey: string): string {
  return join([contentTag(contentKey), BASES])
}

/**
 * The tag that follows the newest entry of an image on a branch, named by the
 * restore key `<prefix>/<image>/<branch>/`: what the fallbacks read.
 */
export function branchTag(scopeKey: string): string {
  const [, image, branch] = components(scopeKey)
  return join([hint(image, MAX_IMAGE_HINT), hint(branch, MAX_BRANCH_HINT), NEWEST, digest(scopeKey)])
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag)
}

function components(key: string): string[] {
  const parts = key.split(SEPARATOR)
  if (parts.length !== 4) throw new Error(`not a cache key of four components: ${key}`)
  return parts
}

function join(parts: string[]): string {
  const tag = parts.join('.')
  // Never reached with the bounds above; a guard against a future change.
  if (!isValidTag(tag)) throw new Error(`derived an invalid registry tag: ${tag}`)
  return tag
}

// Escapes (`%2F`) and the shortening mark (`~`) become `_`; a leading `.` or
// `-` would make the tag invalid, and an empty component says nothing.
function hint(component: string, max: number): string {
  const plain = component
    .replace(/%[0-9A-Fa-f]{2}/g, '_')
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, max)
  return plain === '' ? '_' : plain.replace(/^[.-]/, '_')
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, DIGEST_CHARS)
}
