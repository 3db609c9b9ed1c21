import * as core from '@actions/core'
import type { CacheBackendName, CacheSource } from './constants.js'
import type { StepCounts } from './buildx.js'

const REPORT = 'report'
const CLEANUP = 'cleanup'

/** What the main step did, for the post step to save and summarise. */
export interface Report {
  image: string
  key: string
  matchedKey: string
  source: CacheSource
  backend: CacheBackendName
  cacheRoot: string
  restore?: { sizeBytes: number; seconds: number }
  build?: { seconds: number; steps: StepCounts; retriedWithoutCache: boolean; succeeded: boolean }
  /** The cache this run exported, to be saved under `key`. */
  saveDir?: string
  /** Why nothing will be saved, in one line; unset when saveDir is. */
  skipSave?: string
  saveTimeoutSeconds: number
  deleteSuperseded: boolean
  summary: boolean
}

export function saveReport(report: Report): void {
  core.saveState(REPORT, JSON.stringify(report))
}

export function readReport(): Report | undefined {
  const raw = core.getState(REPORT)
  return raw ? (JSON.parse(raw) as Report) : undefined
}

/** Directories to remove in the post step, whatever happened before it. */
export function saveCleanup(paths: string[]): void {
  core.saveState(CLEANUP, JSON.stringify(paths))
}

export function readCleanup(): string[] {
  const raw = core.getState(CLEANUP)
  return raw ? (JSON.parse(raw) as string[]) : []
}
