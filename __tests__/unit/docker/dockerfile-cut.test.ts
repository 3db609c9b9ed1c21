import { describe, expect, it } from '@jest/globals'
import { cutBefore, describeRefusal } from '../../../src/docker/dockerfile-cut.js'
import { parseDockerfile } from '../../../src/key/dockerfile-parse.js'

const MULTISTAGE = [
  '# syntax=docker/dockerfile:1',
  'ARG BASE=scratch',
  'FROM ${BASE} AS base',
  'COPY busybox /bin/busybox',
  '',
  'FROM base AS toolchain',
  '# builds for an hour',
  'RUN ./build-gcc.sh \\',
  '  --prefix=/opt/gcc',
  'RUN <<EOF',
  'RUN this is heredoc text, not an instruction',
  'EOF',
  'RUN ./test-gcc.sh',
  '',
  'FROM base',
  'COPY --from=toolchain /opt/gcc /opt/gcc',
  ''
].join('\n')

describe('cutBefore', () => {
  it('keeps every line above the failing instruction byte for byte, and nothing from it on', () => {
    const cut = cutBefore(MULTISTAGE, 13, 'RUN ./test-gcc.sh')
    expect(cut).toEqual({ ok: true, text: `${MULTISTAGE.split('\n').slice(0, 12).join('\n')}\n`, stageSteps: 2 })
  })

  it('makes the failing stage the last one, so the cut builds it without a target', () => {
    const cut = cutBefore(MULTISTAGE, 8, 'RUN ./build-gcc.sh   --prefix=/opt/gcc')
    if (!cut.ok) throw new Error(describeRefusal(cut.why))
    const stages = parseDockerfile(cut.text).instructions.filter(i => i.keyword === 'from')
    expect(stages.at(-1)?.args).toEqual(['base', 'AS', 'toolchain'])
    expect(cut.text.endsWith('# builds for an hour\n')).toBe(true)
    expect(cut.stageSteps).toBe(0)
  })

  it('keeps the syntax directive, global ARGs and the stages the failing one builds on', () => {
    const cut = cutBefore(MULTISTAGE, 16, 'COPY --from=toolchain /opt/gcc /opt/gcc')
    if (!cut.ok) throw new Error(describeRefusal(cut.why))
    expect(cut.text.startsWith('# syntax=docker/dockerfile:1\nARG BASE=scratch\n')).toBe(true)
    expect(parseDockerfile(cut.text).instructions.map(i => i.keyword)).toEqual([
      'arg',
      'from',
      'copy',
      'from',
      'run',
      'run',
      'run',
      'from'
    ])
  })

  it('keeps CRLF line ends and a byte-order mark as they are', () => {
    const text = '\uFEFFFROM scratch\r\nCOPY a /a\r\nRUN false\r\n'
    expect(cutBefore(text, 3, 'RUN false')).toEqual({
      ok: true,
      text: '\uFEFFFROM scratch\r\nCOPY a /a\r\n',
      stageSteps: 1
    })
  })

  it('refuses a line where no instruction starts: a continuation, a heredoc body, a comment', () => {
    for (const line of [7, 9, 11, 99]) {
      expect(cutBefore(MULTISTAGE, line, 'RUN x')).toEqual({ ok: false, why: { kind: 'no-instruction', line } })
    }
  })

  it('refuses an instruction other than the one buildx named there', () => {
    expect(cutBefore(MULTISTAGE, 16, 'RUN ./test-gcc.sh')).toEqual({
      ok: false,
      why: { kind: 'other-instruction', expected: 'run', found: 'copy' }
    })
  })

  it('refuses a failing FROM, or anything before the first stage: nothing of its stage finished', () => {
    expect(cutBefore(MULTISTAGE, 6, 'FROM base AS toolchain')).toMatchObject({
      ok: false,
      why: { kind: 'not-in-a-stage' }
    })
    expect(cutBefore(MULTISTAGE, 2, 'ARG BASE=scratch')).toMatchObject({ ok: false, why: { kind: 'not-in-a-stage' } })
  })
})
