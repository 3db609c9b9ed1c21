// Layer compression (`cache-compression`): one entry per compression in a
// chain of master builds, then warm exact hits on each, in rotating order.
import * as fs from 'node:fs'
import { actionJob, type ActionRun } from './jobs.js'
import { setRelease, type Lab } from './lab.js'
import { allLayers, layerCompressions } from './layers.js'
import { expectSource, mb, unpackEntry, type Chain, type Progress } from './scenarios.js'

export type Compression = 'gzip' | 'zstd' | 'uncompressed'

export interface CompressionResult {
  compression: Compression
  /** Restore start to image ready (restore + build) on warm exact hits. */
  warmSeconds: number[]
  entryBytes: number
  cacheBytes: number
  /** The master build that first exported this compression, recompressing every layer; none for gzip, the chain's own. */
  exportRun?: ActionRun
}

/**
 * Gives the chain one entry per layer compression: the head is gzip (the
 * default); two more master commits export zstd, then uncompressed, each
 * restoring the previous entry. Then fresh runners take exact hits on the
 * three entries in turn, the order rotating from run to run.
 */
export async function compression(lab: Lab, chain: Chain, runs: number, say: Progress): Promise<CompressionResult[]> {
  const { fixture } = lab.settings
  const entries: Array<{ compression: Compression; release: number; key: string; exportRun?: ActionRun }> = [
    { compression: 'gzip', release: chain.release, key: chain.head }
  ]
  let release = chain.release
  for (const choice of ['zstd', 'uncompressed'] as const) {
    setRelease(chain.workspace, fixture, ++release)
    const r = await actionJob(lab, { workspace: chain.workspace, trigger: 'push-master', keyPrefix: chain.keyPrefix, inputs: { 'cache-compression': choice } })
    expectSource(r, 'branch')
    entries.push({ compression: choice, release, key: r.key, exportRun: r })
    say(`exported ${choice}: build ${(r.build + r.export).toFixed(1)} s, entry ${mb(lab.entryBytes(r.key))} MB`)
  }
  for (const e of entries) await requireLayers(lab, e.key, e.compression)

  const samples = new Map<Compression, ActionRun[]>(entries.map(e => [e.compression, []]))
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < entries.length; j++) {
      const e = entries[(i + j) % entries.length]
      setRelease(chain.workspace, fixture, e.release)
      const r = await actionJob(lab, {
        workspace: chain.workspace,
        trigger: 'push-master',
        keyPrefix: chain.keyPrefix,
        inputs: { 'cache-compression': e.compression }
      })
      expectSource(r, 'exact')
      samples.get(e.compression)?.push(r)
      say(`warm hit on ${e.compression}: ${(r.restore + r.build).toFixed(1)} s to the image`)
    }
  }

  return entries.map(e => {
    const warm = samples.get(e.compression) ?? []
    return {
      compression: e.compression,
      warmSeconds: warm.map(r => r.restore + r.build),
      entryBytes: lab.entryBytes(e.key),
      cacheBytes: warm[0]?.cacheBytes ?? 0,
      exportRun: e.exportRun
    }
  })
}

// An action that ignores `cache-compression` (an older bundle) would give
// three figures for one compression.
async function requireLayers(lab: Lab, key: string, compression: Compression): Promise<void> {
  const dir = lab.tempDir('layers-')
  try {
    const counts = await layerCompressions(await unpackEntry(lab, key, dir))
    if (!allLayers(counts, compression)) {
      throw new Error(`The entry exported with cache-compression ${compression} holds layers ${JSON.stringify(counts)}; does the bundle under test support cache-compression?`)
    }
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true })
  }
}
