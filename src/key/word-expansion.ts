/**
 * Variable expansion of one Dockerfile word, as BuildKit's shell lexer does
 * it: quotes and escapes removed, `$NAME`, `${NAME}` and the modifiers
 * `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`,
 * `${NAME:?word}`, `${NAME#pattern}`, `${NAME%pattern}` (and `##`, `%%`),
 * `${NAME/pattern/text}` and `${NAME//pattern/text}`. A value the key cannot
 * know before the build stays unknown, with the variable that made it so,
 * unless the expansion does not need it.
 */

/** Why a value cannot be known before the build. */
export type UnknownCause =
  /** Not set by the Dockerfile or the build: it may come from the base image's ENV. */
  | 'image-env'
  /** A predefined platform argument, while the engine's platform has not been asked for. */
  | 'build-platform'
  /** A predefined platform argument of a platform that is not `os/arch[/variant]`. */
  | 'platform'
  /** An argument whose value depends on the version of the Dockerfile frontend. */
  | 'frontend-version'
  /** A malformed `${...}`: BuildKit fails the build on it. */
  | 'syntax'

export interface UnknownValue {
  variable: string
  cause: UnknownCause
}

export type Value = string | UnknownValue

export function isKnown(value: Value): value is string {
  return typeof value === 'string'
}

/** A variable's value; undefined when it is not set. */
export type Lookup = (name: string) => Value | undefined

export function expandWord(word: string, escapeChar: string, lookup: Lookup): Value {
  return new Expander(word, escapeChar, lookup).until(undefined, false).value
}

/** Collects text until an unknown piece makes the whole unknown (the first one is kept). */
class Pieces {
  private text = ''
  private unknown: UnknownValue | undefined

  add(piece: Value): void {
    if (isKnown(piece)) this.text += piece
    else this.unknown ??= piece
  }

  get value(): Value {
    return this.unknown ?? this.text
  }
}

class Expander {
  private readonly chars: string[]
  private pos = 0

  constructor(
    word: string,
    private readonly escapeChar: string,
    private readonly lookup: Lookup
  ) {
    this.chars = Array.from(word)
  }

  private peek(): string | undefined {
    return this.chars[this.pos]
  }

  private next(): string | undefined {
    return this.chars[this.pos++]
  }

  /**
   * Processes up to `stop` (consumed) or the end. `rawEscapes` keeps escape
   * characters in the text, as BuildKit does for the patterns of `#`, `%`, `/`.
   */
  until(stop: string | undefined, rawEscapes: boolean): { value: Value; closed: boolean } {
    const out = new Pieces()
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (ch === stop) {
        this.pos++
        return { value: out.value, closed: true }
      }
      if (ch === '$') out.add(this.dollar())
      else if (ch === "'") out.add(this.singleQuoted())
      else if (ch === '"') out.add(this.doubleQuoted(rawEscapes))
      else {
        this.pos++
        if (ch === this.escapeChar) {
          if (rawEscapes) out.add(ch)
          const escaped = this.next()
          if (escaped === undefined) break
          out.add(escaped)
        } else {
          out.add(ch)
        }
      }
    }
    return { value: out.value, closed: stop === undefined }
  }

  private singleQuoted(): string {
    this.pos++
    let text = ''
    for (let ch = this.next(); ch !== undefined && ch !== "'"; ch = this.next()) text += ch
    return text
  }

  private doubleQuoted(rawEscapes: boolean): Value {
    this.pos++
    const out = new Pieces()
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (ch === '"') {
        this.pos++
        break
      }
      if (ch === '$') {
        out.add(this.dollar())
        continue
      }
      this.pos++
      let literal = ch
      if (ch === this.escapeChar) {
        if (rawEscapes) out.add(ch)
        const following = this.peek()
        if (following === undefined) continue
        // Only these can be escaped inside double quotes; otherwise the escape stays.
        if (following === '"' || following === '$' || following === this.escapeChar) literal = this.next() ?? ''
      }
      out.add(literal)
    }
    return out.value
  }

  private dollar(): Value {
    this.pos++
    if (this.peek() !== '{') {
      const name = this.name()
      return name === '' ? '$' : (this.lookup(name) ?? '')
    }
    this.pos++
    const first = this.peek()
    if (first === undefined || first === '{' || first === '}' || first === ':') return this.malformed('')
    const name = this.name()
    let op = this.next()
    if (op === '}') return this.lookup(name) ?? ''
    const nullIsUnset = op === ':'
    if (nullIsUnset) op = this.next()
    if (op === '/' && !nullIsUnset) return this.replace(name)
    if (op === undefined || !'+-?#%'.includes(op) || (nullIsUnset && (op === '#' || op === '%')))
      return this.malformed(name)

    const word = this.until('}', op === '#' || op === '%')
    if (!word.closed) return this.malformed(name)
    const value = this.lookup(name)
    if (value !== undefined && !isKnown(value)) return value
    const empty = value === undefined || (nullIsUnset && value === '')
    switch (op) {
      case '-':
        return empty ? word.value : (value ?? '')
      case '+':
        return empty ? '' : word.value
      case '?':
        return empty ? this.malformed(name) : (value ?? '')
      default: {
        if (!isKnown(word.value)) return word.value
        const greedy = word.value.startsWith(op)
        const pattern = greedy ? word.value.slice(1) : word.value
        const trimmed = op === '#' ? trimPrefix(pattern, value ?? '', greedy) : trimSuffix(pattern, value ?? '', greedy)
        return trimmed ?? this.malformed(name)
      }
    }
  }

  private replace(name: string): Value {
    const all = this.peek() === '/'
    if (all) this.pos++
    const pattern = this.until('/', true)
    const replacement = pattern.closed ? this.until('}', true) : pattern
    if (!pattern.closed || !replacement.closed) return this.malformed(name)
    const value = this.lookup(name) ?? ''
    if (!isKnown(value)) return value
    if (!isKnown(pattern.value)) return pattern.value
    if (!isKnown(replacement.value)) return replacement.value
    const re = shellPattern(pattern.value, true, false, all)
    if (re === undefined) return this.malformed(name)
    const text = replacement.value
    return value.replace(re, () => text)
  }

  /** A name: digits, one special parameter, or letters, digits and `_`. */
  private name(): string {
    const first = this.peek()
    if (first === undefined) return ''
    if (/^\p{Nd}$/u.test(first)) {
      let digits = ''
      while (/^\p{Nd}$/u.test(this.peek() ?? '')) digits += this.next()
      return digits
    }
    if ('@*#?-$!0'.includes(first)) return this.next() ?? ''
    let name = ''
    while (/^[\p{L}\p{Nd}_]$/u.test(this.peek() ?? '')) name += this.next()
    return name
  }

  private malformed(variable: string): UnknownValue {
    // Skip to the end: BuildKit fails the build here, so nothing after it matters.
    this.pos = this.chars.length
    return { variable, cause: 'syntax' }
  }
}

/**
 * A shell pattern (`*`, `?`, `\` escapes; no bracket expressions) as a
 * regular expression; undefined for an escape BuildKit refuses.
 */
function shellPattern(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp | undefined {
  const chars = Array.from(pattern)
  let out = anchored ? '^' : ''
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string
    if (ch === '*') out += greedy ? '.*' : '.*?'
    else if (ch === '?') out += '.'
    else if (ch === '\\') {
      const escaped = chars[i + 1]
      // An escaped `}` or `/` belongs to the ${} syntax, not to the pattern.
      if (escaped === '}' || escaped === '/') continue
      if (escaped !== '*' && escaped !== '?' && escaped !== '\\') return undefined
      out += `\\${escaped}`
      i++
    } else out += '[]{}.+()|^$'.includes(ch) ? `\\${ch}` : ch
  }
  return new RegExp(out, global ? 'gu' : 'u')
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string | undefined {
  const re = shellPattern(pattern, greedy, true)
  if (re === undefined) return undefined
  const match = re.exec(value)
  return match ? value.slice(match[0].length) : value
}

// The shortest or longest match at the end is the same search at the start
// of the reversed value, with the pattern reversed (escapes kept in front).
function trimSuffix(pattern: string, value: string, greedy: boolean): string | undefined {
  const chars = Array.from(pattern)
  const reversed: string[] = []
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string
    if (ch === '\\' && i + 1 < chars.length) reversed.unshift(ch + chars[++i])
    else reversed.unshift(ch)
  }
  const trimmed = trimPrefix(reversed.join(''), Array.from(value).reverse().join(''), greedy)
  return trimmed === undefined ? undefined : Array.from(trimmed).reverse().join('')
}
