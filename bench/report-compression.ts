// The layer compression tables (`cache-compression`) and what they say: which
// choice gives the quickest warm hit and the smallest entry, when another one
// would be better, and what switching costs once.
import type { CompressionResult } from './compression.js'
import { mib, pct, sec, table } from './format.js'
import { median } from './timing.js'

export interface CompressionContext {
  /** What the entries hold, for the prose: "the toolchain image". */
  content: string
  /** The cache export of a master build that changes one late step: what a save costs when no switch recompresses. */
  steadyExport?: number
}

export function compressionTable(results: CompressionResult[], context: CompressionContext): string {
  const rows = results.map(c => [
    `\`${c.compression}\`${c.isDefault ? ' (default)' : ''}`,
    `**${median(c.warmSeconds).toFixed(1)}**`,
    c.warmSeconds.map(v => v.toFixed(1)).join(', '),
    median(c.warmTotals).toFixed(1),
    (c.entryBytes / 1024 ** 2).toFixed(1),
    (c.cacheBytes / 1024 ** 2).toFixed(1),
    `${c.exportRun.export.toFixed(1)} (from \`${c.exportedFrom}\`)`
  ])
  return [
    table(
      [
        'Compression',
        'Restore start → image ready (s)',
        'Runs',
        'Whole job (s)',
        'Entry (MB)',
        'Cache directory (MB)',
        'First cache export after switching (s, one run)'
      ],
      rows
    ),
    '',
    compressionVerdict(results, context)
  ].join('\n')
}

export const COMPRESSION_METHOD =
  "The default's entry is the chain's own; master commits then exported the other two and the default again, each restoring " +
  'the previous entry (every layer checked to have the compression asked for); fresh runners then took exact hits on the three ' +
  'in rotating order. "First cache export after switching" is the "exporting cache to client directory" of the commit that ' +
  'switched to that compression, in which buildx recompresses every layer (`force-compression`); later exports only compress ' +
  "new layers. The entry is @actions/cache's tar + zstd of the cache directory, so uncompressed " +
  'layers are compressed there instead.'

// Within this margin two compressions count as even: the machine's noise is larger.
const EVEN = 0.03

function compressionVerdict(results: CompressionResult[], context: CompressionContext): string {
  const time = (c: CompressionResult): number => median(c.warmSeconds)
  const byTime = [...results].sort((a, b) => time(a) - time(b))
  const bySize = [...results].sort((a, b) => a.entryBytes - b.entryBytes)
  const fastest = byTime[0]
  const smallest = bySize[0]
  const current = results.find(c => c.isDefault)
  const sentences: string[] = []

  const others = byTime
    .slice(1)
    .map(c => `${pct((time(c) - time(fastest)) / time(c))} sooner than \`${c.compression}\` (${sec(time(c))})`)
  sentences.push(
    `On ${context.content}, \`${fastest.compression}\` gives the quickest warm exact hit, ${sec(time(fastest))}: ${others.join(', ')}.`
  )
  const largest = bySize[bySize.length - 1]
  const nearSmallest = bySize.filter(c => (c.entryBytes - smallest.entryBytes) / smallest.entryBytes < EVEN)
  const sizes = (list: CompressionResult[]): string =>
    list.map(c => `\`${c.compression}\` ${mib(c.entryBytes)}`).join(', ')
  sentences.push(
    (largest.entryBytes - smallest.entryBytes) / largest.entryBytes < EVEN
      ? `The entries are within ${pct(EVEN)} of each other in size (${sizes(results)}).`
      : `The smallest entr${nearSmallest.length > 1 ? 'ies' : 'y'}: ${sizes(nearSmallest)}; ${sizes(bySize.filter(c => !nearSmallest.includes(c)))}.`
  )
  if (current) {
    const behind = (time(current) - time(fastest)) / time(current)
    sentences.push(
      current === fastest || behind < EVEN
        ? `The default, \`${current.compression}\`, ${current === fastest ? 'is the quickest' : 'is even with the quickest'} on these figures.`
        : `These figures favour \`${fastest.compression}\` over the default, \`${current.compression}\`, by ${pct(behind)} of every warm hit.`
    )
  }
  const steady =
    context.steadyExport === undefined
      ? ''
      : `, against ${sec(context.steadyExport)} for the export of a master build that changes one late step`
  const switches = [...results].sort((a, b) => Number(a.isDefault) - Number(b.isDefault))
  sentences.push(
    'Switching costs once: the first save after the switch recompresses every layer, and its cache export took ' +
      switches.map(c => `${sec(c.exportRun.export)} from \`${c.exportedFrom}\` to \`${c.compression}\``).join(', ') +
      `${steady}.`
  )
  return sentences.join(' ')
}
