// Ours beside BuildKit's own type=gha, the same commits in the same turns
// through the same cache service: the figures the issue "Faster than
// BuildKit's own type=gha" sets targets for, what each side moved, and where
// each side's time goes.
import type { CycleRun } from './cycle.js'
import { figureTable, type Figure } from './figures.js'
import { med, mib, moreOrLess, sec, size, table, times } from './format.js'
import type { GhaRun, StoredBytes } from './gha.js'
import type { ActionRun } from './jobs.js'
import type { Results } from './results.js'

interface Pair {
  id: string
  name: string
  ours: (run: CycleRun) => ActionRun | undefined
  theirs: (run: CycleRun) => GhaRun | undefined
  target: number
}

const PAIRS: Pair[] = [
  {
    id: 'gha-cold',
    name: 'Cold default-branch build, saves',
    ours: run => run.cold,
    theirs: run => run.gha.cold,
    target: 1
  },
  { id: 'gha-exact', name: 'Warm exact hit', ours: run => run.exact, theirs: run => run.gha.exact, target: 0.8 },
  {
    id: 'gha-pr',
    name: 'Pull request, nothing changed',
    ours: run => run.prOurs,
    theirs: run => run.gha.pr,
    target: 0.8
  },
  {
    id: 'gha-master',
    name: 'Default branch after a changed late COPY source, saves',
    ours: run => run.masterOurs,
    theirs: run => run.gha.master,
    target: 0.8
  }
]

/** The same jobs on the classic store: ours saving through the builder it creates, type=gha through one made for it. */
const CLASSIC_PAIRS: Pair[] = [
  {
    id: 'gha-classic-cold',
    name: 'Classic store: cold default-branch build, saves',
    ours: run => run.classic.cold,
    theirs: run => run.ghaClassic?.cold,
    target: 1
  },
  {
    id: 'gha-classic-pr',
    name: 'Classic store: pull request, nothing changed',
    ours: run => run.classic.pr,
    theirs: run => run.ghaClassic?.pr,
    target: 0.8
  },
  {
    id: 'gha-classic-master',
    name: 'Classic store: default branch after a changed late COPY source, saves',
    ours: run => run.classic.master,
    theirs: run => run.ghaClassic?.master,
    target: 0.8
  }
]

/** How many saves the stored-bytes figure is taken after: the four, or fewer in a run that made fewer. */
export const STORED_AFTER = 4

function both(c: CycleRun[], pair: Pair): Array<{ ours: ActionRun; theirs: GhaRun }> {
  return c.flatMap(run => {
    const ours = pair.ours(run)
    const theirs = pair.theirs(run)
    return ours && theirs ? [{ ours, theirs }] : []
  })
}

/** What the service held after the n-th save of each side (1-based), or the last one there is. */
export function storedAfter(r: Results): { saves: number; bytes: StoredBytes } | undefined {
  const stored = r.growth.stored
  if (!stored || stored.length === 0) return undefined
  const saves = Math.min(STORED_AFTER, stored.length)
  return { saves, bytes: stored[saves - 1] }
}

function timedFigures(r: Results, pairs: Pair[]): Figure[] {
  return pairs.flatMap(pair => {
    const runs = both(r.cycles, pair)
    if (runs.length === 0) return []
    return {
      id: pair.id,
      figure: `${pair.name}, ours / type=gha`,
      samples: runs.map(x => x.ours.total / x.theirs.total),
      show: times,
      detail: `${sec(med(runs, x => x.ours.total))} vs ${sec(med(runs, x => x.theirs.total))}`,
      target: `≤ ${pair.target.toFixed(1)}×`,
      met: (v: number) => v <= pair.target
    }
  })
}

export function ghaFigures(r: Results): Figure[] {
  const timed = timedFigures(r, PAIRS)
  const changed = r.cycles.map(run => ({ ours: run.masterOurs.moved.up, theirs: run.gha.master.moved.up }))
  const stored = storedAfter(r)
  return [
    ...timed,
    {
      id: 'gha-uploaded',
      figure: 'Bytes uploaded by the default-branch run after a late change, ours / type=gha',
      samples: changed.map(x => x.ours / x.theirs),
      show: times,
      detail: `${size(med(changed, x => x.ours))} vs ${size(med(changed, x => x.theirs))}`,
      target: '≤ 1.2×',
      met: v => v <= 1.2
    },
    ...(stored
      ? [
          {
            id: 'gha-stored',
            figure: `Stored in the service after ${stored.saves} default-branch saves, ours / type=gha`,
            samples: [stored.bytes.ours / stored.bytes.theirs],
            show: times,
            detail: `${mib(stored.bytes.ours)} vs ${mib(stored.bytes.theirs)} (one sequence)`,
            target: '≤ 1.0×',
            met: (v: number) => v <= 1
          }
        ]
      : [])
  ]
}

const JOB_COLUMNS = [
  'Job',
  'Total (s)',
  'Restore',
  'Build',
  'Image into the engine',
  'Cache export',
  'Save',
  'Other',
  'Steps cached',
  'Uploaded',
  'Downloaded',
  'Ours / type=gha',
  'Runs'
]

function pairRows(c: CycleRun[], pairs: Pair[]): string[][] {
  return pairs.flatMap(pair => {
    const runs = both(c, pair)
    if (runs.length === 0) return []
    const o = (f: (x: ActionRun) => number): string => med(runs, x => f(x.ours)).toFixed(1)
    const t = (f: (x: GhaRun) => number): string => med(runs, x => f(x.theirs)).toFixed(1)
    const first = runs[0]
    return [
      [
        `${pair.name}: **ours**`,
        `**${o(x => x.total)}**`,
        o(x => x.restore),
        o(x => x.build - x.imageExport),
        o(x => x.imageExport),
        o(x => x.export),
        o(x => x.save),
        o(x => x.other),
        `${first.ours.cached}/${first.ours.steps}`,
        size(med(runs, x => x.ours.moved.up)),
        size(med(runs, x => x.ours.moved.down)),
        '',
        String(runs.length)
      ],
      [
        `${pair.name}: type=gha`,
        `**${t(x => x.total)}**`,
        '',
        t(x => x.build - x.imageExport),
        t(x => x.imageExport),
        t(x => x.export),
        '',
        '',
        `${first.theirs.cached}/${first.theirs.steps}`,
        size(med(runs, x => x.theirs.moved.up)),
        size(med(runs, x => x.theirs.moved.down)),
        times(med(runs, x => x.ours.total / x.theirs.total)),
        String(runs.length)
      ]
    ]
  })
}

export function ghaSection(r: Results): string {
  const c = r.cycles
  const rows = pairRows(c, PAIRS)
  const stored = storedAfter(r)
  const pr = c.map(run => run.gha.pr.written)
  return [
    "Ours with its defaults beside BuildKit's own GitHub Actions cache written the way docker/build-push-action users write it: " +
      `\`docker buildx build --cache-from type=gha,scope=${r.settings.fixture.image} --cache-to type=gha,scope=${r.settings.fixture.image},mode=max --load\`, ` +
      'on every event, with only the variables the runner gives a job (`ACTIONS_CACHE_SERVICE_V2`, `ACTIONS_RESULTS_URL`, ' +
      '`ACTIONS_RUNTIME_TOKEN`, which buildx passes on to BuildKit as `url_v2` and `token`). Same commits, same fresh runner before ' +
      'each job, same cache service, run back to back in the same turns, on the containerd image store. The targets are those of ' +
      'the issue "Faster than BuildKit\'s own type=gha"; these rows are its baseline. ' +
      `The machine's load average went from ${r.machine.load.start.toFixed(1)} to ${r.machine.load.end?.toFixed(1) ?? '?'} (others ` +
      'share it): absolute times stretch with it, the ratios, taken within each turn, much less.',
    '',
    figureTable(ghaFigures(r)),
    '',
    table(JOB_COLUMNS, rows),
    '',
    'Build leaves out the image export ("exporting to image": the layers into the containerd store) and the cache export, which have ' +
      "columns of their own. type=gha's import happens inside its build (BuildKit fetches the index, then the layers it needs), and its " +
      'cache export is its save: layer by layer, each blob the service does not hold yet, then a new generation of the index. ' +
      'Uploaded and downloaded: ours, the pack and index entry its post step saved and what its main step and the builder read ' +
      "(the index entry, then the blobs, by ranged reads of the packs); type=gha's, the " +
      'bodies of every request it sent the service and of every answer (blobs and twirp calls), as the service counts them.',
    '',
    stored
      ? `**Stored.** After ${stored.saves} default-branch saves (the cold build, then one late change each), the service held ` +
        `${mib(stored.bytes.ours)} of ours (the cold build's pack, a small pack of new blobs per change, and an index entry per ` +
        `save) and ${mib(stored.bytes.theirs)} of type=gha's in the default ` +
        `branch's scope (one entry per layer, shared across saves, plus an index generation per run), and ` +
        `${size(stored.bytes.theirsPullRequests)} more that its pull requests wrote into their own scopes. ` +
        'With `delete-superseded` and a token allowed to delete caches, ours also deletes the index entries a save supersedes and ' +
        'the packs no index names any more (not exercised here: the local service has no REST API); without, they age out as ' +
        'the service evicts entries unused for a week.'
      : '',
    '',
    `**Pull requests.** Ours never writes from a pull request. type=gha writes ${pr[0]?.entries ?? 0} entr${pr[0]?.entries === 1 ? 'y' : 'ies'} ` +
      `(${size(med(pr, w => w.bytes))}) into the pull request's own scope (\`refs/pull/N/merge\`) on every run, its index; it reads the ` +
      "default branch's, since the token GitHub gives a pull request also reads the base branch's scope, and `scope=IMAGE` names " +
      'the same index there. On an exact hit it writes a new generation of that index too, though nothing changed.',
    '',
    ghaProse(r),
    '',
    "**What BuildKit's type=gha needed from the tests' cache service** (Docker 28.5, buildx 0.29.1, its BuildKit): a runtime token " +
      'with an `nbf` claim (without one: "invalid token without expiration time"); an `x-ms-request-id` header on every upload ' +
      'answer, which Azure Blob always sends (without it dockerd dies of a nil pointer in go-actions-cache at the first upload); ' +
      'prefix lookups, for the index generations (`index-…#N`). The service gives all three. buildx 0.29.1 does fill `url_v2` ' +
      "and `token` from the runner's variables."
  ].join('\n')
}

function ghaProse(r: Results): string {
  const c = r.cycles
  const master = (run: CycleRun): ActionRun => run.masterOurs
  const theirs = (run: CycleRun): GhaRun => run.gha.master
  const oursSaving = med(c, run => master(run).export + master(run).save)
  const exact = med(c, run => run.exact.restore + run.exact.build)
  return (
    `**Where the time goes.** After a late change ours spent ${sec(oursSaving)} on its cache export and save ` +
    `(${sec(med(c, run => master(run).export))} exporting, in which BuildKit asks the loopback server that served it the entry ` +
    `which blobs it holds and pushes the others, ${sec(med(c, run => master(run).save))} saving the new pack and the index ` +
    `entry, ${size(med(c, run => master(run).moved.up))} uploaded), type=gha ${sec(med(c, run => theirs(run).export))} ` +
    `on its export, which uploaded ${size(med(c, run => theirs(run).moved.up))}: the two rebuilt layers and a new index. ` +
    `Both read the whole cache during the build (ours ${mib(med(c, run => master(run).moved.down))}, type=gha ` +
    `${mib(med(c, run => theirs(run).moved.down))}). On the exact hit ours took ${sec(exact)} to restore and build ` +
    `(${sec(med(c, run => run.exact.restore))} of it the restore), type=gha ${sec(med(c, run => run.gha.exact.build))} to ` +
    `build, ${sec(med(c, run => run.gha.exact.imageExport))} of it in "exporting to image", where BuildKit fetches the layers ` +
    'it imported lazily; both moved about the same bytes down ' +
    `(${mib(med(c, run => run.exact.moved.down))} against ${mib(med(c, run => run.gha.exact.moved.down))}).`
  )
}

/** Ours on both image stores: the classic one saves through the docker-container builder the action creates. */
export function classicSection(r: Results): string {
  const c = r.cycles
  const jobs: Array<[string, (run: CycleRun) => ActionRun | undefined, (run: CycleRun) => ActionRun | undefined]> = [
    ['Cold default-branch build, saves', run => run.cold, run => run.classic.cold],
    ['Pull request, nothing changed (imports only)', run => run.prOurs, run => run.classic.pr],
    ['Default branch after a changed late COPY source, saves', run => run.masterOurs, run => run.classic.master]
  ]
  const rows = jobs.flatMap(([name, containerd, classic]) => {
    const runs = c.flatMap(run => {
      const a = containerd(run)
      const b = classic(run)
      return a && b ? [{ a, b }] : []
    })
    if (runs.length === 0) return []
    const line = (label: string, pick: (x: { a: ActionRun; b: ActionRun }) => ActionRun, ratio: string): string[] => {
      const m = (f: (x: ActionRun) => number): string => med(runs, x => f(pick(x))).toFixed(1)
      const first = pick(runs[0])
      return [
        `${name}: ${label}`,
        `**${m(x => x.total)}**`,
        m(x => x.restore),
        m(x => x.bootstrap),
        m(x => x.build - x.imageExport),
        m(x => x.imageExport),
        m(x => x.export),
        m(x => x.save),
        m(mainOther),
        m(postOther),
        `${first.cached}/${first.steps}`,
        ratio,
        String(runs.length)
      ]
    }
    return [
      line('containerd store, docker driver', x => x.a, ''),
      line('classic store', x => x.b, times(med(runs, x => x.b.total / x.a.total)))
    ]
  })
  return [
    "Ours on the engine's second dockerd, which keeps the classic image store as GitHub's ubuntu-24.04 runners do: its docker " +
      'driver imports a local cache but cannot export one, so every run that saves creates a docker-container builder ' +
      '(`moby/buildkit:buildx-stable-1`, on the host network), builds there, loads the image into the engine as a tarball ' +
      '(`--load`), and removes the builder in the post step; a pull request imports with the docker driver. The same commits in ' +
      'the same turns as ours on the containerd store, under a key prefix of its own.',
    '',
    table(
      [
        'Job',
        'Total (s)',
        'Restore',
        'Builder bootstrap',
        'Build',
        'Image into the engine',
        'Cache export',
        'Save',
        'Other, main step',
        'Other, post step',
        'Steps cached',
        'Classic / containerd',
        'Runs'
      ],
      rows
    ),
    '',
    'Builder bootstrap is buildx\'s "[internal] booting buildkit" while the action creates the builder (before the build\'s clock ' +
      'starts); image into the engine is "exporting to image" on the docker driver (layers unpacked into the containerd store) and ' +
      '"exporting to docker image format" then "importing to docker" on the docker-container builder (the image sent as a tarball, then loaded by the engine); build is ' +
      "the job summary's build less the image export and the cache export; other is the rest of each step's wall time: in the main " +
      'step Node start-up, the key, the builder checks and `buildx create` around its bootstrap; in the post step Node start-up, ' +
      'the clean-up and the removal of the builder.',
    '',
    classicProse(r),
    ...classicBesideGha(r)
  ].join('\n')
}

function classicBesideGha(r: Results): string[] {
  const rows = pairRows(r.cycles, CLASSIC_PAIRS)
  if (rows.length === 0) return []
  return [
    '',
    '### The classic store beside type=gha there',
    '',
    "type=gha cannot be exported by the classic store's docker driver either: its users build through the docker-container " +
      'builder docker/setup-buildx-action makes. Here each type=gha job creates one the same way (`docker buildx create --driver ' +
      'docker-container --driver-opt network=host --bootstrap`, the same BuildKit image), builds with `--load`, and removes it; ' +
      'its creation and removal count in its time, as the builder ours creates counts in ours. It writes under a repository of its ' +
      'own in the service (its token names other scopes), so that it shares no layer with type=gha on the containerd store.',
    '',
    figureTable(timedFigures(r, CLASSIC_PAIRS)),
    '',
    table(JOB_COLUMNS, rows)
  ]
}

/** The main step's time outside the restore, the build and the builder's bootstrap. */
const mainOther = (x: ActionRun): number => x.mainSeconds - x.restore - x.build - x.export - x.bootstrap
/** The post step's time outside the save. */
const postOther = (x: ActionRun): number => x.postSeconds - x.save

function classicProse(r: Results): string {
  const parts: Array<[string, (x: ActionRun) => number]> = [
    ['starting the builder', x => x.bootstrap],
    ['handing the image to the engine', x => x.imageExport],
    ['building', x => x.build - x.imageExport],
    ['exporting the cache', x => x.export],
    ['saving', x => x.save],
    ['in the rest of the main step', mainOther],
    ['in the rest of the post step', postOther]
  ]
  const say = (name: string, pairs: Array<{ a: ActionRun; b: ActionRun }>): string => {
    if (pairs.length === 0) return ''
    const gap = (f: (x: ActionRun) => number): number => med(pairs, p => f(p.b) - f(p.a))
    return (
      `${name} the classic store took ${moreOrLess(gap(x => x.total))} than the containerd store: ` +
      parts.map(([what, f]) => `${moreOrLess(gap(f))} ${what}`).join(', ') +
      '.'
    )
  }
  const c = r.cycles
  const cold = c.flatMap(run => (run.cold && run.classic.cold ? [{ a: run.cold, b: run.classic.cold }] : []))
  return [
    say(
      'After a late change',
      c.map(run => ({ a: run.masterOurs, b: run.classic.master }))
    ),
    say('On the cold build', cold),
    'The builder is made afresh on every run that saves (and removed after it), so it starts with an empty build cache: its ' +
      'steps come from the restored directory, as on the docker driver.'
  ]
    .filter(Boolean)
    .join(' ')
}
