// What a benchmark run does, from the environment:
//   BENCH_RUNS=n     repetitions of every timed figure (default 3; 1 when quick)
//   BENCH_QUICK=1    a smoke run: the small fixture, fewer builds and files,
//                    no incompressible table
//   BENCH_OUTPUT=f   where the report goes (default docs/benchmarks.md; a quick
//                    run writes .bench-work/benchmarks-quick.md so that it never
//                    replaces real figures)
//   BENCH_WORK=dir   scratch space (default .bench-work/ in the repository);
//                    its debs/ keeps the fixture's Debian packages between
//                    runs, its results.json the last run's raw figures
//   ACTION_DIST=dir  the bundle to measure (default dist/), read by the harness
// The engine is not a setting here: `npm run bench` runs the benchmarks
// through scripts/in-engine.sh with ENGINE_ROOT=/opt/engine-bench and
// ENGINE_NETNS=engine-bench (an engine of their own, never the tests'), whose
// DOCKER_HOST, CLASSIC_DOCKER_HOST, BUSYBOX and ENGINE_REGISTRY engine.ts reads.
import * as path from 'node:path'
import { ROOT } from '../__tests__/support/engine.js'

export interface Fixture {
  /** Folder under __fixtures__/. */
  name: string
  image: string
  /** The Dockerfile, relative to the folder. */
  dockerfile: string
  /** A COPY source that the benchmarks edit to stand for a commit that changes the image. */
  changeFile: string
  /** Whether the context gets real Debian packages from the folder's packages.txt at bench time (bench/debian-content.ts). */
  debianPackages: boolean
  /**
   * The action's `hash-files`, when the key should not hash every file the
   * Dockerfile reads: a real image installs its packages with apt-get, and its
   * key hashes the Dockerfile that names them, not hundreds of MB of files.
   */
  hashFiles?: string
}

export interface Settings {
  quick: boolean
  runs: number
  /** The image the targets are measured on. */
  fixture: Fixture
  /** The same content built in two stages. */
  multiStage: Fixture
  /** Random bytes, the extreme where layer compression can only cost; none in a quick run, whose fixture is already that. */
  incompressible?: Fixture
  /** Master builds in the growth figure. */
  growthBuilds: number
  /** Files in the key-resolution context. */
  keyFiles: number
  workRoot: string
  output: string
}

export const TOOLCHAIN: Fixture = {
  name: 'ci-image-toolchain',
  image: 'ci-toolchain',
  dockerfile: 'Dockerfile',
  changeFile: 'config/ci.env',
  debianPackages: true,
  hashFiles: 'packages.lock\nscripts/\nconfig/'
}
export const TOOLCHAIN_MULTISTAGE: Fixture = {
  ...TOOLCHAIN,
  image: 'ci-toolchain-multistage',
  dockerfile: 'multistage.Dockerfile'
}
export const HEAVY: Fixture = {
  name: 'ci-image-heavy',
  image: 'ci-image-heavy',
  dockerfile: 'Dockerfile',
  changeFile: 'config/ci.env',
  debianPackages: false
}
export const SMALL: Fixture = {
  name: 'ci-image',
  image: 'ci-image',
  dockerfile: 'Dockerfile',
  changeFile: 'data/version.txt',
  debianPackages: false
}
export const SMALL_MULTISTAGE: Fixture = { ...SMALL, image: 'ci-image-multistage', dockerfile: 'multistage.Dockerfile' }

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true'
  const runs = positiveInteger('BENCH_RUNS', env.BENCH_RUNS, quick ? 1 : 3)
  const workRoot = path.resolve(ROOT, env.BENCH_WORK || '.bench-work')
  return {
    quick,
    runs,
    fixture: quick ? SMALL : TOOLCHAIN,
    multiStage: quick ? SMALL_MULTISTAGE : TOOLCHAIN_MULTISTAGE,
    incompressible: quick ? undefined : HEAVY,
    growthBuilds: quick ? 3 : 5,
    keyFiles: quick ? 2_000 : 20_000,
    workRoot,
    output: path.resolve(
      ROOT,
      env.BENCH_OUTPUT || (quick ? path.join(workRoot, 'benchmarks-quick.md') : path.join('docs', 'benchmarks.md'))
    )
  }
}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${name} must be a whole number of runs, at least 1, not "${value}".`)
  return n
}
