// What a benchmark run does, from the environment:
//   BENCH_RUNS=n     repetitions of every timed figure (default 3; 1 when quick)
//   BENCH_QUICK=1    a smoke run: the small fixture, fewer builds and files
//   BENCH_OUTPUT=f   where the report goes (default docs/benchmarks.md; a quick
//                    run writes .bench-work/benchmarks-quick.md so that it never
//                    replaces real figures)
//   BENCH_WORK=dir   scratch space (default .bench-work/ in the repository)
//   BENCH_ENGINE_ROOT, BENCH_ENGINE_NETNS, BENCH_ENGINE_LOG: the engine's
//                    root (default /opt/engine-bench), network namespace
//                    (bench) and log, see engine.ts
//   ACTION_DIST=dir  the bundle to measure (default dist/), read by the harness
import * as path from 'node:path'
import { ROOT } from '../__tests__/support/engine.js'

export interface Fixture {
  /** Folder under __fixtures__/. */
  name: string
  image: string
  /** A COPY source that the benchmarks edit to stand for a commit that changes the image. */
  changeFile: string
}

export interface Settings {
  quick: boolean
  runs: number
  fixture: Fixture
  /** Master builds in the growth figure. */
  growthBuilds: number
  /** Files in the key-resolution context. */
  keyFiles: number
  workRoot: string
  output: string
}

export const HEAVY: Fixture = { name: 'ci-image-heavy', image: 'ci-image-heavy', changeFile: 'config/ci.env' }
export const SMALL: Fixture = { name: 'ci-image', image: 'ci-image', changeFile: 'data/version.txt' }

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true'
  const runs = positiveInteger('BENCH_RUNS', env.BENCH_RUNS, quick ? 1 : 3)
  const workRoot = path.resolve(ROOT, env.BENCH_WORK || '.bench-work')
  return {
    quick,
    runs,
    fixture: quick ? SMALL : HEAVY,
    growthBuilds: quick ? 3 : 10,
    keyFiles: quick ? 2_000 : 20_000,
    workRoot,
    output: path.resolve(ROOT, env.BENCH_OUTPUT || (quick ? path.join(workRoot, 'benchmarks-quick.md') : path.join('docs', 'benchmarks.md')))
  }
}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of runs, at least 1, not "${value}".`)
  return n
}
