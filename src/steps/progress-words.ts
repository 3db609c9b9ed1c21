import { megabytes } from '../megabytes.js'
import { printable } from '../printable.js'

// The words the log and the job summary give a failed build's progress, and a
// partial entry restored later: one module, so both say the same.

/** What the main step kept of a failed build, for the post step to save and report. */
export interface ProgressReport {
  /** Steps the cut build served from the builder's cache: those the failed build finished. */
  steps: number
  /** Of those, steps the cut build found nowhere and ran again (none when the keys were reproduced). */
  rerun: number
  /** The instruction that failed, as buildx showed it. */
  failedStep: string
  /** What the export-only build of the cut Dockerfile took. */
  cutSeconds: number
}

/** `saved the 7 steps that finished (1.2 GB); the failing step was `RUN ./build-gcc.sh``. */
export function progressSavedLine(
  report: ProgressReport,
  sizeBytes: number,
  quote: (instruction: string) => string = instruction => `\`${printable(instruction)}\``
): string {
  const steps = report.steps === 1 ? 'the 1 step that finished' : `the ${report.steps} steps that finished`
  return `saved ${steps} (${megabytes(sizeBytes)}); the failing step was ${quote(report.failedStep)}`
}

export function partialRestoredLine(key: string): string {
  return `The entry restored, ${key}, is partial: it holds the steps a failed build of this branch finished. It is not a cache hit; the build runs the rest.`
}
