/**
 * A Dockerfile read the way BuildKit's parser reads it, as far as the key
 * needs: parser directives, continuation lines, comments, heredoc bodies
 * (never mistaken for instructions), flags and words. Nothing here knows what
 * an instruction means; dockerfile-stages.ts does.
 */

export interface Flag {
  name: string
  value: string | undefined
}

export interface Instruction {
  keyword: string
  /** Everything after the keyword, flags included: ONBUILD's trigger, ENV's and ARG's pairs. */
  body: string
  flags: Flag[]
  /** Whitespace-separated words after the flags (quotes kept), or the strings of the exec form. */
  args: string[]
  json: boolean
  /** The whole logical line, needed to find heredoc markers the way BuildKit does. */
  text: string
  /** The 1-based line the instruction starts on, as BuildKit's errors name it; unset for ONBUILD's trigger. */
  line?: number
}

export interface ParsedDockerfile {
  escapeChar: string
  instructions: Instruction[]
}

const DEFAULT_ESCAPE = '\\'
const UTF8_BOM = '\uFEFF'

export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = splitLines(text)
  const escapeChar = escapeToken(lines)
  return { escapeChar, instructions: [...instructions(lines, escapeChar)] }
}

function splitLines(text: string): string[] {
  const body = text.startsWith(UTF8_BOM) ? text.slice(UTF8_BOM.length) : text
  return body.split('\n').map(line => line.replace(/\r+$/, ''))
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/
const DIRECTIVE_BODY = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/
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

/**
 * The frontend image a `syntax` directive names, found as BuildKit looks for
 * it before it parses anything: after a byte-order mark and a `#!` line, in
 * `#` directives, else in `//` ones, else as the `syntax` key of a JSON file.
 */
export function syntaxDirective(text: string): string | undefined {
  const body = text.startsWith(UTF8_BOM) ? text.slice(UTF8_BOM.length) : text
  const lines = splitLines(body)
  if (lines[0]?.startsWith('#!')) lines.shift()
  const found = syntaxAfter(lines, '#') ?? syntaxAfter(lines, '//')
  if (found !== undefined) return firstWord(found)
  try {
    const parsed: unknown = JSON.parse(body)
    const syntax =
      typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).syntax : undefined
    return typeof syntax === 'string' ? syntax : undefined
  } catch {
    return undefined
  }
}

function syntaxAfter(lines: string[], comment: string): string | undefined {
  const seen = new Set<string>()
  for (const line of lines) {
    if (!line.startsWith(comment)) return undefined
    const match = DIRECTIVE_BODY.exec(line.slice(comment.length).trimStart())
    const key = match?.[1]?.toLowerCase()
    if (!match || key === undefined || !KNOWN_DIRECTIVES.has(key) || seen.has(key)) return undefined
    seen.add(key)
    if (key === 'syntax') return match[2]
  }
  return undefined
}

function firstWord(text: string): string {
  return text.trim().split(' ')[0] ?? ''
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
    const start = next
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

    const instruction = { ...parseInstruction(text), line: start + 1 }
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

/** One logical line as an instruction; also ONBUILD's trigger. */
export function parseInstruction(text: string): Instruction {
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

export function flagValues(instruction: Instruction, name: string): string[] {
  return instruction.flags.flatMap(flag => (flag.name === name && flag.value !== undefined ? [flag.value] : []))
}

/** A boolean flag as BuildKit reads it: `--name` alone means true. */
export function booleanFlag(instruction: Instruction, name: string): boolean {
  const flag = instruction.flags.findLast(f => f.name === name)
  return flag !== undefined && (flag.value === undefined || flag.value.toLowerCase() === 'true')
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

/** A COPY/ADD source that is a heredoc, made in the build: nothing is read from the context. */
export function isHeredocWord(word: string): boolean {
  return HEREDOC_WORD.test(word)
}

function heredocsOf(instruction: Instruction): Heredoc[] {
  // ONBUILD's trigger runs later, but its heredoc body still follows it here.
  const target = instruction.keyword === 'onbuild' ? parseInstruction(instruction.body) : instruction
  if (!HEREDOC_KEYWORDS.has(target.keyword) || target.json) return []
  return shellWords(instruction.text, DEFAULT_ESCAPE).flatMap(word => {
    const heredoc = parseHeredocWord(word)
    return heredoc ? [heredoc] : []
  })
}

/** `<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`; the delimiter is unquoted. */
function parseHeredocWord(word: string): Heredoc | undefined {
  const match = HEREDOC_WORD.exec(word)
  if (!match) return undefined
  const name = unquote(match[2] ?? '')
  return name === '' ? undefined : { name, chomp: match[1] === '-' }
}

/** Quotes and backslash escapes removed, without expanding anything. */
function unquote(word: string): string {
  let text = ''
  let quote = ''
  for (let pos = 0; pos < word.length; pos++) {
    const ch = word.charAt(pos)
    if (quote === "'") {
      if (ch === "'") quote = ''
      else text += ch
    } else if (ch === '\\') {
      text += word.charAt(++pos)
    } else if (ch === quote) {
      quote = ''
    } else if (quote === '' && (ch === '"' || ch === "'")) {
      quote = ch
    } else {
      text += ch
    }
  }
  return text
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
// Words

/**
 * Shell words with their quotes and escapes kept, as BuildKit splits ENV,
 * ARG and LABEL: a quoted space does not split, and `"<<EOF"` stays quoted,
 * so it is not taken for a heredoc marker.
 */
export function shellWords(text: string, escapeChar: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote = ''
  for (let pos = 0; pos < text.length; pos++) {
    const ch = text.charAt(pos)
    if (quote === '' && /\s/.test(ch)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      continue
    }
    inWord = true
    if (ch === escapeChar && quote !== "'") {
      if (pos + 1 < text.length) word += ch + text.charAt(++pos)
      continue
    }
    word += ch
    if (quote !== '' && ch === quote) quote = ''
    else if (quote === '' && (ch === '"' || ch === "'")) quote = ch
  }
  if (inWord) words.push(word)
  return words
}

/** One CSV record, as BuildKit reads mount specifications: `"a,b"` is one field, `""` a quote. */
export function csvFields(text: string): string[] {
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
