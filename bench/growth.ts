// Chains of master builds of one image under one key prefix: the growth
// figure, and the start of the scenarios that continue a chain. A chain may
// have BuildKit's own type=gha building beside it, commit for commit.
import { ghaJob, storedBytes, type StoredBytes } from './gha.js'
import { actionJob, expectSource, type ActionRun } from './jobs.js'
import { setRelease, type Lab } from './lab.js'
import { megabytes } from '../src/megabytes.js'
import type { Progress } from './progress.js'
import type { Fixture } from './settings.js'
import { inTurn } from './turns.js'

export interface Chain {
  fixture: Fixture
  keyPrefix: string
  workspace: string
  release: number
  /** The newest entry's key. */
  head: string
  /** Bytes of the entry each master build saved, in order. */
  entryBytes: number[]
  /**
   * With type=gha building beside the chain: what the service holds for each
   * side after each master build that saved (cold build first).
   */
  stored?: StoredBytes[]
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
  return { chain: chainFrom(lab, { fixture, keyPrefix, workspace }, cold, say), cold }
}

/** The chain a cold build at release 1 of the workspace starts. */
export function chainFrom(
  lab: Lab,
  start: { fixture: Fixture; keyPrefix: string; workspace: string; withGha?: boolean },
  cold: ActionRun,
  say: Progress
): Chain {
  expectSource(cold, 'none')
  say(`cold build ${cold.total.toFixed(1)} s, entry ${megabytes(lab.entryBytes(cold.key))}`)
  const { fixture, keyPrefix, workspace } = start
  return {
    fixture,
    keyPrefix,
    workspace,
    release: 1,
    head: cold.key,
    entryBytes: [lab.entryBytes(cold.key)],
    stored: start.withGha ? [storedBytes(lab, fixture, keyPrefix)] : undefined
  }
}

/** Master builds that each change a COPY source, until the chain has `builds` entries; type=gha's beside each, if the chain has it. */
export async function growth(lab: Lab, chain: Chain, builds: number, say: Progress): Promise<Chain> {
  const { fixture } = chain
  let current = chain
  while (current.entryBytes.length < builds) {
    const release = current.release + 1
    setRelease(current.workspace, fixture, release)
    const job = { fixture, workspace: current.workspace, trigger: 'push-master' } as const
    const [r] = await inTurn<[ActionRun, unknown]>(current.entryBytes.length, [
      () => actionJob(lab, { ...job, keyPrefix: current.keyPrefix }),
      () => (current.stored ? ghaJob(lab, job) : Promise.resolve(undefined))
    ])
    expectSource(r, 'branch')
    current = {
      ...current,
      release,
      head: r.key,
      entryBytes: [...current.entryBytes, lab.entryBytes(r.key)],
      stored: current.stored && [...current.stored, storedBytes(lab, fixture, current.keyPrefix)]
    }
    say(`master build ${current.entryBytes.length}/${builds}: entry ${megabytes(current.entryBytes.at(-1) ?? 0)}`)
  }
  return current
}
