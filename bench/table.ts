// The detail tables of the report (phases, transfer, compression) and the
// formatting they share with the figures.
import type { CompressionResult } from './compression.js'
import type { Phases } from './jobs.js'
import type { Results } from './results.js'
import type { CycleRun } from './scenarios.js'
import { median } from './timing.js'

const MIB = 1024 * 1024

export function phaseTable(r: Results): string {
  const c = r.cycles
  const row = (name: string, pick: (run: CycleRun) => Phases & { cached?: number; steps?: number }): string[] => {
    const phases = c.map(pick)
    const m = (k: keyof Phases): string => median(phases.map(p => p[k])).toFixed(1)
    const first = phases[0]
    const cached = first.steps === undefined ? '' : `${first.cached}/${first.steps}`
    return [name, `**${m('total')}**`, m('restore'), m('build'), m('export'), m('save'), m('other'), cached]
  }
  const rows = [
    row('Cold build, empty cache (master)', run => run.cold),
    row('Warm exact hit, fresh runner (master)', run => run.exact),
    row('Warm fallback hit after a changed COPY source (master)', run => run.masterOurs),
    row('Pull request, base-branch hit', run => run.prOurs),
    row('Recipe: pull request', run => run.prRecipe),
    row('Recipe: master after the changed COPY source', run => run.masterRecipe),
    row('`cache-backend: local`: pull request', run => run.prLocal),
    row('`cache-backend: local`: master after the changed COPY source', run => run.masterLocal)
  ]
  return [
    table(['Job', 'Total (s)', 'Restore', 'Build', 'Cache export', 'Save', 'Other', 'Steps cached'], rows),
    '',
    'Ours: total is main + post as the runner runs them; restore is the `restore-time` output; build is the job summary\'s, less the ' +
      'cache export (buildx\'s "exporting cache to client directory"); save is the post step\'s "Cache saved ... in Y s"; other is ' +
      'the rest: Node start-up of both steps, builder checks, the key, moving the exported directory into place, clean-up. ' +
      'The recipe\'s other is its `rm -rf old; mv new old`.',
    '',
    `After the cold build: cache directory ${mib(med(c, run => run.cold.cacheBytes))}, saved entry (tar + zstd) ${mib(med(c, run => run.coldEntryBytes))}.`
  ].join('\n')
}

export function transferTable(r: Results): string {
  const c = r.cycles
  const restoreRest = (run: CycleRun): number => run.exact.restore - run.transport.downloadSeconds - run.plainRestore.seconds
  const saveRest = (run: CycleRun): number => run.cold.save - run.transport.uploadSeconds - run.plainSave.seconds
  const rows = [
    [
      'Restore (warm exact hit)',
      `${sec(med(c, run => run.exact.restore))} (${rate(med(c, run => run.exact.cacheBytes / run.exact.restore))})`,
      `${sec(med(c, run => run.transport.downloadSeconds))} (${rate(med(c, run => run.transport.bytes / run.transport.downloadSeconds))})`,
      `${sec(med(c, run => run.plainRestore.seconds))} (${rate(med(c, run => run.plainRestore.bytes / run.plainRestore.seconds))})`,
      sec(med(c, restoreRest))
    ],
    [
      'Save (cold build)',
      `${sec(med(c, run => run.cold.save))} (${rate(med(c, run => run.cold.cacheBytes / run.cold.save))})`,
      `${sec(med(c, run => run.transport.uploadSeconds))} (${rate(med(c, run => run.transport.bytes / run.transport.uploadSeconds))})`,
      `${sec(med(c, run => run.plainSave.seconds))} (${rate(med(c, run => run.plainSave.bytes / run.plainSave.seconds))})`,
      sec(med(c, saveRest))
    ]
  ]
  return [
    table(['', 'Ours: action + @actions/cache + service', 'Transfer alone: curl, same service and entry', 'Plain tar + zstd, same directory', 'Rest of ours'], rows),
    '',
    'MB/s of cache directory for ours and plain, of archive for the transfer (MB = 2^20 bytes). @actions/cache downloads the whole ' +
      'archive to a file and then extracts it, and archives to a file and then uploads it, so its time is close to transfer plus ' +
      'plain tar + zstd; the last column is what is left: the client\'s and the action\'s own overhead. Plain is `zstd -d -c | tar -x` ' +
      'and `tar -c | zstd -T0` on the same disk; the transfer is one `curl -o` of the entry and one `curl -T` of it to a fresh reservation.'
  ].join('\n')
}

export function compressionTable(results: CompressionResult[]): string {
  const size = (bytes: number): string => (bytes / MIB).toFixed(1)
  const rows = results.map(c => [
    `\`${c.compression}\`${c.compression === 'gzip' ? ' (default)' : ''}`,
    `**${median(c.warmSeconds).toFixed(1)}**`,
    c.warmSeconds.map(v => v.toFixed(1)).join(', '),
    size(c.entryBytes),
    size(c.cacheBytes),
    c.exportRun ? (c.exportRun.build + c.exportRun.export).toFixed(1) : '—'
  ])
  return [
    table(['Compression', 'Restore start → image ready (s)', 'Runs', 'Entry (MB)', 'Cache directory (MB)', 'First export build (s, one run)'], rows),
    '',
    'Each entry was exported by a master commit restoring the previous one (gzip, then zstd, then uncompressed; every layer ' +
      'checked to have the compression asked for); fresh runners then took exact hits on them in rotating order. "First export ' +
      'build" is that commit\'s build including the cache export, in which buildx recompresses every layer (`force-compression`); ' +
      'later exports only compress new layers.',
    '',
    compressionVerdict(results)
  ].join('\n')
}

// Within this margin two compressions count as even: the machine's noise is larger.
const EVEN = 0.03

function compressionVerdict(results: CompressionResult[]): string {
  const gzip = results.find(c => c.compression === 'gzip')
  if (!gzip) return ''
  const time = (c: CompressionResult): number => median(c.warmSeconds)
  const fastest = [...results].sort((a, b) => time(a) - time(b))[0]
  const smallest = [...results].sort((a, b) => a.entryBytes - b.entryBytes)[0]
  const saving = (base: number, best: number): number => (base - best) / base
  const judge = (best: CompressionResult, gain: number, what: string, better: string): { text: string; gzipHolds: boolean } => {
    if (best === gzip) return { text: `the default, gzip, gives the ${what}`, gzipHolds: true }
    const pct = `${(gain * 100).toFixed(0)} %`
    if (gain < EVEN) return { text: `\`${best.compression}\` and gzip are even on the ${what} (${pct} apart)`, gzipHolds: true }
    return { text: `\`${best.compression}\` gives the ${what}, ${pct} ${better} than the default gzip`, gzipHolds: false }
  }
  const onTime = judge(fastest, saving(time(gzip), time(fastest)), 'quickest warm hit', 'sooner')
  const onSize = judge(smallest, saving(gzip.entryBytes, smallest.entryBytes), 'smallest entry', 'smaller')
  const favoured =
    onTime.gzipHolds && onSize.gzipHolds
      ? 'the default, gzip'
      : [onTime, onSize].filter(j => !j.gzipHolds).length === 2 && fastest === smallest
        ? `\`${fastest.compression}\` over the default`
        : `\`${(onTime.gzipHolds ? smallest : fastest).compression}\` on ${onTime.gzipHolds ? 'size' : 'time'}, gzip on ${onTime.gzipHolds ? 'time' : 'size'}`
  return `On these figures ${onTime.text}; ${onSize.text}. They favour ${favoured}.`
}

export function med(c: CycleRun[], f: (run: CycleRun) => number): number {
  return median(c.map(f))
}

export function sec(seconds: number): string {
  return `${seconds.toFixed(1)} s`
}

export function rate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / MIB).toFixed(0)} MB/s`
}

export function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MB`
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}
