// What a failed build's `--progress=plain` output says about how far it got:
// the Dockerfile step that failed the solve, where it is in the Dockerfile,
// and which steps finished before it. A failed solve exports no cache; this is
// what tells the action what the engine still holds.

/** The step that failed the build, as buildx names and locates it. */
export interface FailedStep {
  /** The instruction as buildx shows it, without the step counter: `RUN ./build-gcc.sh`. */
  instruction: string
  /** The first line of the failing instruction in the Dockerfile (1-based). */
  line: number
  /** The platform named in the step's label (`[linux/arm64 builder 3/5]`), on a build of several. */
  platform?: string
}

/** The Dockerfile steps a failed build got through, counted by name. */
export interface Progress {
  /** Steps that finished: served by the cache, or run to the end. */
  finished: number
  /** Of those, the ones the build ran itself: what a restore did not already hold. */
  built: number
  /** Steps that started but neither finished nor failed: cut short (CANCELED) when the build stopped. */
  unfinished: number
}

// `#12 [builder 3/5] RUN make`: the label in brackets, then the instruction.
const STEP = /^#(\d+) \[((?!internal\]|auth\])[^\]]*)\] (?!FROM )(.*)$/
// The block buildx prints under the error for the step that failed the solve.
const FAILED_BLOCK = /^ > \[([^\]]*)\] (.*):$/
// `Dockerfile:12` or `Dockerfile:12-14` over the source excerpt.
const LOCATION = /^\S.*:(\d+)(?:-\d+)?$/
const EXCERPT_RULE = '--------------------'

/**
 * The step whose error failed the build, when it is a Dockerfile step that
 * buildx located: a syntax error, a missing file or a frontend failure names
 * no step, and leaves nothing to keep.
 */
export function failedStep(progress: string, platforms: string[] = []): FailedStep | undefined {
  const lines = progress.split('\n')
  const labels = new Map<string, string>()
  const errored = new Set<string>()
  for (const line of lines) {
    const step = STEP.exec(line)
    if (step && !labels.has(step[1])) labels.set(step[1], `[${step[2]}] ${step[3].trim()}`)
    const error = /^#(\d+) ERROR: /.exec(line)
    if (error) errored.add(error[1])
  }
  let block: { label: string; instruction: string } | undefined
  let line: number | undefined
  for (const [i, text] of lines.entries()) {
    const failed = FAILED_BLOCK.exec(text)
    if (failed) block = { label: failed[1], instruction: failed[2].trim() }
    const at = LOCATION.exec(text)
    if (at && block && lines[i + 1] === EXCERPT_RULE) line = Number(at[1])
  }
  if (!block || line === undefined) return undefined
  const shown = `[${block.label}] ${block.instruction}`
  const stepFailed = [...errored].some(id => labels.get(id) === shown)
  if (!stepFailed) return undefined
  const platform = block.label.split(' ').find(word => platforms.includes(word))
  return { instruction: block.instruction, line, ...(platform ? { platform } : {}) }
}

/**
 * How many Dockerfile steps finished before the failure. A step is named by
 * its label without the counter: an `ADD <url>` shows as two vertices of one
 * name, and a cut build numbers its steps differently.
 */
export function progressOf(progress: string): Progress {
  const nameOf = new Map<string, string>()
  const cached = new Set<string>()
  const done = new Set<string>()
  const ended = new Set<string>()
  for (const line of progress.split('\n')) {
    const step = STEP.exec(line)
    if (step && !nameOf.has(step[1])) nameOf.set(step[1], stepName(step[2], step[3]))
    if (/^#(\d+) CACHED\s*$/.test(line)) cached.add(line.split(' ')[0].slice(1))
    const finished = /^#(\d+) DONE /.exec(line)
    if (finished) done.add(finished[1])
    const failed = /^#(\d+) ERROR: /.exec(line)
    if (failed) ended.add(failed[1])
  }
  const names = (ids: Set<string>): Set<string> => new Set([...ids].flatMap(id => nameOf.get(id) ?? []))
  const cachedNames = names(cached)
  // Under load buildx can print DONE for the failing step before its ERROR:
  // a step with an ERROR line did not finish.
  const doneNames = names(new Set([...done].filter(id => !ended.has(id))))
  const built = [...doneNames].filter(name => !cachedNames.has(name))
  const unfinished = [...nameOf.keys()].filter(id => !cached.has(id) && !done.has(id) && !ended.has(id))
  return { finished: new Set([...cachedNames, ...doneNames]).size, built: built.length, unfinished: unfinished.length }
}

/** A step's label without its `n/m` counter, which changes when the Dockerfile is cut. */
export function stepName(label: string, instruction: string): string {
  const words = label.split(' ').filter(word => !/^\d+\/\d+$/.test(word))
  return `${words.join(' ')}|${instruction.trim()}`
}
