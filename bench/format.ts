// How the report writes numbers and tables.
import { megabytes } from '../src/megabytes.js'
import { median } from './timing.js'

export function med<T>(runs: T[], f: (run: T) => number): number {
  return median(runs.map(f))
}

export function sec(seconds: number): string {
  return `${seconds.toFixed(1)} s`
}

/** Seconds with two decimals: for the fractions of a second start-up and bookkeeping come to. */
export function fine(seconds: number): string {
  return `${seconds.toFixed(2)} s`
}

export function times(ratio: number): string {
  return `${ratio.toFixed(2)}×`
}

export function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(0)} %`
}

export function rate(bytesPerSecond: number): string {
  return `${megabytes(bytesPerSecond, 0)}/s`
}

export function mib(bytes: number): string {
  return megabytes(bytes)
}

/** Bytes in MB, or in kB below a tenth of a MB, where MB would show 0.0. */
export function size(bytes: number): string {
  return bytes < (1024 * 1024) / 10 ? `${(bytes / 1024).toFixed(1)} kB` : mib(bytes)
}

/** A difference, said as more or less. */
export function moreOrLess(seconds: number): string {
  return seconds >= 0 ? `${sec(seconds)} more` : `${sec(-seconds)} less`
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}
