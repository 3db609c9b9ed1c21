// Chains of master builds of one image under one key prefix: the growth
// figure, and the start of the scenarios that continue a chain.
import { actionJob, expectSource, type ActionRun } from './jobs.js'
import { setRelease, type Lab } from './lab.js'
import { megabytes } from '../src/megabytes.js'
import type { Progress } from './progress.js'
import type { Fixture } from './settings.js'

export interface Chain {
  fixture: Fixture
  keyPrefix: string
  workspace: string
  release: number
  /** The newest entry's key. */
  head: string
  /** Bytes of the entry each master build saved, in order. */
  entryBytes: number[]
}

/** A new chain: a fresh workspace at release 1 and its cold build on master. */
export async function startChain(
  lab: Lab,
  fixture: Fixture,
  keyPrefix: string,
  say: Progress
): Promise<{ chain: Chain; cold: ActionRun }> {
  const workspace = await lab.workspace(fixture)
  setRelease(workspace, fixture, 1)
  const cold = await actionJob(lab, { fixture, workspace, trigger: 'push-master', keyPrefix })
  expectSource(cold, 'none')
  say(`cold build ${cold.total.toFixed(1)} s, entry ${megabytes(lab.entryBytes(cold.key))}`)
  return {
    chain: { fixture, keyPrefix, workspace, release: 1, head: cold.key, entryBytes: [lab.entryBytes(cold.key)] },
    cold
  }
}

/** Master builds that each change a COPY source, until the chain has `builds` entries. */
export async function growth(lab: Lab, chain: Chain, builds: number, say: Progress): Promise<Chain> {
  const { fixture } = chain
  let current = chain
  while (current.entryBytes.length < builds) {
    const release = current.release + 1
    setRelease(current.workspace, fixture, release)
    const r = await actionJob(lab, {
      fixture,
      workspace: current.workspace,
      trigger: 'push-master',
      keyPrefix: current.keyPrefix
    })
    expectSource(r, 'branch')
    current = { ...current, release, head: r.key, entryBytes: [...current.entryBytes, lab.entryBytes(r.key)] }
    say(`master build ${current.entryBytes.length}/${builds}: entry ${megabytes(current.entryBytes.at(-1) ?? 0)}`)
  }
  return current
}
