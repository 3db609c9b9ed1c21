import dockerignore from '@balena/dockerignore'
import { Minimatch } from 'minimatch'
import * as fs from 'node:fs'
import * as path from 'node:path'

/**
 * What BuildKit sends of a build context for a set of COPY/ADD sources, so
 * the key covers exactly that: the ignore file's exclusions applied with
 * Docker's own pattern semantics, and symlinks resolved the way BuildKit
 * resolves them, inside the context. An absolute link target starts at the
 * context root and `..` stops there, so nothing outside the context is ever
 * read, whatever the links in it say.
 */

// BuildKit's bound on links followed while resolving one path (continuity's RootPath).
const MAX_LINK_HOPS = 255

export interface IgnoreFile {
  /** Absolute path of the ignore file BuildKit applies. */
  path: string
  /** Its rules as read: they change what is sent, so they are part of the key. */
  text: string
}

export interface IgnoreRules {
  file?: IgnoreFile
  /** A context-relative path (forward slashes) that BuildKit does not send. */
  excludes(relative: string): boolean
  /** Some `!` rule may bring back a path below an excluded directory. */
  hasExceptions: boolean
}

const NO_RULES: IgnoreRules = { excludes: () => false, hasExceptions: false }

/**
 * The ignore file BuildKit applies: `<Dockerfile>.dockerignore` beside the
 * Dockerfile when there is one, else `.dockerignore` at the context root.
 */
export function readIgnoreRules(context: string, dockerfile: string): IgnoreRules {
  const file =
    readIgnoreFile(path.dirname(dockerfile), `${path.basename(dockerfile)}.dockerignore`) ??
    readIgnoreFile(context, '.dockerignore')
  if (!file) return NO_RULES
  return { file, ...patternRules(file.text.replace(/^\uFEFF/, '').split(/\r?\n/)) }
}

/** Rules of Docker's pattern syntax: a path is matched when it or a directory above it matches. */
export function patternRules(patterns: string[]): Omit<IgnoreRules, 'file'> {
  const lines = patterns.map(asDockerMeansIt).filter(isValidRule)
  const matcher = newMatcher().add(lines)
  return {
    excludes: relative => matcher.ignores(relative),
    hasExceptions: lines.some(line => line.trim().startsWith('!'))
  }
}

// Docker matches case-sensitively on Linux; the library's default is not to.
// (The package is CommonJS typed as an ES default export: its `default` is the factory itself.)
const newMatcher = () => dockerignore.default({ ignorecase: false })

/**
 * The library follows an older Docker's matcher; two rules read differently
 * by today's are rewritten to mean what Docker means.
 */
function asDockerMeansIt(line: string): string {
  // A rule that starts with `**` and has no other wildcard matches by suffix: `**foo` matches `barfoo`.
  const suffix = /^(\s*!?\s*\/?)\*\*([^/*?[\\][^*?[\\]*)$/.exec(line.trimEnd())
  const rule = suffix ? `${suffix[1]}**/*${suffix[2]}` : line
  // These are literal characters for Docker; the library passed them into a
  // regular expression, where `c++` or an unbalanced `(` even throws.
  let out = ''
  for (let i = 0; i < rule.length; i++) {
    const ch = rule.charAt(i)
    if (ch === '\\' && i + 1 < rule.length) out += ch + rule.charAt(++i)
    else out += '+()|{}'.includes(ch) ? `\\${ch}` : ch
  }
  return out
}

// A rule Docker cannot parse (`[a-`) fails the build there; here it is left
// out, so the key covers more, rather than failing before the build can say so.
function isValidRule(rule: string): boolean {
  try {
    newMatcher().add(rule).ignores('probe')
    return true
  } catch {
    return false
  }
}

function readIgnoreFile(root: string, name: string): IgnoreFile | undefined {
  if (!fs.lstatSync(path.join(root, name), { throwIfNoEntry: false })) return undefined
  // A linked ignore file is read only where the link leads inside the same directory tree.
  const resolved = resolveInside(root, name)
  if (resolved.kind !== 'file') return { path: path.join(root, name), text: '' }
  return { path: path.join(root, name), text: fs.readFileSync(path.join(root, resolved.relative), 'utf8') }
}

type Resolved = { kind: 'file' | 'directory'; relative: string; links: string[] } | { kind: 'missing'; links: string[] }

/**
 * Resolves a root-relative path one component at a time, following links as
 * BuildKit does within its root. The links crossed are returned: their
 * targets decide what is read, so they are hashed too.
 */
export function resolveInside(root: string, relative: string): Resolved {
  const pending = relative.split('/')
  const resolved: string[] = []
  const links: string[] = []
  let hops = 0
  // Every component below the root is checked not to be a link, so lstat is stat there.
  const statOf = (parts: string[]): fs.Stats | undefined =>
    parts.length === 0
      ? fs.statSync(root, { throwIfNoEntry: false })
      : fs.lstatSync(path.join(root, ...parts), { throwIfNoEntry: false })
  let last = statOf(resolved)
  while (pending.length > 0) {
    const part = pending.shift() as string
    if (part === '' || part === '.') continue
    if (part === '..') {
      resolved.pop()
      last = statOf(resolved)
      continue
    }
    if (!last?.isDirectory()) return { kind: 'missing', links }
    const candidate = [...resolved, part]
    const stat = fs.lstatSync(path.join(root, ...candidate), { throwIfNoEntry: false })
    if (!stat) return { kind: 'missing', links }
    if (stat.isSymbolicLink()) {
      if (++hops > MAX_LINK_HOPS) return { kind: 'missing', links }
      links.push(candidate.join('/'))
      const target = fs.readlinkSync(path.join(root, ...candidate))
      // An absolute target starts again at the root, as if the root were `/`.
      if (target.startsWith('/')) {
        resolved.length = 0
        last = statOf(resolved)
      }
      pending.unshift(...target.split('/'))
      continue
    }
    resolved.push(part)
    last = stat
  }
  const kind = last?.isDirectory() ? 'directory' : last?.isFile() ? 'file' : 'missing'
  return kind === 'missing' ? { kind, links } : { kind, relative: resolved.join('/') || '.', links }
}

/** One source a COPY, ADD or bind mount reads from the context. */
export interface ContextRead {
  /** Context-relative, without `..`; `.` is the whole context. May hold wildcards (*, ?, [..]), one component at a time. */
  path: string
  /**
   * `COPY --parents`: below each match of `path`, only what this pattern
   * (Docker's pattern syntax, `**` included) matches, or lies below a match.
   */
  parents?: string
  /** `--exclude` patterns, matched below each copied directory, relative to it. */
  exclude: string[]
}

/**
 * Context-relative paths (forward slashes) of the regular files and symlinks
 * that the reads bring into the build, less what the ignore rules and each
 * read's exclusions leave out, sorted.
 */
export function contextEntries(reads: ContextRead[], context: string, rules: IgnoreRules): string[] {
  const found = new Set<string>()
  const add = (relative: string): void => {
    if (!rules.excludes(relative)) found.add(relative)
  }
  for (const read of reads) {
    const excluded = read.exclude.length > 0 ? patternRules(read.exclude) : NO_RULES
    const selected = read.parents === undefined ? EVERYTHING : selection(read.parents)
    const take = (relative: string): void => {
      const resolved = resolveInside(context, relative)
      resolved.links.forEach(add)
      // The copied path itself is never excluded: exclusions apply below it.
      if (resolved.kind === 'file') add(resolved.relative)
      if (resolved.kind !== 'directory') return
      const root = resolved.relative === '.' ? '' : `${resolved.relative}/`
      const below = (entry: string): string => entry.slice(root.length)
      // Excluded directories are skipped unless a `!` rule may bring back something below them.
      const descend = (entry: string): boolean =>
        (rules.hasExceptions || !rules.excludes(entry)) &&
        (excluded.hasExceptions || !excluded.excludes(below(entry))) &&
        selected.descend(below(entry))
      for (const entry of walk(context, resolved.relative, Infinity, descend)) {
        if (entry.kind === 'directory' || excluded.excludes(below(entry.relative))) continue
        if (selected.includes(below(entry.relative))) add(entry.relative)
      }
    }
    const { base, pattern } = splitWildcards(read.path)
    if (pattern === undefined) take(base)
    else for (const match of wildcardMatches(context, base, pattern)) take(match)
  }
  return [...found].sort()
}

interface Selection {
  /** A path (relative to the copied directory) is copied. */
  includes(relative: string): boolean
  /** Something below a directory may be copied. */
  descend(relative: string): boolean
}

const EVERYTHING: Selection = { includes: () => true, descend: () => true }

/**
 * What a `--parents` pattern copies: what it matches and everything below.
 * The walk enters only the directories on the way to a match: those along
 * its literal start, and no deeper than its components unless it has `**`.
 */
function selection(pattern: string): Selection {
  const rules = patternRules([pattern])
  const parts = pattern.split('/')
  const firstWildcard = parts.findIndex(part => WILDCARD.test(part))
  const literal = firstWildcard < 0 ? parts : parts.slice(0, firstWildcard)
  const depth = pattern.includes('**') ? Infinity : parts.length
  const onTheWay = (relative: string): boolean => {
    const dirs = relative.split('/')
    return dirs.length < depth && dirs.every((dir, i) => i >= literal.length || dir === literal[i])
  }
  return { includes: rules.excludes, descend: relative => rules.excludes(relative) || onTheWay(relative) }
}

const WILDCARD = /[*?[]/

/** The path up to its first component with a wildcard, and the rest, as BuildKit splits a COPY source. */
function splitWildcards(source: string): { base: string; pattern?: string } {
  const parts = source.split('/')
  const first = parts.findIndex(part => WILDCARD.test(part))
  if (first < 0) return { base: source }
  return { base: parts.slice(0, first).join('/') || '.', pattern: parts.slice(first).join('/') }
}

/**
 * Context-relative paths below `base` that the pattern matches, with Go's
 * filepath.Match rules (a `*` matches dot files, never a `/`). Like BuildKit,
 * the walk below the base does not follow links: a matched link is resolved
 * afterwards, inside the context, and a matched directory is not searched.
 */
function wildcardMatches(context: string, base: string, pattern: string): string[] {
  const resolved = resolveInside(context, base)
  if (resolved.kind !== 'directory') return []
  const matcher = new Minimatch(pattern, {
    dot: true,
    noglobstar: true,
    nobrace: true,
    noext: true,
    nocomment: true,
    nonegate: true
  })
  const prefix = resolved.relative === '.' ? '' : `${resolved.relative}/`
  const matches = (relative: string): boolean => matcher.match(relative.slice(prefix.length))
  // No match lies deeper than the pattern has components.
  const depth = pattern.split('/').length
  const found: string[] = []
  for (const entry of walk(context, resolved.relative, depth, relative => !matches(relative))) {
    if (matches(entry.relative)) found.push(entry.relative)
  }
  return found
}

/** Absolute paths of the regular files and links below a directory, without following links. */
export function entriesBelow(dir: string): string[] {
  const found: string[] = []
  for (const entry of walk(dir, '.', Infinity, () => true))
    if (entry.kind !== 'directory') found.push(path.join(dir, entry.relative))
  return found
}

interface Entry {
  relative: string
  kind: 'file' | 'link' | 'directory'
}

/**
 * The entries below a context-relative directory, down to `depth` levels,
 * without following links (Node's recursive readdir enters linked
 * directories, so a link to `/` would walk the disk); a directory is entered
 * when `descend` says so.
 * Sockets, pipes and devices are left out: reading a pipe would block.
 */
function* walk(context: string, dir: string, depth: number, descend: (relative: string) => boolean): Generator<Entry> {
  if (depth <= 0) return
  for (const entry of fs.readdirSync(path.join(context, dir), { withFileTypes: true })) {
    const relative = dir === '.' ? entry.name : `${dir}/${entry.name}`
    if (entry.isDirectory()) {
      yield { relative, kind: 'directory' }
      if (descend(relative)) yield* walk(context, relative, depth - 1, descend)
    } else if (entry.isSymbolicLink()) {
      yield { relative, kind: 'link' }
    } else if (entry.isFile()) {
      yield { relative, kind: 'file' }
    }
  }
}
