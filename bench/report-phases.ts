// The detail tables of the report: each job's time by phase, and where the
// restore's and the save's time goes.
import type { CycleRun } from './cycle.js'
import { med, mib, rate, sec, table } from './format.js'
import type { ActionRun } from './jobs.js'
import type { Results } from './results.js'
import { median } from './timing.js'

export function phaseTable(r: Results): string {
  const c = r.cycles
  const row = (name: string, pick: (run: CycleRun) => ActionRun | undefined): string[] => {
    const runs = c.map(pick).filter(run => run !== undefined)
    const m = (f: (run: ActionRun) => number): string => median(runs.map(f)).toFixed(1)
    const first = runs[0]
    return [
      name,
      `**${m(p => p.total)}**`,
      m(p => p.restore),
      m(p => p.build),
      m(p => p.contextSeconds),
      m(p => p.export),
      m(p => p.save),
      m(p => p.other),
      `${first.cached}/${first.steps}`
    ]
  }
  const rows = [
    row('Cold build, empty cache (master, first run only)', run => run.cold),
    row('Warm exact hit, fresh runner (master)', run => run.exact),
    row('Warm fallback hit after a changed COPY source (master)', run => run.masterOurs),
    row('Pull request, base-branch hit', run => run.prOurs)
  ]
  return [
    table(
      [
        'Job',
        'Total (s)',
        'Restore',
        'Build',
        'of which reading the context',
        'Cache export',
        'Save',
        'Other',
        'Steps cached'
      ],
      rows
    ),
    '',
    "Total is main + post as the runner runs them; restore is the `restore-time` output; build is the job summary's, less the " +
      'cache export (buildx\'s "exporting cache to client directory"); reading the context is buildx\'s "load build context", which ' +
      'the COPY steps\' cache keys wait for; save is the post step\'s "Cache saved ... in Y s"; other is ' +
      'the rest: Node start-up of both steps, builder checks, the key, moving the exported directory into place, clean-up.',
    '',
    `Cache directory ${mib(med(c, run => run.exact.cacheBytes))}, its entry (tar + zstd) ${mib(med(c, run => run.entryBytes))}.`
  ].join('\n')
}

export function transferTable(r: Results): string {
  const c = r.cycles
  const restoreRest = (run: CycleRun): number =>
    run.exact.restore - run.transport.downloadSeconds - run.plainRestore.seconds
  const saveRest = (run: CycleRun): number => run.headSave.seconds - run.transport.uploadSeconds - run.plainSave.seconds
  const rows = [
    [
      'Restore (warm exact hit)',
      `${sec(med(c, run => run.exact.restore))} (${rate(med(c, run => run.exact.cacheBytes / run.exact.restore))})`,
      `${sec(med(c, run => run.transport.downloadSeconds))} (${rate(med(c, run => run.transport.bytes / run.transport.downloadSeconds))})`,
      `${sec(med(c, run => run.plainRestore.seconds))} (${rate(med(c, run => run.plainRestore.bytes / run.plainRestore.seconds))})`,
      sec(med(c, restoreRest))
    ],
    [
      'Save (of the entry each run starts from)',
      `${sec(med(c, run => run.headSave.seconds))} (${rate(med(c, run => run.headSave.cacheBytes / run.headSave.seconds))})`,
      `${sec(med(c, run => run.transport.uploadSeconds))} (${rate(med(c, run => run.transport.bytes / run.transport.uploadSeconds))})`,
      `${sec(med(c, run => run.plainSave.seconds))} (${rate(med(c, run => run.plainSave.bytes / run.plainSave.seconds))})`,
      sec(med(c, saveRest))
    ]
  ]
  return [
    table(
      [
        '',
        'Ours: action + @actions/cache + service',
        'Transfer alone: curl, same service and entry',
        'Plain tar + zstd, same directory',
        'Rest of ours'
      ],
      rows
    ),
    '',
    'MB/s of cache directory for ours and plain, of archive for the transfer (MB = 2^20 bytes). @actions/cache downloads the whole ' +
      'archive to a file and then extracts it, and archives to a file and then uploads it, so its time is close to transfer plus ' +
      "plain tar + zstd; the last column is what is left: the client's and the action's own overhead. Plain is `zstd -d -c | tar -x` " +
      'and `tar -c | zstd -T0` on the same disk; the transfer is one `curl -o` of the entry and one `curl -T` of it to a fresh reservation.'
  ].join('\n')
}
