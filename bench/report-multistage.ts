// The multi-stage variant's table: the warm exact hit beside BuildKit's bare
// import and the transfer, the pull request beside the recipe, and how much
// of the cache the image itself needs.
import { mib, sec, table, times } from './format.js'
import type { MultiStageRun } from './multistage.js'
import { median } from './timing.js'

export function multiStageTable(m: MultiStageRun): string {
  const down = m.transport.downloadSeconds
  const each = <T>(list: T[], f: (x: T, i: number) => number): number[] => list.map(f)
  const row = (name: string, samples: number[], show: (v: number) => string, detail = ''): string[] => [
    name,
    `**${show(median(samples))}**`,
    samples.map(show).join(', '),
    detail
  ]
  const s = (v: number): string => v.toFixed(1)
  return [
    table(
      ['', 'Median', 'Runs', ''],
      [
        row('Cold build, ours (s)', [m.cold.total], s, `${m.cold.cached}/${m.cold.steps} steps cached`),
        row(
          'Warm exact hit, ours (s)',
          each(m.exact, r => r.total),
          s,
          `${m.exact[0]?.cached}/${m.exact[0]?.steps} steps cached`
        ),
        row(
          'BuildKit alone: bare import of the same directory (s)',
          each(m.bareImport, r => r.seconds),
          s
        ),
        row(
          'Warm exact hit, ours / (bare import + transfer)',
          each(m.exact, (r, i) => r.total / (m.bareImport[i].seconds + down)),
          times,
          `transfer ${sec(down)}`
        ),
        row(
          'Pull request, ours (s)',
          each(m.prOurs, r => r.total),
          s
        ),
        row(
          'Pull request, the recipe (s)',
          each(m.prRecipe, r => r.total),
          s
        ),
        row(
          "of which the recipe's cache export (s)",
          each(m.prRecipe, r => r.export),
          s
        ),
        row(
          'Pull request, ours / recipe',
          each(m.prOurs, (r, i) => r.total / m.prRecipe[i].total),
          times
        )
      ]
    ),
    '',
    `The cache directory holds both stages, ${mib(m.cacheBytes)} (entry ${mib(m.entryBytes)}); the image's files are ` +
      `${mib(m.imageFiles.bytes)}. Every warm hit downloads and extracts the whole entry, builder stage included, while BuildKit ` +
      "unpacks only the final stage's layers: the builder stage costs the transfer and the extraction, not the import. " +
      "Exporting the cache is another matter: to write the builder stage's layers into the new cache, BuildKit unpacks them " +
      `first, so the recipe, which exports on every run, spent ${sec(median(m.prRecipe.map(r => r.export)))} of its pull request ` +
      'on it. Ours exports only on the runs that save, and pays the same there.'
  ].join('\n')
}
