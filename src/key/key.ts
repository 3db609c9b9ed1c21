import { createHash } from 'node:crypto'
import type { CacheSource } from '../constants.js'

// Keys are `<prefix>/<image>/<branch>/<hash>`. Each component is escaped so it
// never contains the separator; a restore key therefore ends in `/` and, as a
// prefix, can only match entries whose components are equal to its own: image
// `a-b` on branch `c` and image `a` on branch `b-c` stay apart. The same
// escaping keeps commas (refused by the service) and path tricks (`.`, `..`)
// out, so the local backend can use a key as a relative directory path.
const SEPARATOR = '/'
const MAX_COMPONENT = 100
const EMPTY = '~'

export function keyComponent(value: string): string {
  if (value === '') return EMPTY
  const escaped = Array.from(Buffer.from(value, 'utf8'), (byte, index) =>
    isPlain(byte, index) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  ).join('')
  return escaped.length <= MAX_COMPONENT ? escaped : shorten(escaped, value)
}

function isPlain(byte: number, index: number): boolean {
  const c = String.fromCharCode(byte)
  if (c === '.') return index > 0
  return /[A-Za-z0-9_-]/.test(c)
}

// `~` never appears in an escaped component, so a shortened one can't equal a
// natural one, and the digest of the whole value keeps two long values apart.
function shorten(escaped: string, value: string): string {
  const digest = createHash('sha256').update(value).digest('hex').slice(0, 20)
  let head = escaped.slice(0, MAX_COMPONENT - digest.length - 1)
  const cut = head.lastIndexOf('%')
  if (cut > head.length - 3) head = head.slice(0, cut)
  return `${head}${EMPTY}${digest}`
}

export interface KeyParts {
  prefix: string
  image: string
  /** The branch this run builds; for a pull request, a name its author cannot choose (see github/event.ts). */
  branch: string
  /** The pull request's base branch, when there is one. */
  baseBranch?: string
  defaultBranch: string
  /** Hex digest of everything that shapes the image. */
  hash: string
}

export interface RestoreKey {
  key: string
  source: Exclude<CacheSource, 'exact' | 'none'>
  /** Names this very content on another branch (`<scope><hash>/`), rather than a branch's newest entry of any content. */
  sameContent: boolean
}

export interface KeyPlan {
  /** `<prefix>/<image>/<branch>/<hash>`: names the content, whatever entry holds it (the `key` output). */
  content: string
  hash: string
  /**
   * What the lookup asks for first. Entries of the service are immutable, so
   * each save of a content key adds a generation (`<content>/<generation>`);
   * asked as a prefix, the service answers with the newest, which is how a
   * healed entry supersedes the stale one it replaces.
   */
  lookup: string
  /** Fallbacks, in the order the service tries them; never another image's. */
  restoreKeys: RestoreKey[]
}

export function keyPlan(parts: KeyParts): KeyPlan {
  const scope = (branch: string): string =>
    [parts.prefix, parts.image, branch].map(keyComponent).join(SEPARATOR) + SEPARATOR
  const candidates: Array<[string | undefined, RestoreKey['source']]> = [
    [parts.branch, 'branch'],
    [parts.baseBranch, 'base-branch'],
    [parts.defaultBranch, 'default-branch']
  ]
  // This very content on the base and default branches first, so that a
  // pull request finds master's entry of its content even when master has
  // saved newer content since; then each branch's newest entry of any content.
  const restoreKeys: RestoreKey[] = []
  const add = (key: string, source: RestoreKey['source'], sameContent: boolean): void => {
    if (!restoreKeys.some(r => r.key === key)) restoreKeys.push({ key, source, sameContent })
  }
  for (const [branch, source] of candidates) {
    if (branch !== undefined && branch !== parts.branch) add(scope(branch) + parts.hash + SEPARATOR, source, true)
  }
  for (const [branch, source] of candidates) {
    if (branch !== undefined) add(scope(branch), source, false)
  }
  const content = scope(parts.branch) + parts.hash
  return { content, hash: parts.hash, lookup: content + SEPARATOR, restoreKeys }
}

/**
 * A new entry's key for the content key: a generation that sorts after every
 * earlier one (milliseconds, base 36, fixed width), so a listing by name is
 * also a listing by age. The service picks the newest by creation anyway.
 */
export function generationKey(content: string, now: number = Date.now()): string {
  return `${content}${SEPARATOR}${now.toString(36).padStart(9, '0')}`
}

/** The `<prefix>/<image>/<branch>/` part of a key: every entry of that image on that branch shares it. */
export function branchScope(key: string): string {
  const parts = key.split(SEPARATOR)
  return parts.slice(0, 3).join(SEPARATOR) + SEPARATOR
}

/** How a key the service returned relates to the plan. */
export function cacheSourceOf(plan: KeyPlan, matchedKey: string | undefined): CacheSource {
  if (matchedKey === undefined) return 'none'
  if (matchedKey === plan.content || matchedKey.startsWith(plan.lookup)) return 'exact'
  return plan.restoreKeys.find(r => matchedKey.startsWith(r.key))?.source ?? 'none'
}

/**
 * Whether an entry was saved for the same content as this run, on any branch
 * and in any generation: the hash is the key's fourth component.
 */
export function sameContent(plan: KeyPlan, matchedKey: string | undefined): boolean {
  return matchedKey?.split(SEPARATOR)[3] === plan.hash
}

// A failed build's progress is saved under its own content key: the hash
// with this suffix. It can never match an exact lookup (`<content>/`) nor a
// same-content restore key, so it is never a cache hit and never taken for a
// whole entry; it is found only as its branch's newest entry. `.` is escaped
// at the start of a component only, and a hash is hex, so the suffix can't
// occur otherwise.
const PARTIAL = '.partial'

/** The content key a failed build's progress is saved under. */
export function partialKey(content: string): string {
  return `${content}${PARTIAL}`
}

/** Whether a key (content or entry) names a partial entry: the steps a failed build finished. */
export function isPartialKey(key: string): boolean {
  return key.split(SEPARATOR)[3]?.endsWith(PARTIAL) ?? false
}
