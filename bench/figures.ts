// The figures the issues set targets for, each with its runs and its
// baseline, and the same comparisons with the transport made equal.
import type { CycleRun } from './cycle.js'
import type { ActionRun } from './jobs.js'
import { med, mib, rate, sec, table, times } from './format.js'
import type { Results } from './results.js'
import { median } from './timing.js'

export interface Figure {
  /** Short name, for the prose that follows the table. */
  id: string
  figure: string
  samples: number[]
  /** How to show the median and each sample. */
  show: (v: number) => string
  detail?: string
  target: string
  met: (v: number) => boolean
}

const atMost = (limit: number) => (v: number) => v <= limit
const seconds = (v: number): string => `${v.toFixed(2)} s`

/** The cold build's entry downloaded by curl alone. */
export const download = (run: CycleRun): number => run.transport.downloadSeconds
/** Both ways: the recipe's tarball would go down and up. */
export const transfer = (run: CycleRun): number => run.transport.downloadSeconds + run.transport.uploadSeconds
/** What a JavaScript action cannot avoid: Node starting, once per step. */
export const twoNodeStarts = (run: CycleRun): number => 2 * run.nodeStart

/** The cold build: the first run's, which every later run continues from. */
export function coldBuild(r: Results): ActionRun {
  const cold = r.cycles.find(run => run.cold)?.cold
  if (!cold) throw new Error('No run holds the cold build.')
  return cold
}

export function targets(r: Results): Figure[] {
  const c = r.cycles
  const colds = c.filter(run => run.cold !== undefined && run.headSave.seconds > 0)
  const cold = coldBuild(r)
  const sizes = r.growth.entryBytes
  return [
    {
      id: 'warm',
      figure: 'Warm exact hit, ours / (bare buildx import + transfer)',
      samples: c.map(run => run.exact.total / (run.bareImport.seconds + download(run))),
      show: times,
      detail: `${sec(med(c, run => run.exact.total))} vs ${sec(med(c, run => run.bareImport.seconds))} + ${sec(med(c, download))}`,
      target: '≤ 1.10×',
      met: atMost(1.1)
    },
    {
      id: 'pr',
      figure: 'Pull request run, ours / recipe (total step time)',
      samples: c.map(run => run.prOurs.total / run.prRecipe.total),
      show: times,
      detail: `${sec(med(c, run => run.prOurs.total))} vs ${sec(med(c, run => run.prRecipe.total))}`,
      target: '≤ 0.75×',
      met: atMost(0.75)
    },
    {
      id: 'master',
      figure: 'Master run after a changed COPY source, ours / (recipe + the same transfer)',
      samples: c.map(run => run.masterOurs.total / (run.masterRecipe.total + transfer(run))),
      show: times,
      detail: `${sec(med(c, run => run.masterOurs.total))} vs ${sec(med(c, run => run.masterRecipe.total))} + ${sec(med(c, transfer))}`,
      target: '≤ 1.0×',
      met: atMost(1)
    },
    {
      id: 'fixed',
      figure: 'Fixed cost: "other" of a warm exact hit (saves nothing) above two bare Node starts',
      samples: c.map(run => run.exact.other - twoNodeStarts(run)),
      show: seconds,
      detail: `${seconds(med(c, run => run.exact.other))} vs 2 × ${seconds(med(c, run => run.nodeStart))}`,
      target: '≤ 0.40 s',
      met: atMost(0.4)
    },
    // An entry of packs served to the builder restores only its index before
    // the build (the blobs move during it, in the build's time), and a save
    // after a change uploads only the new blobs: throughput is measured on
    // the cold build's save, the one that uploads every blob.
    ...(colds.length === 0
      ? []
      : [
          {
            id: 'save-throughput',
            figure: "Save throughput of the cold build's save (every blob), ours / plain tar + zstd",
            samples: colds.map(run => run.plainSave.seconds / run.headSave.seconds),
            show: times,
            detail: `${rate(med(colds, run => run.headSave.cacheBytes / run.headSave.seconds))} vs ${rate(med(colds, run => run.plainSave.bytes / run.plainSave.seconds))}`,
            target: '≥ 0.85×',
            met: (v: number) => v >= 0.85
          }
        ]),
    {
      id: 'growth',
      figure: `Entry size after ${sizes.length} master builds / after the first`,
      samples: [sizes[sizes.length - 1] / sizes[0]],
      show: times,
      detail: `${mib(sizes[0])} → ${mib(sizes[sizes.length - 1])}, largest ${mib(Math.max(...sizes))} (one sequence)`,
      target: '≤ 1.05×',
      met: atMost(1.05)
    },
    {
      id: 'key',
      figure: `Key resolution, ${r.key.files.toLocaleString('en-US')} files (${mib(r.key.bytes)})`,
      samples: r.key.seconds,
      show: seconds,
      target: '≤ 1 s',
      met: atMost(1)
    },
    {
      id: 'warm-cold',
      figure: 'Warm exact hit / cold build (total step time)',
      samples: c.map(run => run.exact.total / cold.total),
      show: v => `${(v * 100).toFixed(1)} %`,
      detail: `${sec(med(c, run => run.exact.total))} vs ${sec(cold.total)} (one cold build)`,
      target: '≤ 10 %',
      met: atMost(0.1)
    }
  ]
}

export function fairerComparisons(r: Results): Figure[] {
  const c = r.cycles
  const pairs: Array<[string, string, (run: CycleRun) => number, (run: CycleRun) => number, string, number]> = [
    [
      'master-local',
      'Master after a change, ours with `cache-backend: local` / recipe',
      run => run.masterLocal.total,
      run => run.masterRecipe.total,
      '≤ 1.0×',
      1
    ],
    [
      'pr-transfer',
      'Pull request, ours / recipe plus the bare transfer',
      run => run.prOurs.total,
      run => run.prRecipe.total + transfer(run),
      '≤ 0.75×',
      0.75
    ],
    [
      'pr-registry',
      'Pull request, ours with `cache-backend: registry` / recipe',
      run => run.registry.pr.total,
      run => run.prRecipe.total,
      '≤ 0.75×',
      0.75
    ],
    [
      'master-registry',
      'Master after a change, ours with `cache-backend: registry` / recipe',
      run => run.registry.master.total,
      run => run.masterRecipe.total,
      '≤ 1.0×',
      1
    ]
  ]
  return pairs.map(([id, figure, ours, theirs, target, limit]) => ({
    id,
    figure,
    samples: c.map(run => ours(run) / theirs(run)),
    show: times,
    detail: `${sec(med(c, ours))} vs ${sec(med(c, theirs))}`,
    target,
    met: atMost(limit)
  }))
}

export function figureTable(list: Figure[]): string {
  const rows = list.map(f => {
    const m = median(f.samples)
    return [
      f.figure,
      `**${f.show(m)}**`,
      f.samples.map(f.show).join(', '),
      f.detail ?? '',
      f.target,
      f.met(m) ? 'met' : '**missed**'
    ]
  })
  return table(['Figure', 'Median', 'Runs', 'Ours vs baseline', 'Target', ''], rows)
}

export function missed(list: Figure[]): Set<string> {
  return new Set(list.filter(f => !f.met(median(f.samples))).map(f => f.id))
}
