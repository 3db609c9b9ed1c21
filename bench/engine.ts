// The engine the benchmarks build on. It is a second engine of its own by
// default (its own root and network namespace, see scripts/engine-up.sh):
// every run empties the engine's build cache to emulate a fresh runner, which
// must never happen to an engine the tests are using at the same time.
import { execFileSync } from 'node:child_process'
import * as path from 'node:path'
import { ROOT } from '../__tests__/support/engine.js'

export interface Engine {
  dockerHost: string
  /** The static busybox the fixture Dockerfiles start from. */
  busybox: string
  /** The engine's network namespace, where its registries listen. */
  netns: string
  /** host:port of the open registry engine-up.sh starts beside the engine. */
  registry: string
}

const DEFAULT_ROOT = '/opt/engine-bench'
const DEFAULT_NETNS = 'bench'
// Where engine-up.sh always starts the open registry, inside the namespace.
const DEFAULT_REGISTRY = '127.0.0.1:5000'

/**
 * Finds the benchmark engine, starting it when it does not answer. An engine
 * that answers is used as it is: engine-up.sh would also copy the buildx
 * plugin over the one a concurrent build may be executing.
 */
export function benchEngine(): Engine {
  const root = process.env.BENCH_ENGINE_ROOT || DEFAULT_ROOT
  const netns = process.env.BENCH_ENGINE_NETNS || DEFAULT_NETNS
  const engine = {
    dockerHost: `unix://${path.join(root, 'run', 'docker.sock')}`,
    busybox: path.join(root, 'bin', 'busybox'),
    netns,
    registry: DEFAULT_REGISTRY
  }
  if (answers(engine)) return engine
  const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'engine-up.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      ENGINE_ROOT: root,
      ENGINE_NETNS: netns,
      ENGINE_LOG: process.env.BENCH_ENGINE_LOG || '/tmp/engine-bench.log'
    }
  })
  const exported = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map(m => [m[1], m[2]]))
  return {
    dockerHost: exported.DOCKER_HOST ?? engine.dockerHost,
    busybox: exported.BUSYBOX ?? engine.busybox,
    netns,
    registry: exported.ENGINE_REGISTRY ?? engine.registry
  }
}

function answers(engine: Engine): boolean {
  try {
    docker(engine, ['version', '--format', '{{.Server.Version}}'])
    return true
  } catch {
    return false
  }
}

// DOCKER_HOST goes to every docker call explicitly: a change to process.env
// inside a jest test does not reach child processes started without `env`.
export function docker(engine: Engine, args: string[]): string {
  return execFileSync('docker', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DOCKER_HOST: engine.dockerHost },
    timeout: 120_000
  })
}

/**
 * What an ephemeral runner starts with: no build cache and no images. Every
 * image goes, not only the job's: with the containerd image store, the
 * layers of an image another scenario left behind (the multi-stage variant
 * shares its first layers with the single-stage image) could serve a build
 * that should have come from the cache.
 */
export function freshRunner(engine: Engine): void {
  const images = docker(engine, ['image', 'ls', '--all', '--quiet']).split('\n').filter(Boolean)
  if (images.length > 0) docker(engine, ['image', 'rm', '--force', ...new Set(images)])
  docker(engine, ['buildx', 'prune', '-af'])
  // The last job wrote hundreds of MB (snapshots, cache directories); flushed
  // now, before the next job's clock starts, none of it is written back on
  // the next job's time.
  execFileSync('sync')
}

export function engineVersions(engine: Engine): { engine: string; buildx: string } {
  return {
    engine: docker(engine, ['version', '--format', '{{.Server.Version}}']).trim(),
    buildx: docker(engine, ['buildx', 'version']).trim().split(/\s+/)[1] ?? 'unknown'
  }
}

// Seen now and then on a busy machine, whatever the build: the runtime fails to
// start a RUN step's container. Such a job measured nothing and is run again.
const CONTAINER_START_FAILURE = /runc run failed|OCI runtime (create|exec|start) failed|failed to create shim task/

/** Runs a job; if the engine failed to start a container, runs it once more. */
export async function retryingEngineFlakes<T>(job: () => Promise<T>): Promise<T> {
  try {
    return await job()
  } catch (error) {
    const message = (error as Error).message
    const flake = CONTAINER_START_FAILURE.exec(message)
    if (!flake) throw error
    process.stderr.write(`bench: the engine failed to start a container (${flake[0]}); running the job once more\n`)
    return job()
  }
}
