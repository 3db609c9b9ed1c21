// The figures the issue sets targets for, each with its runs and its
// baseline, and the same comparisons with the transport made equal.
import type { Results } from './results.js'
import type { CycleRun } from './scenarios.js'
import { med, mib, rate, sec, table } from './table.js'
import { median } from './timing.js'

export interface Figure {
  figure: string
  samples: number[]
  /** How to show the median and each sample. */
  show: (v: number) => string
  detail?: string
  target: string
  met: (v: number) => boolean
}

const times = (v: number): string => `${v.toFixed(2)}×`
const atMost = (limit: number) => (v: number) => v <= limit

export function targets(r: Results): Figure[] {
  const c = r.cycles
  const sizes = r.growth.entryBytes
  return [
    {
      figure: 'Pull request run, ours / recipe (total step time)',
      samples: c.map(run => run.prOurs.total / run.prRecipe.total),
      show: times,
      detail: `${sec(med(c, run => run.prOurs.total))} vs ${sec(med(c, run => run.prRecipe.total))}`,
      target: '≤ 0.6×',
      met: atMost(0.6)
    },
    {
      figure: 'Master run after a changed COPY source, ours / recipe',
      samples: c.map(run => run.masterOurs.total / run.masterRecipe.total),
      show: times,
      detail: `${sec(med(c, run => run.masterOurs.total))} vs ${sec(med(c, run => run.masterRecipe.total))}`,
      target: '≤ 0.9×',
      met: atMost(0.9)
    },
    {
      figure: 'Restore throughput, ours / plain tar + zstd',
      samples: c.map(run => run.plainRestore.seconds / run.exact.restore),
      show: times,
      detail: `${rate(med(c, run => run.exact.cacheBytes / run.exact.restore))} vs ${rate(med(c, run => run.plainRestore.bytes / run.plainRestore.seconds))}`,
      target: '≥ 0.85×',
      met: v => v >= 0.85
    },
    {
      figure: 'Save throughput, ours / plain tar + zstd',
      samples: c.map(run => run.plainSave.seconds / run.cold.save),
      show: times,
      detail: `${rate(med(c, run => run.cold.cacheBytes / run.cold.save))} vs ${rate(med(c, run => run.plainSave.bytes / run.plainSave.seconds))}`,
      target: '≥ 0.85×',
      met: v => v >= 0.85
    },
    {
      figure: `Entry size after ${sizes.length} master builds / after the first`,
      samples: [sizes[sizes.length - 1] / sizes[0]],
      show: times,
      detail: `${mib(sizes[0])} → ${mib(sizes[sizes.length - 1])}, largest ${mib(Math.max(...sizes))} (one sequence)`,
      target: '≤ 1.05×',
      met: atMost(1.05)
    },
    {
      figure: `Key resolution, ${r.key.files.toLocaleString('en-US')} files (${mib(r.key.bytes)})`,
      samples: r.key.seconds,
      show: v => `${v.toFixed(2)} s`,
      target: '≤ 1 s',
      met: atMost(1)
    },
    {
      figure: 'Warm exact hit / cold build (total step time)',
      samples: c.map(run => run.exact.total / run.cold.total),
      show: v => `${(v * 100).toFixed(1)} %`,
      detail: `${sec(med(c, run => run.exact.total))} vs ${sec(med(c, run => run.cold.total))}`,
      target: '≤ 10 %',
      met: atMost(0.1)
    }
  ]
}

export function fairerComparisons(r: Results): Figure[] {
  const c = r.cycles
  const transfer = (run: CycleRun): number => run.transport.downloadSeconds + run.transport.uploadSeconds
  const pairs: Array<[string, (run: CycleRun) => number, (run: CycleRun) => number, string, number]> = [
    ['Pull request, ours with `cache-backend: local` / recipe', run => run.prLocal.total, run => run.prRecipe.total, '≤ 0.6×', 0.6],
    ['Master after a change, ours with `cache-backend: local` / recipe', run => run.masterLocal.total, run => run.masterRecipe.total, '≤ 0.9×', 0.9],
    ['Pull request, ours / recipe plus the bare transfer', run => run.prOurs.total, run => run.prRecipe.total + transfer(run), '≤ 0.6×', 0.6],
    ['Master after a change, ours / recipe plus the bare transfer', run => run.masterOurs.total, run => run.masterRecipe.total + transfer(run), '≤ 0.9×', 0.9]
  ]
  return pairs.map(([figure, ours, theirs, target, limit]) => ({
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
    return [f.figure, `**${f.show(m)}**`, f.samples.map(f.show).join(', '), f.detail ?? '', f.target, f.met(m) ? 'met' : '**missed**']
  })
  return table(['Figure', 'Median', 'Runs', 'Ours vs baseline', 'Target', ''], rows)
}
