/**
 * Which context files one build of a Dockerfile reads, as BuildKit's
 * Dockerfile frontend decides it: only the stages the target needs (its base
 * stages, `COPY --from`, `RUN --mount=from=`, and what the ONBUILD triggers of
 * a base stage of the same file bring), with every word expanded as the
 * frontend expands it (global and stage ARGs, build args, predefined platform
 * args, ENV set earlier in the stage).
 */
import type { ContextRead } from './context-files.js'
import { booleanFlag, csvFields, flagValues, isHeredocWord, parseInstruction, shellWords } from './dockerfile-parse.js'
import type { Instruction, ParsedDockerfile } from './dockerfile-parse.js'
import { type PlatformAnswer, predefinedArgs } from './platform-args.js'
import { expandWord, isKnown, type UnknownValue, type Value } from './word-expansion.js'

export interface BuildSettings {
  /** The build args the build is given; for a name given twice, the last. */
  buildArgs: ReadonlyMap<string, string>
  /** `''`: the last stage. */
  target: string
  targetPlatform: PlatformAnswer
  /** The builder's own platform (BUILDPLATFORM). */
  buildPlatform: PlatformAnswer
}

/** A word the key cannot expand before the build. */
export interface UnknownWord {
  value: UnknownValue
  /** The stage's name (`stage-<index>` for an unnamed one). */
  stage: string
  instruction: string
}

export interface StageReads {
  reads: ContextRead[]
  unknown: UnknownWord[]
  /** The stages the target needs, in file order. */
  stages: string[]
  /** The cache mounts (`RUN --mount=type=cache`) of those stages, one per id, first use first. */
  cacheMounts: CacheMount[]
}

/** One `RUN --mount=type=cache` as BuildKit keeps it: by id, whatever stage uses it. */
export interface CacheMount {
  /** `id=`, else the target, as BuildKit defaults it. */
  id: string
  target: string
  /** shared (BuildKit's default), private or locked. */
  sharing: string
  from?: string
  source?: string
  mode?: string
  uid?: string
  gid?: string
  /** The stage of the first RUN that uses it, and that RUN's 1-based line: what a helper build cuts the file before. */
  stage: string
  /** The stage's index in the file. */
  stageIndex: number
  line: number
}

const SCRATCH = 'scratch'
// What BuildKit sets for a stage that starts from nothing (Linux).
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

type Base = { kind: 'stage'; index: number } | { kind: 'scratch' } | { kind: 'image' } | { kind: 'unknown' }

interface Stage {
  index: number
  /** Lower case, as BuildKit keeps stage names. */
  name?: string
  from: Instruction
  base: Base
  commands: Instruction[]
}

export function stageReads(parsed: ParsedDockerfile, settings: BuildSettings): StageReads {
  const unknown: UnknownWord[] = []
  const firstFrom = parsed.instructions.findIndex(i => i.keyword === 'from')
  const global = globalScope(parsed, firstFrom < 0 ? [] : parsed.instructions.slice(0, firstFrom), settings)
  const stages = splitStages(parsed, firstFrom, global)
  if (stages.length === 0) return { reads: [], unknown, stages: [], cacheMounts: [] }
  const names = new Map<string, number>()
  for (const stage of stages) if (stage.name !== undefined) names.set(stage.name, stage.index)

  const commandsOf = (stage: Stage): Instruction[] => [...inheritedTriggers(stage, stages), ...stage.commands]
  const needed = neededStages(stages, names, settings.target, commandsOf)

  const reads: ContextRead[] = []
  const mounts = new Map<string, CacheMount>()
  const finalScopes = new Map<number, Scope>()
  for (const stage of stages) {
    if (!needed.has(stage.index)) continue
    const label = stageLabel(stage)
    if (stage.base.kind === 'unknown') {
      const value = expandWord(stage.from.args[0] ?? '', parsed.escapeChar, global.lookup)
      if (!isKnown(value)) unknown.push({ value, stage: label, instruction: stage.from.text.trim() })
    }
    const scope = startingScope(stage.base, finalScopes)
    for (const command of commandsOf(stage)) {
      if (command.keyword === 'run' && command.line !== undefined)
        for (const mount of cacheMountsOf(command, scope, parsed.escapeChar))
          if (!mounts.has(mount.id))
            mounts.set(mount.id, { ...mount, stage: label, stageIndex: stage.index, line: command.line })
      run(command, {
        scope,
        global,
        settings,
        escapeChar: parsed.escapeChar,
        reads,
        // Only a word that decides what is read makes the key give up; an ARG or ENV whose
        // value is unknown matters only once a source uses it.
        unknown: value => unknown.push({ value, stage: label, instruction: command.text.trim() })
      })
    }
    finalScopes.set(stage.index, scope)
  }
  const stageNames = stages.filter(s => needed.has(s.index)).map(stageLabel)
  return { reads, unknown, stages: stageNames, cacheMounts: [...mounts.values()] }
}

/** The cache mounts one RUN declares; one whose id or target can't be expanded before the build is left out. */
function cacheMountsOf(
  command: Instruction,
  scope: Scope,
  escapeChar: string
): Array<Omit<CacheMount, 'stage' | 'stageIndex' | 'line'>> {
  const found: Array<Omit<CacheMount, 'stage' | 'stageIndex' | 'line'>> = []
  for (const spec of flagValues(command, 'mount')) {
    const fields = mountFields(spec)
    const known = (name: string): string | undefined => {
      const raw = fields.get(name)
      if (raw === undefined) return undefined
      const value = expandWord(raw, escapeChar, scope.lookup)
      return isKnown(value) ? value : undefined
    }
    if ((known('type') ?? '').toLowerCase() !== 'cache') continue
    const target = known('target') ?? known('dst') ?? known('destination')
    if (target === undefined || (fields.has('id') && known('id') === undefined)) continue
    const optional = (name: string): Record<string, string> => {
      const value = known(name)
      return value === undefined ? {} : { [name]: value }
    }
    found.push({
      id: known('id') || target,
      target,
      sharing: (known('sharing') ?? 'shared').toLowerCase(),
      // From a stage or image, never expanded (as in mountSources).
      ...(fields.get('from') ? { from: fields.get('from') } : {}),
      ...optional('source'),
      ...optional('mode'),
      ...optional('uid'),
      ...optional('gid')
    })
  }
  return found
}

function stageLabel(stage: Stage): string {
  return stage.name ?? `stage-${stage.index}`
}

// ---------------------------------------------------------------------------
// Scopes

/** The variables a word can use at one point of the build. */
class Scope {
  constructor(
    private readonly values: Map<string, Value>,
    /** What a name that nothing set stands for: nothing, or possibly the base image's ENV. */
    private readonly unset: 'unset' | 'image-env'
  ) {}

  readonly lookup = (name: string): Value | undefined => {
    const value = this.values.get(name)
    if (value !== undefined || this.unset === 'unset') return value
    return { variable: name, cause: 'image-env' }
  }

  set(name: string, value: Value): void {
    this.values.set(name, value)
  }

  copy(): Scope {
    return new Scope(new Map(this.values), this.unset)
  }
}

/**
 * The scope of FROM lines and of `ARG NAME` without a default in a stage:
 * the predefined args (a build arg of the same name replaces one), then each
 * ARG before the first FROM, a build arg of its name replacing its default.
 */
function globalScope(parsed: ParsedDockerfile, metaArgs: Instruction[], settings: BuildSettings): Scope {
  const predefined = predefinedArgs(settings.targetPlatform, settings.buildPlatform)
  for (const [name, value] of settings.buildArgs) if (predefined.has(name)) predefined.set(name, value)
  const scope = new Scope(predefined, 'unset')
  for (const instruction of metaArgs) {
    if (instruction.keyword !== 'arg') continue
    for (const { name, value } of argPairs(instruction, parsed.escapeChar)) {
      const given = settings.buildArgs.get(name)
      if (given !== undefined) scope.set(name, given)
      else if (value !== undefined) scope.set(name, expandWord(value, parsed.escapeChar, scope.lookup))
    }
  }
  return scope
}

function startingScope(base: Base, finalScopes: Map<number, Scope>): Scope {
  if (base.kind === 'stage') {
    const parent = finalScopes.get(base.index)
    if (parent) return parent.copy()
  }
  if (base.kind === 'scratch') return new Scope(new Map([['PATH', DEFAULT_PATH]]), 'unset')
  return new Scope(new Map(), 'image-env')
}

function argPairs(instruction: Instruction, escapeChar: string): Array<{ name: string; value?: string }> {
  return shellWords(instruction.body, escapeChar).map(word => {
    const eq = word.indexOf('=')
    return eq < 0 ? { name: word } : { name: word.slice(0, eq), value: word.slice(eq + 1) }
  })
}

/** `ENV a=1 b=2`, or the older `ENV name value with spaces`. */
function envPairs(instruction: Instruction, escapeChar: string): Array<{ name: string; value: string }> {
  const words = shellWords(instruction.body, escapeChar)
  if (words.length === 0) return []
  if (!(words[0] as string).includes('=')) {
    const [name = '', value = ''] = instruction.body.split(/\s+(.*)/s)
    return [{ name, value }]
  }
  return words.flatMap(word => {
    const eq = word.indexOf('=')
    return eq < 0 ? [] : [{ name: word.slice(0, eq), value: word.slice(eq + 1) }]
  })
}

// ---------------------------------------------------------------------------
// Stages and what the target needs

function splitStages(parsed: ParsedDockerfile, firstFrom: number, global: Scope): Stage[] {
  if (firstFrom < 0) return []
  const stages: Stage[] = []
  // A FROM names a stage defined above it; anything else is an image (or a named context).
  const earlier = new Map<string, number>()
  for (const instruction of parsed.instructions.slice(firstFrom)) {
    if (instruction.keyword !== 'from') {
      stages.at(-1)?.commands.push(instruction)
      continue
    }
    const index = stages.length
    const [image = '', as, name] = instruction.args
    const stageName = as?.toLowerCase() === 'as' && name !== undefined ? name.toLowerCase() : undefined
    const expanded = expandWord(image, parsed.escapeChar, global.lookup)
    const base: Base = !isKnown(expanded)
      ? { kind: 'unknown' }
      : earlier.has(expanded)
        ? { kind: 'stage', index: earlier.get(expanded) as number }
        : expanded === SCRATCH
          ? { kind: 'scratch' }
          : { kind: 'image' }
    stages.push({ index, name: stageName, from: instruction, base, commands: [] })
    if (stageName !== undefined) earlier.set(stageName, index)
  }
  return stages
}

/**
 * The ONBUILD triggers of a base stage of the same file, which BuildKit runs
 * first when a stage starts FROM it (those of its own base do not carry over).
 */
function inheritedTriggers(stage: Stage, stages: Stage[]): Instruction[] {
  if (stage.base.kind !== 'stage') return []
  const parent = stages[stage.base.index]
  return (parent?.commands ?? []).filter(c => c.keyword === 'onbuild').map(c => parseInstruction(c.body))
}

function neededStages(
  stages: Stage[],
  names: Map<string, number>,
  target: string,
  commandsOf: (stage: Stage) => Instruction[]
): Set<number> {
  const last = stages.length - 1
  const start = target === '' ? last : names.get(target.toLowerCase())
  // A target the file does not define fails the build; until then, count every stage.
  if (start === undefined) return new Set(stages.map(s => s.index))
  const needed = new Set<number>()
  const visit = (index: number): void => {
    const stage = stages[index]
    if (stage === undefined || needed.has(index)) return
    needed.add(index)
    if (stage.base.kind === 'stage') visit(stage.base.index)
    for (const command of commandsOf(stage)) for (const dep of stagesUsed(command, names, stages.length)) visit(dep)
  }
  visit(start)
  return needed
}

/** The stages a command copies or mounts from (by name, or by index for COPY --from). */
function stagesUsed(command: Instruction, names: Map<string, number>, count: number): number[] {
  if (command.keyword === 'copy' || command.keyword === 'add') {
    const from = flagValues(command, 'from').at(-1) ?? ''
    if (from === '') return []
    if (/^[+-]?\d+$/.test(from)) {
      const index = Number.parseInt(from, 10)
      return index >= 0 && index < count ? [index] : []
    }
    const named = names.get(from.toLowerCase())
    return named === undefined ? [] : [named]
  }
  if (command.keyword === 'run') {
    return flagValues(command, 'mount').flatMap(spec => {
      const from = mountFields(spec).get('from')
      const named = from === undefined ? undefined : names.get(from.toLowerCase())
      return named === undefined ? [] : [named]
    })
  }
  return []
}

function mountFields(spec: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=')
    const key = field.slice(0, eq).toLowerCase()
    // The later of `source=` and its alias `src=` wins, as with every repeated field.
    if (eq >= 0) fields.set(key === 'src' ? 'source' : key, field.slice(eq + 1))
  }
  return fields
}

// ---------------------------------------------------------------------------
// Instructions

interface Step {
  scope: Scope
  global: Scope
  settings: BuildSettings
  escapeChar: string
  reads: ContextRead[]
  unknown: (value: UnknownValue) => void
}

function run(command: Instruction, step: Step): void {
  const { scope, escapeChar, settings } = step
  switch (command.keyword) {
    case 'arg':
      for (const { name, value } of argPairs(command, escapeChar)) {
        const given = settings.buildArgs.get(name)
        if (given !== undefined) scope.set(name, given)
        else if (value !== undefined) scope.set(name, expandWord(value, escapeChar, scope.lookup))
        else {
          const inherited = step.global.lookup(name)
          if (inherited !== undefined) scope.set(name, inherited)
        }
      }
      break
    case 'env': {
      // Every value of one ENV sees the variables as they were before it.
      const before = scope.copy()
      for (const { name, value } of envPairs(command, escapeChar))
        scope.set(name, expandWord(value, escapeChar, before.lookup))
      break
    }
    case 'copy':
    case 'add':
      copySources(command, step)
      break
    case 'run':
      mountSources(command, step)
      break
    // ONBUILD triggers run in the stages that start FROM this one (see inheritedTriggers).
  }
}

/** A word that decides what is read; an unknown one is reported. */
function expandSource(word: string, step: Step): string | undefined {
  const value = expandWord(word, step.escapeChar, step.scope.lookup)
  if (isKnown(value)) return value
  step.unknown(value)
  return undefined
}

function copySources(command: Instruction, step: Step): void {
  // Copies from another stage, an image or a named context read nothing from this context.
  if ((flagValues(command, 'from').at(-1) ?? '') !== '') return
  const exclude = flagValues(command, 'exclude').filter(isPlainPattern)
  const parents = command.keyword === 'copy' && booleanFlag(command, 'parents')
  for (const source of command.args.slice(0, -1)) {
    if (isHeredocWord(source)) continue
    const value = expandWord(source, step.escapeChar, step.scope.lookup)
    if (!isKnown(value)) {
      if (!remoteWhatever(source, step.escapeChar)) step.unknown(value)
      continue
    }
    if (isRemote(value)) continue
    step.reads.push(parents ? parentsRead(value, exclude) : { path: normalisePath(value), exclude })
  }
}

/**
 * `https://example.com/${VERSION}/x.tar.gz`: a URL whatever the unknown value
 * is, as the word's plain start (before any variable, quote or escape) says.
 */
function remoteWhatever(word: string, escapeChar: string): boolean {
  const end = [...word].findIndex(ch => ch === '$' || ch === '"' || ch === "'" || ch === escapeChar)
  const start = end < 0 ? word : [...word].slice(0, end).join('')
  return (
    start.startsWith('http://') ||
    start.startsWith('https://') ||
    /^(?:git|ssh):\/\//i.test(start) ||
    /^[a-zA-Z0-9_-]+@[a-zA-Z0-9.-]+:/.test(start)
  )
}

/**
 * BuildKit takes --exclude patterns as written, relative to each copied
 * directory. A pattern that names a variable or starts at `/` is left out,
 * so the key covers more rather than less than the build reads.
 */
function isPlainPattern(pattern: string): boolean {
  return !pattern.includes('$') && !pattern.replace(/^!/, '').startsWith('/')
}

/** `COPY --parents a/./b/*.txt`: below `a`, what `b/*.txt` matches; without `/./`, below the root. */
function parentsRead(source: string, exclude: string[]): ContextRead {
  const pivot = source.indexOf('/./')
  const [base, pattern] = pivot < 0 ? ['.', source] : [source.slice(0, pivot), source.slice(pivot + 3)]
  const include = normalisePath(pattern)
  return { path: normalisePath(base), exclude, ...(include === '.' ? {} : { parents: include }) }
}

function mountSources(command: Instruction, step: Step): void {
  for (const spec of flagValues(command, 'mount')) {
    const fields = mountFields(spec)
    // `from` is never expanded; a mount from a stage or an image reads nothing from the context.
    if ((fields.get('from') ?? '') !== '') continue
    const type = expandSource(fields.get('type') ?? 'bind', step)
    if (type === undefined || type.toLowerCase() !== 'bind') continue
    const source = expandSource(fields.get('source') ?? '', step)
    // No source= binds the root of what is mounted: here, the whole context.
    if (source !== undefined) step.reads.push({ path: normalisePath(source), exclude: [] })
  }
}

// ---------------------------------------------------------------------------
// Sources

/**
 * URLs and git references, which BuildKit fetches instead of reading the
 * context: `http(s)://` (a file, or a repository ending in `.git`),
 * `git://`, `ssh://` and `user@host:path`. `github.com/...` without a scheme
 * is a context path for ADD.
 */
export function isRemote(source: string): boolean {
  if (source.startsWith('http://') || source.startsWith('https://')) return true
  if (source.startsWith('./') || source.startsWith('../') || source.startsWith('github.com/')) return false
  const scheme = /^([a-zA-Z0-9]+):\/\/[^/?#]*([^?#]*)/.exec(source)
  if (scheme) {
    const protocol = (scheme[1] as string).toLowerCase()
    if (protocol === 'git' || protocol === 'ssh') return true
    return (protocol === 'http' || protocol === 'https') && (scheme[2] ?? '').endsWith('.git')
  }
  return /^[a-zA-Z0-9_-]+@[a-zA-Z0-9.-]+:/.test(source)
}

/**
 * Context-relative form: `./`, duplicate and trailing slashes and a leading
 * `/` all go, `..` is resolved, and whatever climbs above the root stops at
 * it, as BuildKit resolves sources inside the context.
 */
export function normalisePath(path: string): string {
  const kept: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment !== '..') kept.push(segment)
    else kept.pop()
  }
  return kept.length > 0 ? kept.join('/') : '.'
}
