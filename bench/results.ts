// Everything one benchmark run measured, as the report reads it.
import type { CompressionResult } from './compression.js'
import type { CycleRun } from './cycle.js'
import type { Chain } from './growth.js'
import type { KeyResolution } from './key-resolution.js'
import type { Machine } from './machine.js'
import type { MultiStageRun } from './multistage.js'
import type { Settings } from './settings.js'

export interface Results {
  settings: Settings
  machine: Machine
  cycles: CycleRun[]
  growth: Chain
  compression: CompressionResult[]
  /** The same comparison on random bytes; absent in a quick run. */
  incompressible?: CompressionResult[]
  multiStage: MultiStageRun
  key: KeyResolution
  minutes: number
}
