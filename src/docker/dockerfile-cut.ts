import { parseDockerfile } from '../key/dockerfile-parse.js'

// A Dockerfile cut just before the instruction that failed: everything above
// it byte for byte, nothing from that line on. Its last stage is the stage
// that failed, so it is what the cut builds without a target. BuildKit keys
// a step by its instruction, its parent's key and what it reads (a COPY by
// the content it copies), never by the instructions after it nor by its
// `[n/m]` label, so the steps kept keep the keys the failed build gave them.

export type DockerfileCut =
  | { ok: true; text: string /** Instructions kept in the failing stage, FROM excluded. */; stageSteps: number }
  | { ok: false; why: CutRefusal }

export type CutRefusal =
  /** No instruction starts on that line (the file changed, or buildx pointed elsewhere). */
  | { kind: 'no-instruction'; line: number }
  /** The failing instruction starts a stage (FROM), or comes before any: no step of its stage finished. */
  | { kind: 'not-in-a-stage'; keyword: string }
  /** buildx names another instruction than the file holds at that line. */
  | { kind: 'other-instruction'; expected: string; found: string }

/** `failing`: the instruction as buildx shows it, checked against the file. */
export function cutBefore(dockerfile: string, line: number, failing: string): DockerfileCut {
  const { instructions } = parseDockerfile(dockerfile)
  const index = instructions.findIndex(i => i.line === line)
  if (index < 0) return { ok: false, why: { kind: 'no-instruction', line } }
  const instruction = instructions[index]
  const shownKeyword = failing.trim().split(/\s/)[0]?.toLowerCase() ?? ''
  if (shownKeyword !== instruction.keyword)
    return { ok: false, why: { kind: 'other-instruction', expected: shownKeyword, found: instruction.keyword } }
  const stageStart = instructions.slice(0, index).findLastIndex(i => i.keyword === 'from')
  if (instruction.keyword === 'from' || stageStart < 0)
    return { ok: false, why: { kind: 'not-in-a-stage', keyword: instruction.keyword } }
  const kept = dockerfile.split('\n').slice(0, line - 1)
  return { ok: true, text: `${kept.join('\n')}\n`, stageSteps: index - stageStart - 1 }
}

export function describeRefusal(why: CutRefusal): string {
  switch (why.kind) {
    case 'no-instruction':
      return `no instruction of the Dockerfile starts on line ${why.line}, where buildx located the failure`
    case 'not-in-a-stage':
      return `the failing ${why.keyword.toUpperCase()} starts a stage, so no step of it finished`
    case 'other-instruction':
      return `buildx reported a ${why.expected.toUpperCase()} failing where the Dockerfile holds a ${why.found.toUpperCase()}`
  }
}
