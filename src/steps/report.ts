import * as core from '@actions/core'
import type { StoreConfig, SaveResult } from '../cache/store.js'
import type { CacheSource } from '../constants.js'
import type { StepCounts } from '../docker/buildx.js'
import type { SaveDecision } from './save-decision.js'

/** What the main step did, for the post step to save and summarise. */
export interface Report {
  image: string
  /** The content key (the `key` output). */
  key: string
  matchedKey: string
  source: CacheSource
  /** The restored entry was saved for this same content. */
  cacheHit: boolean
  /** The restored entry of this content was stale or broken. */
  stale: boolean
  store: StoreConfig
  restore?: { sizeBytes: number; seconds: number }
  /** An entry found but not imported, and why. */
  unusable?: { key: string; problem: string }
  build?: { seconds: number; steps: StepCounts; retriedWithoutCache: boolean; succeeded: boolean }
  /** Whether the post step saves what the build exported, and why. */
  save: SaveDecision
  /** save-timeout; unset: no limit beyond the stall bound. */
  saveTimeoutSeconds?: number
  deleteSuperseded: boolean
  summary: boolean
}

/** What the post step's save came to. */
export interface SaveOutcome {
  result: SaveResult
  seconds: number
}

const REPORT = 'report'
const CLEANUP = 'cleanup'
const BUILDER = 'builder'

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

/** The builder the main step made, for the post step to remove whatever happened. */
export function saveBuilderCleanup(name: string): void {
  core.saveState(BUILDER, name)
}

export function readBuilderCleanup(): string | undefined {
  return core.getState(BUILDER) || undefined
}
