/**
 * Static reading of a Dockerfile: which files of the build context can the
 * build read? The cache key hashes exactly those, so editing an unrelated
 * file in the repository does not invalidate the image.
 *
 * The parser follows BuildKit's Dockerfile frontend where it matters for the
 * answer (directives, continuations, heredocs, flags, mounts). Where it has to
 * guess, it errs on the side of reporting more, or of reporting `dynamic`:
 * hashing too much costs a cache miss, hashing too little serves a stale image.
 */

export interface ContextSources {
  /** Context-relative source patterns read by COPY/ADD and by RUN --mount=type=bind without from=, in order of appearance, deduplicated. May contain glob characters as written in the Dockerfile (*, ?, [..]); '.' means the whole context. */
  sources: string[]
  /** Sources that use a variable ($VAR, ${VAR}) and so cannot be resolved statically; the caller then hashes the whole context. */
  dynamic: string[]
}

export function contextSources(dockerfile: string): ContextSources {
  const lines = splitLines(dockerfile)
  const escapeChar = escapeToken(lines)
  const found = new Found()
  for (const instruction of instructions(lines, escapeChar)) {
    switch (instruction.keyword) {
      case 'copy':
      case 'add':
        collectCopy(instruction, escapeChar, found)
        break
      case 'run':
        collectMounts(instruction, escapeChar, found)
        break
      // ONBUILD triggers run in a downstream build, never in this one.
    }
  }
  return found.result()
}

// ---------------------------------------------------------------------------
// Lines, directives and logical instructions

const DEFAULT_ESCAPE = '\\'
const UTF8_BOM = '\uFEFF'

function splitLines(text: string): string[] {
  const body = text.startsWith(UTF8_BOM) ? text.slice(UTF8_BOM.length) : text
  return body.split('\n').map(line => line.replace(/\r+$/, ''))
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check'])

/**
 * Directives only count in the unbroken run of `# key=value` lines at the top:
 * the first blank line, plain comment, unknown directive or instruction ends
 * that run, and a later `# escape=` is just a comment.
 */
function escapeToken(lines: string[]): string {
  for (const line of lines) {
    const match = DIRECTIVE.exec(line.trimStart())
    const key = match?.[1]?.toLowerCase()
    if (!match || key === undefined || !KNOWN_DIRECTIVES.has(key)) break
    const value = match[2]
    if (key === 'escape' && (value === '`' || value === '\\')) return value
  }
  return DEFAULT_ESCAPE
}

interface Flag {
  name: string
  value: string | undefined
}

interface Instruction {
  keyword: string
  /** Everything after the keyword, flags included: ONBUILD's trigger. */
  body: string
  flags: Flag[]
  args: string[]
  json: boolean
  /** The whole logical line, needed to find heredoc markers the way BuildKit does. */
  text: string
}

/**
 * Yields logical instructions: continuation lines joined, comments and blank
 * lines dropped, and heredoc bodies consumed so their contents are never
 * mistaken for instructions.
 */
function* instructions(lines: string[], escapeChar: string): Generator<Instruction> {
  const continuation = continuationPattern(escapeChar)
  let next = 0
  while (next < lines.length) {
    const first = (lines[next++] ?? '').trimStart()
    if (first === '' || first.startsWith('#')) continue

    let text = ''
    let piece: string | undefined = first
    // Comment and blank lines inside a continued instruction are skipped,
    // and the pieces are glued without adding whitespace, as BuildKit does.
    while (piece !== undefined) {
      const cut = cutContinuation(piece, continuation)
      text += cut.text
      if (!cut.continues) break
      next = nextContinuationLine(lines, next)
      piece = lines[next++]
    }

    const instruction = parseInstruction(text)
    yield instruction
    for (const heredoc of heredocsOf(instruction)) next = skipHeredocBody(lines, next, heredoc)
  }
}

/** The escape token ends a line as a continuation unless it is itself escaped. */
function continuationPattern(escapeChar: string): RegExp {
  const token = escapeChar === '`' ? '`' : '\\\\'
  return new RegExp(`(^|[^${token}])${token}[ \\t]*$`)
}

function cutContinuation(line: string, continuation: RegExp): { text: string; continues: boolean } {
  if (!continuation.test(line)) return { text: line, continues: false }
  return { text: line.replace(continuation, '$1'), continues: true }
}

/** Index of the next line that carries instruction text, or lines.length. */
function nextContinuationLine(lines: string[], from: number): number {
  let i = from
  while (i < lines.length) {
    const trimmed = (lines[i] ?? '').trimStart()
    if (trimmed !== '' && !trimmed.startsWith('#')) break
    i++
  }
  return i
}

function parseInstruction(text: string): Instruction {
  const trimmed = text.trim()
  const space = trimmed.search(/\s/)
  const keyword = (space < 0 ? trimmed : trimmed.slice(0, space)).toLowerCase()
  const body = space < 0 ? '' : trimmed.slice(space).trim()
  const { flags, rest } = splitFlags(body)
  const json = jsonArray(rest)
  const args = json ?? (rest === '' ? [] : rest.split(/[\t\v\f\r ]+/))
  return { keyword, body, flags, args, json: json !== undefined, text }
}

/** Exec form: a JSON array of strings. Anything else is shell form. */
function jsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    if (Array.isArray(parsed) && parsed.every(item => typeof item === 'string')) return parsed
  } catch {
    // Not JSON: BuildKit falls back to shell form the same way.
  }
  return undefined
}

// ---------------------------------------------------------------------------
// Flags

/**
 * Leading `--name[=value]` words. BuildKit tokenises them with quotes and a
 * fixed backslash escape, whatever the escape directive says; a bare `--`
 * ends the flags.
 */
function splitFlags(body: string): { flags: Flag[]; rest: string } {
  const flags: Flag[] = []
  let pos = 0
  for (;;) {
    while (pos < body.length && /\s/.test(body.charAt(pos))) pos++
    if (!body.startsWith('--', pos)) break
    const { word, end } = readFlagWord(body, pos)
    pos = end
    if (word === '--') break
    flags.push(toFlag(word))
  }
  return { flags, rest: body.slice(pos).trim() }
}

function readFlagWord(text: string, start: number): { word: string; end: number } {
  let word = ''
  let quote = ''
  let pos = start
  for (; pos < text.length; pos++) {
    const ch = text.charAt(pos)
    if (quote === '' && /\s/.test(ch)) break
    if (ch === '\\') {
      word += text.charAt(++pos)
    } else if (quote !== '' && ch === quote) {
      quote = ''
    } else if (quote === '' && (ch === '"' || ch === "'")) {
      quote = ch
    } else {
      word += ch
    }
  }
  return { word, end: pos }
}

function toFlag(word: string): Flag {
  const eq = word.indexOf('=')
  if (eq < 0) return { name: word.slice(2).toLowerCase(), value: undefined }
  return { name: word.slice(2, eq).toLowerCase(), value: word.slice(eq + 1) }
}

function flagValues(instruction: Instruction, name: string): string[] {
  return instruction.flags.flatMap(flag => (flag.name === name && flag.value !== undefined ? [flag.value] : []))
}

// ---------------------------------------------------------------------------
// Heredocs

interface Heredoc {
  name: string
  /** `<<-`: leading tabs are stripped, so the terminator may be indented with tabs. */
  chomp: boolean
}

const HEREDOC_KEYWORDS = new Set(['run', 'copy', 'add'])
const HEREDOC_WORD = /^\d*<<(-?)([^<]+)$/

function heredocsOf(instruction: Instruction): Heredoc[] {
  // ONBUILD's trigger is not run here, but its heredoc body still follows it.
  const target = instruction.keyword === 'onbuild' ? parseInstruction(instruction.body) : instruction
  if (!HEREDOC_KEYWORDS.has(target.keyword) || target.json) return []
  return rawWords(instruction.text).flatMap(word => {
    const heredoc = parseHeredocWord(word)
    return heredoc ? [heredoc] : []
  })
}

/** `<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`; the delimiter is unquoted. */
function parseHeredocWord(word: string): Heredoc | undefined {
  const match = HEREDOC_WORD.exec(word)
  if (!match) return undefined
  const name = expandWord(match[2] ?? '', DEFAULT_ESCAPE).text
  return name === '' ? undefined : { name, chomp: match[1] === '-' }
}

/**
 * Shell words with their quotes kept, so that a quoted `"<<EOF"` is not taken
 * for a heredoc marker.
 */
function rawWords(text: string): string[] {
  const words: string[] = []
  let word = ''
  let quote = ''
  for (let pos = 0; pos < text.length; pos++) {
    const ch = text.charAt(pos)
    if (quote === '' && /\s/.test(ch)) {
      if (word !== '') words.push(word)
      word = ''
      continue
    }
    word += ch
    if (ch === '\\' && quote !== "'" && pos + 1 < text.length) {
      word += text.charAt(++pos)
    } else if (quote !== '' && ch === quote) {
      quote = ''
    } else if (quote === '' && (ch === '"' || ch === "'")) {
      quote = ch
    }
  }
  if (word !== '') words.push(word)
  return words
}

/** Returns the index of the line after the terminator (or the end of file when unterminated). */
function skipHeredocBody(lines: string[], from: number, heredoc: Heredoc): number {
  for (let i = from; i < lines.length; i++) {
    const line = lines[i] ?? ''
    const candidate = heredoc.chomp ? line.replace(/^\t+/, '') : line
    if (candidate === heredoc.name) return i + 1
  }
  return lines.length
}

// ---------------------------------------------------------------------------
// COPY / ADD

function collectCopy(instruction: Instruction, escapeChar: string, found: Found): void {
  // Copies from another stage, an image or a named context read nothing from this context.
  if (flagValues(instruction, 'from').some(from => from !== '')) return
  const sources = instruction.args.slice(0, -1)
  for (const source of sources) {
    if (HEREDOC_WORD.test(source)) continue
    const word = expandWord(source, escapeChar)
    if (instruction.keyword === 'add' && isRemote(word.text)) continue
    found.add(word)
  }
}

/** URLs and git remotes are fetched by ADD, not read from the context. */
const REMOTE = /^(?:[a-z][a-z0-9+.-]*:\/\/|git@[^\s:/]+:)/i

function isRemote(source: string): boolean {
  return REMOTE.test(source)
}

// ---------------------------------------------------------------------------
// RUN --mount

function collectMounts(instruction: Instruction, escapeChar: string, found: Found): void {
  for (const spec of flagValues(instruction, 'mount')) {
    const source = contextBindSource(spec)
    if (source !== undefined) found.add(expandWord(source, escapeChar))
  }
}

/**
 * The context path a mount binds, or undefined when it binds nothing from the
 * context (another mount type, or a bind from a stage or image).
 */
function contextBindSource(spec: string): string | undefined {
  let type = 'bind'
  let source = ''
  let from = ''
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=')
    if (eq < 0) continue
    const key = field.slice(0, eq).toLowerCase()
    const value = field.slice(eq + 1)
    if (key === 'type') type = value.toLowerCase()
    else if (key === 'source' || key === 'src') source = value
    else if (key === 'from') from = value
  }
  // No source= binds the root of what is mounted: here, the whole context.
  return type === 'bind' && from === '' ? source : undefined
}

/** One CSV record, as BuildKit reads mount specifications: `"a,b"` is one field, `""` a quote. */
function csvFields(text: string): string[] {
  const fields: string[] = []
  let pos = 0
  do {
    let field = ''
    if (text.charAt(pos) === '"') {
      pos++
      while (pos < text.length && !(text.charAt(pos) === '"' && text.charAt(pos + 1) !== '"')) {
        field += text.charAt(pos)
        pos += text.charAt(pos) === '"' ? 2 : 1
      }
      pos++
    }
    while (pos < text.length && text.charAt(pos) !== ',') field += text.charAt(pos++)
    fields.push(field)
    pos++
  } while (pos <= text.length)
  return fields
}

// ---------------------------------------------------------------------------
// Words and paths

interface Word {
  text: string
  /** An unescaped, unquoted-or-double-quoted `$`: the value depends on ARG/ENV. */
  variable: boolean
}

/**
 * Removes quotes and escapes the way BuildKit's word expansion does, without
 * expanding variables: any live `$` makes the word dynamic.
 */
function expandWord(raw: string, escapeChar: string): Word {
  let text = ''
  let variable = false
  let quote = ''
  for (let pos = 0; pos < raw.length; pos++) {
    const ch = raw.charAt(pos)
    if (quote === "'") {
      if (ch === "'") quote = ''
      else text += ch
    } else if (ch === escapeChar) {
      const next = raw.charAt(++pos)
      // Inside double quotes only a few characters can be escaped; otherwise the escape stays.
      if (quote === '"' && next !== '"' && next !== '$' && next !== escapeChar) text += ch
      text += next
    } else if (ch === '"' && quote === '"') {
      quote = ''
    } else if (quote === '' && (ch === '"' || ch === "'")) {
      quote = ch
    } else {
      if (ch === '$') variable = true
      text += ch
    }
  }
  return { text, variable }
}

/**
 * Context-relative form: `./`, duplicate and trailing slashes and a leading
 * `/` all go, `..` is resolved, and whatever climbs above the root is clamped
 * to it (BuildKit also resolves sources inside the context root).
 */
function normalisePath(path: string): { path: string; escapes: boolean } {
  const kept: string[] = []
  let escapes = false
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment !== '..') kept.push(segment)
    else if (kept.length > 0) kept.pop()
    else escapes = true
  }
  return { path: kept.length > 0 ? kept.join('/') : '.', escapes }
}

class Found {
  private readonly sources = new Set<string>()
  private readonly dynamic = new Set<string>()

  add(word: Word): void {
    const { path, escapes } = normalisePath(word.text)
    // A source above the context is invalid for docker; report it so the caller hashes conservatively.
    const target = word.variable || escapes ? this.dynamic : this.sources
    target.add(path)
  }

  result(): ContextSources {
    return { sources: [...this.sources], dynamic: [...this.dynamic] }
  }
}
