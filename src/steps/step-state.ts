import * as core from '@actions/core'
import type { StoreConfig, SaveResult } from '../cache/store.js'
import type { CacheSource } from '../constants.js'
import type { StepCounts } from '../docker/build-output.js'
import type { MountReport } from '../mounts/report.js'
import type { BaseImagesReport } from './base-images.js'
import type { ProgressReport } from './progress-words.js'
import type { SaveDecision } from './save-decision.js'

/** The state the main step hands the post step: what it did, for the post step to save and summarise. */
export interface StepState {
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
  /** `served`: the builder read the blobs during the build; `seconds` is the index's restore alone. */
  restore?: { sizeBytes: number; seconds: number; movedBytes?: number; served?: boolean }
  /** An entry found but not imported, and why. */
  unusable?: { key: string; problem: string }
  build?: { seconds: number; steps: StepCounts; retriedWithoutCache: boolean; succeeded: boolean }
  /** Whether the post step saves what the build exported, and why. */
  save: SaveDecision
  /** The build failed, and what it finished was kept for the save (a partial entry). */
  progress?: ProgressReport
  /** save-timeout; unset: no limit beyond the stall bound. */
  saveTimeoutSeconds?: number
  deleteSuperseded: boolean
  summary: boolean
  /** The build's cache mounts: what was restored into the builder and exported for the save. */
  mounts?: MountReport[]
  /** Where the base images came from, and what keeping them added to the entry. */
  bases?: BaseImagesReport
}

/** What the post step's save came to. */
export interface SaveOutcome {
  result: SaveResult
  seconds: number
}

// The names the state is kept under; the main and post steps of a run come from one bundle.
const STEP_STATE = 'report'
const CLEANUP = 'cleanup'
const BUILDER = 'builder'

export function saveStepState(state: StepState): void {
  core.saveState(STEP_STATE, JSON.stringify(state))
}

export function readStepState(): StepState | undefined {
  const raw = core.getState(STEP_STATE)
  return raw ? (JSON.parse(raw) as StepState) : undefined
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
