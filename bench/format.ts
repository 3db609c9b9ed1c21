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

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}
