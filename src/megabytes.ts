/** Bytes as the log, the summary and the benchmarks say them: `12.3 MB` (MiB, as docker and du count). */
export function megabytes(bytes: number, digits = 1): string {
  return `${(bytes / 1024 / 1024).toFixed(digits)} MB`
}
