// The failed builds buildx really printed (__fixtures__/buildx-output/): the
// single-stage failure of every version captured, and for buildx 0.29 a
// multi-stage failure on a continued line, a multi-platform one, a syntax
// error and a failing first step.
import { describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { failedStep, progressOf } from '../../../src/docker/failed-step.js'
import { ROOT } from '../../support/engine.js'

const read = (version: string, name: string): string =>
  fs.readFileSync(path.join(ROOT, '__fixtures__', 'buildx-output', version, `${name}.txt`), 'utf8')

describe.each(['buildx-0.13', 'buildx-0.29'])('%s', version => {
  it('finds the failing RUN, its line, and the 7 steps that finished before it', () => {
    const output = read(version, 'build-error')
    expect(failedStep(output)).toEqual({ instruction: 'RUN echo the tests failed >&2 && exit 3', line: 12 })
    // Six served by the engine's cache, one run by this build.
    expect(progressOf(output)).toEqual({ finished: 7, built: 1, unfinished: 0 })
  })

  it('finds no failing step in a build that passed', () => {
    expect(failedStep(read(version, 'cold-build'))).toBeUndefined()
  })
})

describe('buildx-0.29', () => {
  const read29 = (name: string): string => read('buildx-0.29', name)

  it('locates a failing instruction of a named stage by its first line', () => {
    const output = read29('multistage-continuation-error')
    expect(failedStep(output)).toEqual({
      instruction: 'RUN echo more > /more   && echo second   && exit 5',
      line: 7
    })
    expect(progressOf(output)).toEqual({ finished: 3, built: 3, unfinished: 0 })
  })

  it('sees no failing step in a syntax error: the frontend failed before any step', () => {
    expect(failedStep(read29('syntax-error'))).toBeUndefined()
  })

  it('sees nothing finished when the first step fails', () => {
    const output = read29('first-step-error')
    expect(failedStep(output)).toEqual({ instruction: 'RUN ["/bin/busybox", "false"]', line: 2 })
    expect(progressOf(output).finished).toBe(0)
  })

  it('sees nothing finished when buildx printed DONE for the failing first step before its ERROR, as it can under load', () => {
    // Seen on a busy engine: the step's vertex is reported done, then again with its error.
    const output = [
      '#4 [1/2] RUN ["/bin/busybox", "false"]',
      '#4 DONE 0.0s',
      '',
      '#4 [1/2] RUN ["/bin/busybox", "false"]',
      '#4 0.241 runc run failed: unable to start container process: exec: "/bin/busybox": stat /bin/busybox: no such file or directory',
      '#4 ERROR: process "/bin/busybox false" did not complete successfully: exit code: 1'
    ].join('\n')
    expect(progressOf(output)).toEqual({ finished: 0, built: 0, unfinished: 0 })
  })

  it('counts the steps of each platform once by name, and names the platform only when buildx does', () => {
    const output = read29('multiplatform-error')
    expect(failedStep(output, ['linux/amd64', 'linux/386'])).toEqual({
      instruction: 'RUN [ "386" = amd64 ] || exit 6',
      line: 6
    })
    // amd64 got to the end: nothing was cut short.
    expect(progressOf(output)).toMatchObject({ unfinished: 0 })
    expect(
      failedStep(output.replaceAll('[4/4] RUN [ "386"', '[linux/386 4/4] RUN [ "386"'), ['linux/amd64', 'linux/386'])
    ).toMatchObject({ platform: 'linux/386' })
  })
  it('counts the steps a failure in a parallel stage cut short', () => {
    const output = read29('parallel-stage-error')
    expect(failedStep(output)).toEqual({ instruction: 'RUN exit 7', line: 7 })
    expect(progressOf(output)).toMatchObject({ finished: 2, unfinished: 1 })
  })
})
