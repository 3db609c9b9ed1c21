// The report: Markdown, printed and written to docs/benchmarks.md. Every
// timing is a median; every ratio is the median of the ratios taken inside
// each run.
import { fairerComparisons, figureTable, targets } from './figures.js'
import type { Results } from './results.js'
import { compressionTable, phaseTable, table, transferTable } from './table.js'

export function renderReport(r: Results): string {
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/) on ${r.machine.date.slice(0, 10)}; run it again rather than editing this file.` +
      (r.settings.quick ? ' **This is a quick smoke run (BENCH_QUICK=1) on the small fixture: the figures are not representative.**' : ''),
    `Timings are medians of ${r.settings.runs} run${r.settings.runs === 1 ? '' : 's'} (BENCH_RUNS); a ratio is the median of the ratios ` +
      'taken within each run, its two sides run back to back. The targets are for reference: benchmarks report, they never fail on slowness.',
    '',
    '## Machine',
    '',
    machineTable(r),
    '',
    '## Targets',
    '',
    figureTable(targets(r)),
    '',
    '### The same comparisons with the transport made equal',
    '',
    'The recipe above keeps its tarball on the runner\'s own disk, which costs it nothing to move; ours goes through the cache service. ' +
      'Two fairer pairings: ours with `cache-backend: local` (a persisted directory, like the recipe\'s disk), and the recipe charged ' +
      'the bare transfer of its tarball to and from the same cache service (its measured time plus curl\'s download and upload of an ' +
      'entry of the same size, measured in the same run: a lower bound, since no client is that fast).',
    '',
    figureTable(fairerComparisons(r)),
    '',
    '## Step time by phase',
    '',
    phaseTable(r),
    '',
    '## Where the restore and save time goes',
    '',
    transferTable(r),
    '',
    '## Layer compression (`cache-compression`)',
    '',
    compressionTable(r.compression),
    '',
    '## Method',
    '',
    method(r),
    '',
    '## Running',
    '',
    running(r),
    ''
  ].join('\n')
}

function machineTable(r: Results): string {
  const m = r.machine
  const rows: Array<[string, string]> = [
    ['Date', m.date],
    ['CPU', `${m.cpu}, ${m.cores} cores`],
    ['Memory', `${m.memoryGiB.toFixed(1)} GiB`],
    ['OS, kernel', `${m.os}, ${m.kernel}`],
    ['Engine', `Docker Engine ${m.engine} (containerd image store), buildx ${m.buildx}`],
    ['Node', m.node],
    ['tar, zstd', `${m.tar}; ${m.zstd}`],
    ['Action bundle', m.bundle],
    ['Load average (1 min)', `${m.load.start.toFixed(1)} at the start, ${m.load.end?.toFixed(1) ?? '?'} at the end`],
    ['Fixture', `\`__fixtures__/${r.settings.fixture.name}\``],
    ['Bench wall time', `${r.minutes.toFixed(1)} min`]
  ]
  return table(['', ''], rows)
}

function method(r: Results): string {
  const f = r.settings.fixture
  return [
    `- Fixture \`__fixtures__/${f.name}\`, image \`${f.image}\`; a "changed COPY source" edits \`${f.changeFile}\`, which only the last two steps depend on.`,
    '- Each job runs the bundled action (main, then post) with `__tests__/support/run-action.ts` on a fresh runner: the engine\'s build cache pruned and the image removed, an empty RUNNER_TEMP. The cache service is `__tests__/support/cache-service.ts` on loopback, its blobs on the same disk, driven by the real @actions/cache client from the action\'s process.',
    '- Each run starts from a cold build under its own key prefix. The recipe and the local backend start from the same directory the cold build saved, so all sides start from the same cache.',
    '- The pull request restores master\'s entry through the base-branch fallback and builds with every step cached; ours imports only, the recipe also exports and saves, as it does on every event.',
    '- The local service\'s URLs are not `*.blob.core.windows.net`, so @actions/cache downloads with one plain GET here; on GitHub it uses the Azure SDK\'s parallel ranged downloads. Uploads take the same path (Azure SDK block upload) in both places. GitHub\'s service has been measured elsewhere at about 90-120 MB/s.',
    `- Growth: the first run's chain of master builds (the cold build, then one commit per build that changes \`${f.changeFile}\`), each on a fresh runner; sizes are the archives the service stores.`,
    '- Key resolution is measured in process with the action\'s own `parseInputs`, `imageHash` and `keyPlan` (from src/, as the tree stands) on a generated context that the Dockerfile copies whole (`COPY . /app/`); its files are in the page cache, as after a checkout.',
    '- The machine may be shared: the load average above says how busy it was.'
  ].join('\n')
}

function running(r: Results): string {
  return [
    `\`npm run bench\` (${r.minutes < 1.5 ? 'about a minute' : `${r.minutes.toFixed(0)} minutes`} for this report). \`BENCH_RUNS=n\` changes the repetitions (default 3); ` +
      '`BENCH_QUICK=1` is a smoke run of about a minute on the small fixture, written to `.bench-work/benchmarks-quick.md` rather than here; ' +
      '`BENCH_OUTPUT=file` writes elsewhere; `ACTION_DIST=dir` measures another bundle than `dist/` (a frozen copy, say, while dist/ is being rebuilt).',
    '',
    'The benchmarks build on an engine of their own (`/opt/engine-bench`, network namespace `bench`; `BENCH_ENGINE_ROOT` and ' +
      '`BENCH_ENGINE_NETNS` change them), started with `scripts/engine-up.sh` when it does not answer: every job prunes the ' +
      'engine\'s build cache to stand for a fresh runner, which must not happen to an engine the tests are using.'
  ].join('\n')
}
