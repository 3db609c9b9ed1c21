// Everything one benchmark run measured, as the report reads it.
import type { CompressionResult } from './compression.js'
import type { KeyResolution } from './key-resolution.js'
import type { Machine } from './machine.js'
import type { Chain, CycleRun } from './scenarios.js'
import type { Settings } from './settings.js'

export interface Results {
  settings: Settings
  machine: Machine
  cycles: CycleRun[]
  growth: Chain
  compression: CompressionResult[]
  key: KeyResolution
  minutes: number
}
