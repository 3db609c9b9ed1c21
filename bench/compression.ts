// Layer compression (`cache-compression`): one entry per compression in a
// chain of master builds, then warm exact hits on each, in rotating order.
import * as fs from 'node:fs'
import { unpackEntry } from './entries.js'
import type { Chain } from './growth.js'
import { actionJob, expectSource, type ActionRun } from './jobs.js'
import { setRelease, type Lab } from './lab.js'
import { allLayers, layerCompressions } from './layers.js'
import { megabytes } from '../src/megabytes.js'
import type { Progress } from './progress.js'

export type Compression = 'gzip' | 'zstd' | 'uncompressed'
const COMPRESSIONS: Compression[] = ['gzip', 'zstd', 'uncompressed']

export interface CompressionResult {
  compression: Compression
  /** Whether the chain's own builds, made with the action's default, exported it. */
  isDefault: boolean
  /** Restore start to image ready (restore + build) on warm exact hits. */
  warmSeconds: number[]
  /** Whole job (main + post) of the same warm hits. */
  warmTotals: number[]
  entryBytes: number
  cacheBytes: number
  /** The master build that first exported this compression, restoring an entry of another one: every layer recompressed. */
  exportRun: ActionRun
  /** The compression of the entry that build restored. */
  exportedFrom: Compression
}

/**
 * Gives the chain one entry per layer compression: its head has the action's
 * default (read from the entry's layers, so it is the bundle's default); more
 * master commits export the other two, then the default again, each
 * restoring the previous entry, so that every compression has a first export
 * that switched to it, gzip's last and the default's from gzip: what a
 * workflow that kept the old default pays once. Then fresh runners take exact
 * hits on the three in turn, the order rotating from run to run.
 */
export async function compression(lab: Lab, chain: Chain, runs: number, say: Progress): Promise<CompressionResult[]> {
  const { fixture } = chain
  const job = { fixture, workspace: chain.workspace, trigger: 'push-master', keyPrefix: chain.keyPrefix } as const
  const head = await entryCompression(lab, chain.head)
  // gzip last among the others, so that the switch back to the default starts from it.
  const others = COMPRESSIONS.filter(c => c !== head).sort((a, b) => Number(a === 'gzip') - Number(b === 'gzip'))
  const entries: Array<{
    compression: Compression
    release: number
    key: string
    exportRun?: ActionRun
    exportedFrom?: Compression
  }> = [{ compression: head, release: chain.release, key: chain.head }]
  let release = chain.release
  let previous = head
  for (const choice of [...others, head]) {
    setRelease(chain.workspace, fixture, ++release)
    const r = await actionJob(lab, { ...job, inputs: { 'cache-compression': choice } })
    expectSource(r, 'branch')
    await requireLayers(lab, r.key, choice)
    const known = entries.find(e => e.compression === choice)
    if (known) Object.assign(known, { exportRun: r, exportedFrom: previous })
    else entries.push({ compression: choice, release, key: r.key, exportRun: r, exportedFrom: previous })
    say(
      `exported ${choice} from ${previous}: cache export ${r.export.toFixed(1)} s, entry ${megabytes(lab.entryBytes(r.key))}`
    )
    previous = choice
  }

  const samples = new Map<Compression, ActionRun[]>(entries.map(e => [e.compression, []]))
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < entries.length; j++) {
      const e = entries[(i + j) % entries.length]
      setRelease(chain.workspace, fixture, e.release)
      const r = await actionJob(lab, { ...job, inputs: { 'cache-compression': e.compression } })
      expectSource(r, 'exact')
      samples.get(e.compression)?.push(r)
      say(`warm hit on ${e.compression}: ${(r.restore + r.build).toFixed(1)} s to the image`)
    }
  }

  return entries
    .map(e => {
      const warm = samples.get(e.compression) ?? []
      return {
        compression: e.compression,
        isDefault: e.compression === head,
        warmSeconds: warm.map(r => r.restore + r.build),
        warmTotals: warm.map(r => r.total),
        entryBytes: lab.entryBytes(e.key),
        cacheBytes: warm[0]?.cacheBytes ?? 0,
        exportRun: e.exportRun as ActionRun,
        exportedFrom: e.exportedFrom as Compression
      }
    })
    .sort((a, b) => COMPRESSIONS.indexOf(a.compression) - COMPRESSIONS.indexOf(b.compression))
}

/** The one compression every layer of an entry has. */
async function entryCompression(lab: Lab, key: string): Promise<Compression> {
  const counts = await entryLayers(lab, key)
  const found = COMPRESSIONS.find(c => allLayers(counts, c))
  if (!found) throw new Error(`The entry ${key} mixes layer compressions: ${JSON.stringify(counts)}.`)
  return found
}

// An action that ignores `cache-compression` (an older bundle) would give
// three figures for one compression.
async function requireLayers(lab: Lab, key: string, compression: Compression): Promise<void> {
  const counts = await entryLayers(lab, key)
  if (!allLayers(counts, compression)) {
    throw new Error(
      `The entry exported with cache-compression ${compression} holds layers ${JSON.stringify(counts)}; does the bundle under test support cache-compression?`
    )
  }
}

async function entryLayers(lab: Lab, key: string): Promise<Record<string, number>> {
  const dir = lab.tempDir('layers-')
  try {
    return await layerCompressions(await unpackEntry(lab, key, dir))
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true })
  }
}
