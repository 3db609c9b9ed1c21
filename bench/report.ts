// The report: Markdown, printed and written to docs/benchmarks.md. Every
// timing is a median; every ratio is the median of the ratios taken inside
// each run.
import { GITHUB_CREATES_PER_MINUTE } from '../__tests__/support/cache-service.js'
import { fairerComparisons, figureTable, missed, targets } from './figures.js'
import { med, mib, table } from './format.js'
import { alternativesProse, alternativesTable } from './report-alternatives.js'
import { COMPRESSION_METHOD, compressionTable } from './report-compression.js'
import { classicSection, ghaSection } from './report-gha.js'
import { fixedCostTable, limitsTable } from './report-limits.js'
import { multiStageTable } from './report-multistage.js'
import { phaseTable, transferTable } from './report-phases.js'
import type { Results } from './results.js'

export function renderReport(r: Results): string {
  const list = targets(r)
  const missedTargets = missed(list)
  const steadyExport = med(r.cycles, run => run.masterOurs.export)
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/) on ${r.machine.date.slice(0, 10)}; run it again rather than editing this file.` +
      (r.settings.quick
        ? ' **This is a quick smoke run (BENCH_QUICK=1) on the small fixture: the figures are not representative.**'
        : ''),
    `Timings are medians of ${r.settings.runs} run${r.settings.runs === 1 ? '' : 's'} (BENCH_RUNS); a ratio is the median of the ratios ` +
      'taken within each run, its two sides run back to back. The targets are for reference: benchmarks report, they never fail on slowness.',
    '',
    `The image is \`__fixtures__/${r.settings.fixture.name}\`: ${fixtureLine(r)}.`,
    '',
    '## Machine',
    '',
    machineTable(r),
    '',
    '## Targets',
    '',
    figureTable(list),
    '',
    missedTargets.size === 0
      ? 'Every target is met.'
      : `Missed: ${list
          .filter(f => missedTargets.has(f.id))
          .map(f => f.figure)
          .join('; ')}. Where the time goes is in the sections below.`,
    '',
    '### The same comparisons with the transport made equal',
    '',
    "The recipe keeps its tarball on the runner's own disk, which costs it nothing to move; ours goes through the cache service. " +
      "Fairer pairings: ours with `cache-backend: local` (a persisted directory, like the recipe's disk); the recipe charged " +
      "the bare transfer of its tarball to and from the same cache service (its measured time plus curl's download and upload of an " +
      "entry of the same size, measured in the same run: a lower bound, since no client is that fast), as the master run's target " +
      'above already is; and ours with `cache-backend: registry` on a registry on the same machine, whose transfer costs as little ' +
      "as the recipe's disk (on ghcr.io the layers cross the network).",
    '',
    figureTable(fairerComparisons(r)),
    '',
    '## The warm exact hit beside its limits',
    '',
    'What every pull request and every unchanged image pays. Each limit is measured in the same run, on the same content: BuildKit ' +
      "importing the cache directory our entry holds, already on disk; curl moving the entry; tar writing the image's files; Node starting.",
    '',
    limitsTable(r),
    '',
    '## Ours beside what users pick instead',
    '',
    alternativesTable(r),
    '',
    alternativesProse(r, missedTargets, list),
    '',
    "## BuildKit's own type=gha",
    '',
    ghaSection(r),
    '',
    '## The classic image store through a docker-container builder',
    '',
    classicSection(r),
    '',
    "## The action's fixed cost",
    '',
    fixedCostTable(r),
    '',
    '## Layer compression (`cache-compression`)',
    '',
    compressionTable(r.compression, {
      content: r.settings.fixture.debianPackages ? 'the toolchain image' : 'the small image (random bytes)',
      steadyExport
    }),
    '',
    ...(r.incompressible
      ? [
          `### The incompressible extreme: \`__fixtures__/${r.settings.incompressible?.name}\``,
          '',
          'Random bytes and already-compressed archives, where layer compression can only cost time. A smaller comparison ' +
            `(${r.incompressible[0]?.warmSeconds.length ?? 0} warm hit${r.incompressible[0]?.warmSeconds.length === 1 ? '' : 's'} each).`,
          '',
          compressionTable(r.incompressible, { content: 'random bytes' }),
          ''
        ]
      : []),
    COMPRESSION_METHOD,
    '',
    'Figures aside: an image pushed with `push: true` keeps the compression of the layers it takes from the cache, and Docker ' +
      'pulls zstd layers from version 23 on; where older engines pull the image, `gzip` is the choice ' +
      '([FAQ](faq.md#which-cache-compression)).',
    '',
    `## Multi-stage variant: \`${r.settings.multiStage.dockerfile}\``,
    '',
    multiStageTable(r.multiStage),
    '',
    '## Step time by phase',
    '',
    phaseTable(r),
    '',
    '## Where the restore and save time goes',
    '',
    transferTable(r),
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

function fixtureLine(r: Results): string {
  const f = r.settings.fixture
  if (!f.debianPackages) return 'random bytes, a smoke-test stand-in for an image'
  return (
    'a C/C++ toolchain (gcc 12, binutils), LLVM 15 and Perl from real Debian packages, fetched with `apt-get download` and ' +
    `unpacked at bench time (cache directory ${mib(med(r.cycles, run => run.exact.cacheBytes))}, image files ` +
    `${mib(med(r.cycles, run => run.imageFiles.bytes))})`
  )
}

function machineTable(r: Results): string {
  const m = r.machine
  const rows: Array<[string, string]> = [
    ['Date', m.date],
    ['CPU', `${m.cpu}, ${m.cores} cores`],
    ['Memory', `${m.memoryGiB.toFixed(1)} GiB`],
    ['OS, kernel', `${m.os}, ${m.kernel}`],
    [
      'Engine',
      `Docker Engine ${m.engine}, buildx ${m.buildx}: one dockerd with the containerd image store, one with the classic store (its docker-container builders run moby/buildkit:buildx-stable-1)`
    ],
    ['Node', m.node],
    ['tar, zstd', `${m.tar}; ${m.zstd}`],
    [
      'Action bundle',
      `${m.bundle}: main ${mib(m.bundleBytes.main)}, post ${mib(m.bundleBytes.post)}${m.bundleBytes.cacheClient ? `, cache client ${mib(m.bundleBytes.cacheClient)}` : ''}`
    ],
    ['Load average (1 min)', `${m.load.start.toFixed(1)} at the start, ${m.load.end?.toFixed(1) ?? '?'} at the end`],
    [
      'Fixtures',
      [r.settings.fixture, r.settings.multiStage, r.settings.incompressible]
        .filter(f => f !== undefined)
        .map(f => `\`__fixtures__/${f.name}/${f.dockerfile}\``)
        .join(', ')
    ],
    ['Bench wall time', `${r.minutes.toFixed(1)} min`]
  ]
  return table(['', ''], rows)
}

function method(r: Results): string {
  const f = r.settings.fixture
  return [
    `- Fixture \`__fixtures__/${f.name}\`, image \`${f.image}\`; a "changed COPY source" edits \`${f.changeFile}\`, which only the last two steps depend on.` +
      (f.debianPackages
        ? ' Its packages (`packages.txt`) are downloaded once into `.bench-work/debs` and kept; some are unpacked into the context for COPY, ' +
          'others are installed by RUN steps from .deb files, as apt-get would. The key hashes `packages.lock` (the exact .deb files), the ' +
          'scripts and the configuration through `hash-files`, as the key of an image that installs with apt-get hashes the Dockerfile that ' +
          'names its packages, not the packages. Its cold build unpacks packages rather than compiling them, so it is short, and a ' +
          'warm hit is a larger share of it than on an image that compiles its toolchain.'
        : ''),
    `- Each job runs the bundled action (main, then post) with \`__tests__/support/run-action.ts\` on a fresh runner: the engine's build cache pruned, every image removed, pending writes flushed, an empty RUNNER_TEMP. The cache service is \`__tests__/support/cache-service.ts\` on loopback, its blobs on the same disk, driven by the real @actions/cache client from the action's process. It takes at most ${GITHUB_CREATES_PER_MINUTE} new entries a minute, as GitHub's does (429 past them).`,
    "- The first run starts with a cold build, made with the bundle's default `cache-compression`; each later run starts from the entry the previous run's master commit saved. In each run, the recipe, the local backend and the bare import start from the same directory that entry holds, so all sides start from the same cache (and the same layer compression).",
    "- The pull request restores master's entry through the base-branch fallback and builds with every step cached; ours imports only, the recipe also exports and saves, as it does on every event.",
    `- docker save / load: after the cold build, \`docker save | zstd -T0\` of the image, saved with @actions/cache; each of its jobs restores that with @actions/cache (\`bench/cache-step.ts\`, a process of its own as an actions/cache step), \`zstd -d | docker load\`, then a plain \`docker buildx build --load\`. It runs in the first run only, for the pull request: it rebuilds every step, so more samples would say nothing new, and its master run after a change is the same run plus the save it made after the cold build. BuildKit cannot take a loaded image as its cache with the docker driver: \`--cache-from IMAGE\` looks the name up in a registry (checked on this engine).`,
    "- The registry backend: the open distribution registry `scripts/engine-up.sh` starts in the engine's network namespace, a repository new to each benchmark run. Its first entry is pushed by the action's own master job right after the cold build, on the same engine (every step cached, so the job only exports); each run's master commit pushes the entry the next run starts from. Its jobs run in that namespace, as a runner's steps share its engine's network.",
    "- BuildKit's own type=gha: a plain `docker buildx build` on the containerd-store engine's docker driver, on a fresh runner, with the runner's three cache variables and the token GitHub gives the event (a push: read and write on `refs/heads/master`; a pull request: read and write on `refs/pull/7/merge`, read on master). Its cold build runs in the first run, in a turn with ours'; then the same exact hit, pull request and late change as ours, in the same turns, and a late change beside each of ours in the growth sequence, so that both sides have saved as often when what the service holds is read. BuildKit reaches the service from inside the engine: the service listens in the engine's network namespace.",
    "- The classic store: ours on the engine's classic-store dockerd, under the key prefix `classic`, its cold build beside the others in the first run, then a pull request and a late change in each run, in the same turns as ours on the containerd store; the builder the action creates is removed by its own post step, and a fresh runner there also has no builder container left.",
    "- The limits: the bare import is `docker buildx build --cache-from type=local,src=DIR --load` on a fresh runner, DIR the cache directory of the entry the run starts from, on disk; the image's files are `docker export` of a container made from the image, extracted with `tar -x` from the page cache; Node is `node -e 0` with the Node the steps run on, median of five.",
    "- The local service's URLs are not `*.blob.core.windows.net`, so @actions/cache downloads with one plain GET here; on GitHub it uses the Azure SDK's parallel ranged downloads. Uploads take the same path (Azure SDK block upload) in both places. GitHub's service has been measured elsewhere at about 90-120 MB/s.",
    `- Growth: the chain of master builds the runs made (the cold build, then one commit per run that changes \`${f.changeFile}\`), continued with more such commits, each on a fresh runner; sizes are the archives the service stores.`,
    "- Key resolution is measured in process with the action's own `parseInputs`, `imageHash` and `keyPlan` (from src/, as the tree stands) on a generated context that the Dockerfile copies whole (`COPY . /app/`); its files are in the page cache, as after a checkout.",
    '- The machine may be shared: the load average above says how busy it was.'
  ].join('\n')
}

function running(r: Results): string {
  return [
    `\`npm run bench\` (${r.minutes < 1.5 ? 'about a minute' : `${r.minutes.toFixed(0)} minutes`} for this report). \`BENCH_RUNS=n\` changes the repetitions (default 3); ` +
      '`BENCH_QUICK=1` is a smoke run of a few minutes on the small fixture, written to `.bench-work/benchmarks-quick.md` rather than here; ' +
      '`BENCH_OUTPUT=file` writes elsewhere; `ACTION_DIST=dir` measures another bundle than `dist/` (a frozen copy, say, while dist/ is being rebuilt). ' +
      'The raw figures go to `.bench-work/results.json`; `npm run bench:report` writes the report again from them, measuring nothing.',
    '',
    'The benchmarks build on an engine of their own (`/opt/engine-bench`, network namespace `engine-bench`), which `npm run bench` ' +
      'brings up with `scripts/engine-up.sh` and runs the benchmarks beside through `scripts/in-engine.sh`, in its network namespace: ' +
      "BuildKit inside the engine reaches the cache service the benchmarks start only there. Every job prunes the engine's build " +
      'cache and removes its images to stand for a fresh runner, which must never happen to an engine the tests are using: the ' +
      "benchmarks refuse the tests' roots (`/opt/engine-forky`, `/opt/engine-trixie`). That namespace has no route out, so " +
      "`npm run bench` first fetches the fixtures' Debian packages outside it (`npm run bench:packages`, a no-op once they are in " +
      '`.bench-work/debs`).'
  ].join('\n')
}
