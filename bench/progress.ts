// The progress lines a benchmark prints while it runs.

export type Progress = (line: string) => void
