// The progress lines a benchmark prints while it runs.

export type Progress = (line: string) => void

export function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}
