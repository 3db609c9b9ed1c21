// What a step writes to stdout during each test: @actions/core's log lines
// and workflow commands (`::warning::...`), kept out of the test output.
import { afterAll, beforeEach, jest } from '@jest/globals'

export interface CapturedStdout {
  /** Everything written since the test began, or since clear(). */
  text(): string
  /** The `::warning::` lines among it. */
  warnings(): string[]
  clear(): void
}

/** Captures stdout around every test of the file or describe block it is called in. */
export function captureStdout(): CapturedStdout {
  let written = ''
  beforeEach(() => {
    written = ''
    jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
      written += String(chunk)
      return true
    })
  })
  afterAll(() => {
    jest.restoreAllMocks()
  })
  return {
    text: () => written,
    warnings: () => written.split('\n').filter(line => line.startsWith('::warning::')),
    clear: () => {
      written = ''
    }
  }
}
