// `npm run bench`: the action's figures on the machine it runs on, beside the
// documented recipe and plain tar + zstd. Prints the report and writes it to
// docs/benchmarks.md. Fails only on real errors, never on slowness.
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { keyResolution, type KeyResolution } from './key-resolution.js'
import { openLab, type Lab } from './lab.js'
import { describeMachine, type Machine } from './machine.js'
import { compression, type CompressionResult } from './compression.js'
import { cycleRun, growth, type Chain, type CycleRun } from './scenarios.js'
import { readSettings } from './settings.js'
import { renderReport } from './report.js'
import { stopwatch } from './timing.js'

// Hours, not minutes: a busy machine makes everything slower, and a timeout
// must never stand in for a slow figure.
jest.setTimeout(4 * 60 * 60 * 1000)

const settings = readSettings()
const elapsed = stopwatch()
let lab: Lab | undefined
let machine: Machine | undefined
const cycles: CycleRun[] = []
let firstChain: Chain | undefined
let grown: Chain | undefined
let compressed: CompressionResult[] | undefined
let key: KeyResolution | undefined

function say(line: string): void {
  process.stderr.write(`bench: ${line}\n`)
}

function opened(): Lab {
  if (!lab) throw new Error('The benchmark lab did not open; see the first failure.')
  return lab
}

beforeAll(async () => {
  say(`${settings.runs} run(s), fixture ${settings.fixture.name}${settings.quick ? ' (quick)' : ''}, work in ${settings.workRoot}`)
  lab = await openLab(settings)
  machine = describeMachine(lab.engine)
})

afterAll(async () => {
  await lab?.close()
})

describe('buildx-ci-cache benchmarks', () => {
  it(`resolves the key of a ${settings.keyFiles}-file context`, async () => {
    const workspace = opened().tempDir('key-context-')
    key = await keyResolution(workspace, settings.keyFiles, settings.runs)
    say(`key resolution: ${key.seconds.map(v => v.toFixed(2)).join(', ')} s`)
    await fs.promises.rm(workspace, { recursive: true, force: true })
  })

  for (let i = 1; i <= settings.runs; i++) {
    it(`run ${i}/${settings.runs}: cold build, exact hit, pull request and changed source, beside the recipe`, async () => {
      const { run, chain } = await cycleRun(opened(), i, line => say(`run ${i}: ${line}`))
      cycles.push(run)
      firstChain ??= chain
    })
  }

  it(`measures the entry's growth over ${settings.growthBuilds} master builds`, async () => {
    if (!firstChain) throw new Error('No cycle run finished, so there is no chain of master builds to continue.')
    grown = await growth(opened(), firstChain, settings.growthBuilds, line => say(`growth: ${line}`))
  })

  it('compares the layer compressions on warm hits', async () => {
    if (!grown) throw new Error('The growth sequence did not finish, so there is no gzip entry to start from.')
    compressed = await compression(opened(), grown, settings.runs, line => say(`compression: ${line}`))
  })

  it('writes the report', async () => {
    if (!machine || cycles.length < settings.runs || !grown || !compressed || !key) {
      throw new Error('A scenario failed (see above): the report is not written, so the last complete one stays.')
    }
    machine.load.end = os.loadavg()[0]
    const report = renderReport({ settings, machine, cycles, growth: grown, compression: compressed, key, minutes: elapsed() / 60 })
    await fs.promises.mkdir(path.dirname(settings.output), { recursive: true })
    await fs.promises.writeFile(settings.output, report)
    process.stdout.write(`\n${report}\nWritten to ${settings.output}\n`)
  })
})
