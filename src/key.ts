import { createHash } from 'node:crypto'
import type { CacheSource } from './constants.js'

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
  /** The branch this run builds: the head branch of a pull request. */
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
}

export interface KeyPlan {
  primary: string
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
  const restoreKeys: RestoreKey[] = []
  for (const [branch, source] of candidates) {
    if (branch === undefined) continue
    const key = scope(branch)
    if (!restoreKeys.some(r => r.key === key)) restoreKeys.push({ key, source })
  }
  return { primary: scope(parts.branch) + parts.hash, restoreKeys }
}

/** The `<prefix>/<image>/<branch>/` part of a key: every entry of that image on that branch shares it. */
export function branchScope(key: string): string {
  return key.slice(0, key.lastIndexOf(SEPARATOR) + 1)
}

/** How a key the service returned relates to the plan. */
export function cacheSourceOf(plan: KeyPlan, matchedKey: string | undefined): CacheSource {
  if (matchedKey === undefined) return 'none'
  if (matchedKey === plan.primary) return 'exact'
  return plan.restoreKeys.find(r => matchedKey.startsWith(r.key))?.source ?? 'none'
}
