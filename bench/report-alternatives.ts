// Ours beside what users pick instead, in the same runs: the documented
// recipe and the docker save / load approach, for a pull request and for a
// master commit that changes a COPY source. A table, and prose that says where
// the time goes when a target is missed.
import type { CycleRun } from './cycle.js'
import { download, transfer, type Figure } from './figures.js'
import { fine, med, mib, sec, table, times } from './format.js'
import type { Phases } from './jobs.js'
import type { Results } from './results.js'
import type { SaveLoadRun } from './save-load.js'

type Side = Phases & { load?: number; cached?: number; steps?: number }

interface Row {
  name: string
  pick: (run: CycleRun) => Side | undefined
  /** Ours in the same event, for the ratio. */
  ours: (run: CycleRun) => Side
}

export function alternativesTable(r: Results): string {
  const pr = (run: CycleRun): Side => run.prOurs
  const master = (run: CycleRun): Side => run.masterOurs
  const body = [
    { name: 'Pull request: **ours**', pick: pr, ours: pr },
    {
      name: "Pull request: the recipe, its tarball on the runner's disk",
      pick: (run: CycleRun) => run.prRecipe,
      ours: pr
    },
    {
      name: 'Pull request: docker save / load through actions/cache',
      pick: (run: CycleRun) => run.saveLoad?.pr,
      ours: pr
    },
    { name: 'Pull request: ours, `cache-backend: registry`', pick: (run: CycleRun) => run.registry.pr, ours: pr },
    { name: 'Master after a change: **ours**', pick: master, ours: master },
    {
      name: 'Master after a change: ours, `cache-backend: local`',
      pick: (run: CycleRun) => run.masterLocal,
      ours: master
    },
    {
      name: 'Master after a change: ours, `cache-backend: registry` (pushes during the build)',
      pick: (run: CycleRun) => run.registry.master,
      ours: master
    },
    {
      name: "Master after a change: the recipe, its tarball on the runner's disk",
      pick: (run: CycleRun) => run.masterRecipe,
      ours: master
    },
    {
      name: "Master after a change: docker save / load (its pull request's run, plus the save it made after the cold build)",
      pick: saveLoadMaster,
      ours: master
    }
  ].map(row => phaseRow(r.cycles, row))
  return [
    table(
      [
        'Job',
        'Total (s)',
        'Restore',
        'Load',
        'Build',
        'Cache export',
        'Save',
        'Other',
        'Steps cached',
        'Ours / this',
        'Runs'
      ],
      body
    ),
    '',
    "Ours / this is the median of the ratios within each run. The recipe's transfer costs nothing here (a file on the same disk); " +
      `through the cache service it would add about ${sec(med(r.cycles, download))} down and ${sec(med(r.cycles, transfer) - med(r.cycles, download))} up ` +
      '(curl, same entry). docker save / load moves its archive through the same service with the real actions/cache client, ' +
      "in a process of its own as the actions/cache step runs; its restore and save include that process's start. " +
      "The registry backend talks to a registry on the same machine (the engine's own network namespace): no network cost, where " +
      'ghcr.io would add the transfer; its restore is the tag lookup, and BuildKit pulls the layers during the build.',
    '',
    saveLoadProse(r)
  ].join('\n')
}

// It rebuilds every step whether the key changed or not, so its run after a
// change is its pull request's run plus a save, which it made once already,
// after the cold build: composed from those rather than rebuilt once more.
function saveLoadMaster(run: CycleRun): Side | undefined {
  if (!run.saveLoad) return undefined
  const { pr, seed } = run.saveLoad
  return { ...pr, save: seed.seconds, total: pr.total + seed.seconds }
}

function phaseRow(c: CycleRun[], row: Row): string[] {
  const runs = c.filter(run => row.pick(run) !== undefined)
  if (runs.length === 0) return [row.name, '—', '', '', '', '', '', '', '', '', '0']
  const m = (f: (s: Side) => number): string => med(runs, run => f(row.pick(run) as Side)).toFixed(1)
  const first = row.pick(runs[0]) as Side
  return [
    row.name,
    `**${m(s => s.total)}**`,
    m(s => s.restore),
    first.load === undefined ? '' : m(s => s.load ?? 0),
    m(s => s.build),
    m(s => s.export),
    m(s => s.save),
    m(s => s.other),
    first.steps === undefined ? '' : `${first.cached}/${first.steps}`,
    times(med(runs, run => row.ours(run).total / (row.pick(run) as Side).total)),
    String(runs.length)
  ]
}

function saveLoadProse(r: Results): string {
  const runs = r.cycles.filter(run => run.saveLoad)
  if (runs.length === 0) return ''
  const pr = (run: CycleRun): SaveLoadRun => (run.saveLoad as NonNullable<CycleRun['saveLoad']>).pr
  const first = pr(runs[0])
  const reused =
    first.cached === 0
      ? `BuildKit rebuilt every step (0/${first.steps} cached): the loaded image gives \`docker buildx build\` no cache, since BuildKit keeps its ` +
        'build cache apart from the image store'
      : `BuildKit reused ${first.cached} of ${first.steps} steps from the loaded image`
  return (
    `**docker save / load.** ${reused}. Its pull request took ${sec(med(runs, run => pr(run).total))} against ours ` +
    `${sec(med(runs, run => run.prOurs.total))}. Its restore and \`docker load\` alone took ` +
    `${sec(med(runs, run => pr(run).restore + pr(run).load))}: that is what a workflow would pay that skips the build whenever its exact key ` +
    'was restored, giving up the build on every other run and any check that the image still matches its Dockerfile. ' +
    `Its archive (\`docker save | zstd\`) is ${mib(med(runs, run => pr(run).archiveBytes))}, our entry ${mib(med(runs, run => run.entryBytes))}.`
  )
}

/** Where the pull request and the master run's time goes, for the targets they miss. */
export function alternativesProse(r: Results, missedTargets: Set<string>, list: Figure[]): string {
  const c = r.cycles
  const paragraphs: string[] = []
  if (missedTargets.has('pr')) {
    const floor = med(c, run => (run.bareImport.seconds + download(run)) / run.prRecipe.total)
    // What 0.75× of the recipe leaves once BuildKit's import and the transfer are paid.
    const room = med(c, run => 0.75 * run.prRecipe.total - run.bareImport.seconds - download(run))
    const ownWork = med(c, run => run.prOurs.total - run.bareImport.seconds - download(run))
    const reach =
      room <= 0
        ? 'so on this image the target is out of reach for anything that restores through the service and imports with BuildKit. '
        : `so the target leaves ${fine(room)} for everything else ours does (start-up, the cache client, extraction, bookkeeping), which took ${fine(ownWork)}. `
    paragraphs.push(
      `**Pull request (${shown(list, 'pr')}, target ≤ 0.75×).** Both sides spend most of the run in BuildKit's import: ours built for ` +
        `${sec(med(c, run => run.prOurs.build))} of ${sec(med(c, run => run.prOurs.total))}, the recipe for ${sec(med(c, run => run.prRecipe.build))} ` +
        `of ${sec(med(c, run => run.prRecipe.total))}; what ours skips (the cache export, ${sec(med(c, run => run.prRecipe.export))}, and the ` +
        `save, ${sec(med(c, run => run.prRecipe.save))}) is small next to it. Even at the limits (BuildKit's bare import plus the transfer, ` +
        `nothing of ours) the ratio would be ${times(floor)}, ${reach}${phaseGaps(
          c,
          run => run.prOurs,
          run => run.prRecipe,
          0
        )} ` +
        `With \`cache-backend: registry\` the pull request took ${times(med(c, run => run.registry.pr.total / run.prRecipe.total))} the ` +
        "recipe's time: its restore is a tag lookup, and BuildKit pulls the layers into its store itself, with no archive to download " +
        'and extract and no directory to copy from (the registry was on the same machine; on ghcr.io the layers cross the network).'
    )
  }
  if (missedTargets.has('master')) {
    const local = med(c, run => run.masterLocal.total / run.masterRecipe.total)
    const exportGap = med(c, run => run.masterOurs.export) - med(c, run => run.masterRecipe.export)
    paragraphs.push(
      `**Master after a change (${shown(list, 'master')}, target ≤ 1.0× with the same transfer).** ` +
        phaseGaps(
          c,
          run => run.masterOurs,
          run => run.masterRecipe,
          1
        ) +
        ` With the local backend, which moves nothing, ours took ${times(local)} the recipe's time: the rest of the gap is the ` +
        "cache service's client, which archives to a file and then uploads it, and downloads to a file and then extracts it, " +
        "where curl's bare transfer only moves the bytes." +
        (exportGap > 0.1
          ? ` Our cache export is ${sec(exportGap)} longer than the recipe's: ours forces every layer to the chosen compression ` +
            '(`force-compression`), so the layers this commit rebuilt, which the image export compressed with gzip, are compressed ' +
            'again; the recipe leaves them gzip in a cache of another compression.'
          : '') +
        ` With \`cache-backend: registry\`, which pushes the layers during the build and has no archive to make or move, ours took ` +
        `${times(med(c, run => run.registry.master.total / run.masterRecipe.total))} the recipe's time.`
    )
  }
  return paragraphs.join('\n\n')
}

function shown(list: Figure[], id: string): string {
  const f = list.find(x => x.id === id)
  if (!f) return ''
  const sorted = [...f.samples].sort((a, b) => a - b)
  return f.show(sorted[Math.floor(sorted.length / 2)])
}

/**
 * Phase by phase, where ours spends more than the recipe; with `transferShare`
 * 1 the recipe is charged the bare transfer of its tarball both ways.
 */
function phaseGaps(
  c: CycleRun[],
  ours: (run: CycleRun) => Phases,
  theirs: (run: CycleRun) => Phases,
  transferShare: number
): string {
  const parts: Array<[string, (p: Phases) => number, (run: CycleRun) => number]> = [
    ['restore', p => p.restore, run => transferShare * download(run)],
    ['build', p => p.build, () => 0],
    ['cache export', p => p.export, () => 0],
    ['save', p => p.save, run => transferShare * (transfer(run) - download(run))],
    ['other', p => p.other, () => 0]
  ]
  const gaps = parts
    .map(([name, f, extra]) => ({
      name,
      ours: med(c, run => f(ours(run))),
      theirs: med(c, run => f(theirs(run)) + extra(run))
    }))
    .map(g => ({ ...g, gap: g.ours - g.theirs }))
  const over = gaps.filter(g => g.gap > 0.1).sort((a, b) => b.gap - a.gap)
  if (over.length === 0) return "No phase of ours is more than 0.1 s above the recipe's; the difference is spread thin."
  return (
    'Ours spends more than the recipe on: ' +
    over
      .map(
        g =>
          `${g.name} ${sec(g.ours)} against ${sec(g.theirs)}${transferShare && (g.name === 'restore' || g.name === 'save') ? ' with the transfer' : ''}`
      )
      .join('; ') +
    '.'
  )
}
