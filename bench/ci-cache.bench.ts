// `npm run bench`: the action's figures on the machine it runs on, beside its
// limits (BuildKit's import, the disk, the transfer, Node's start) and beside
// what users pick instead (the documented recipe, docker save / load). Prints
// the report and writes it to docs/benchmarks.md. Fails only on real errors,
// never on slowness.
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { compression, type CompressionResult } from './compression.js'
import { cycleRun, type CycleRun } from './cycle.js'
import { growth, startChain, type Chain } from './growth.js'
import { keyResolution, type KeyResolution } from './key-resolution.js'
import { openLab, type Lab } from './lab.js'
import { describeMachine, type Machine } from './machine.js'
import { multiStage, type MultiStageRun } from './multistage.js'
import { renderReport } from './report.js'
import type { Results } from './results.js'
import { readSettings } from './settings.js'
import { stopwatch } from './timing.js'

// Hours, not minutes: a busy machine makes everything slower, and a timeout
// must never stand in for a slow figure.
jest.setTimeout(4 * 60 * 60 * 1000)

const settings = readSettings()
const elapsed = stopwatch()
let lab: Lab | undefined
let machine: Machine | undefined
const cycles: CycleRun[] = []
let chain: Chain | undefined
let grown: Chain | undefined
let compressed: CompressionResult[] | undefined
let incompressible: CompressionResult[] | undefined
let multi: MultiStageRun | undefined
let key: KeyResolution | undefined

function say(line: string): void {
  process.stderr.write(`bench: ${line}\n`)
}

function opened(): Lab {
  if (!lab) throw new Error('The benchmark lab did not open; see the first failure.')
  return lab
}

beforeAll(async () => {
  say(
    `${settings.runs} run(s), fixture ${settings.fixture.name}${settings.quick ? ' (quick)' : ''}, work in ${settings.workRoot}`
  )
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
    it(`run ${i}/${settings.runs}: ${i === 1 ? 'cold build, ' : ''}exact hit beside its limits, pull request and changed source beside the alternatives`, async () => {
      if (i > 1 && (!chain || cycles.length < i - 1))
        throw new Error(`Run ${i - 1} did not finish, so there is no entry for run ${i} to start from.`)
      const previous = chain && cycles.length > 0 ? { chain, run: cycles[cycles.length - 1] } : undefined
      const done = await cycleRun(opened(), previous, i, line => say(`run ${i}: ${line}`))
      cycles.push(done.run)
      chain = done.chain
    })
  }

  it(`measures the entry's growth over ${settings.growthBuilds} master builds`, async () => {
    if (!chain) throw new Error('No cycle run finished, so there is no chain of master builds to continue.')
    grown = await growth(opened(), chain, settings.growthBuilds, line => say(`growth: ${line}`))
  })

  it('compares the layer compressions on warm hits', async () => {
    if (!grown) throw new Error('The growth sequence did not finish, so there is no entry to start from.')
    compressed = await compression(opened(), grown, settings.runs, line => say(`compression: ${line}`))
  })

  it('measures the multi-stage variant', async () => {
    multi = await multiStage(opened(), Math.min(settings.runs, 2), line => say(`multi-stage: ${line}`))
  })

  const extreme = settings.incompressible
  if (extreme) {
    it('compares the layer compressions on incompressible content', async () => {
      const started = await startChain(opened(), extreme, 'incompressible', line => say(`incompressible: ${line}`))
      incompressible = await compression(opened(), started.chain, Math.min(settings.runs, 2), line =>
        say(`incompressible: ${line}`)
      )
    })
  }

  it('writes the report', async () => {
    if (
      !machine ||
      cycles.length < settings.runs ||
      !grown ||
      !compressed ||
      !multi ||
      !key ||
      (extreme && !incompressible)
    ) {
      // What did run is kept, to be read without measuring again.
      if (cycles.length > 0)
        await fs.promises.writeFile(path.join(settings.workRoot, 'cycles.json'), JSON.stringify(cycles, null, 1))
      throw new Error(
        'A scenario failed or was not run (see above): the report is not written, so the last complete one stays; the runs that finished are in cycles.json.'
      )
    }
    machine.load.end = os.loadavg()[0]
    const results: Results = {
      settings,
      machine,
      cycles,
      growth: grown,
      compression: compressed,
      incompressible,
      multiStage: multi,
      key,
      minutes: elapsed() / 60
    }
    // The raw figures too, to render the report again without measuring again.
    await fs.promises.writeFile(path.join(settings.workRoot, 'results.json'), JSON.stringify(results, null, 1))
    const report = renderReport(results)
    await fs.promises.mkdir(path.dirname(settings.output), { recursive: true })
    await fs.promises.writeFile(settings.output, report)
    process.stdout.write(`\n${report}\nWritten to ${settings.output}\n`)
  })
})
