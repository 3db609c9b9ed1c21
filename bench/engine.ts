// The engine the benchmarks build on: a pair of dockerds of their own (the
// containerd image store and the classic one) that scripts/engine-up.sh
// brings up and scripts/in-engine.sh describes, in whose network namespace
// the benchmarks run, so that BuildKit inside the engine reaches the cache
// service they start. Every job empties the engine's build cache to stand for
// a fresh runner, which must never happen to an engine the tests are using.
import { execFileSync } from 'node:child_process'

/** The two image stores users have: ubuntu-26.04 runners use containerd's, ubuntu-24.04 keep the classic one. */
export type ImageStore = 'containerd' | 'classic'

export interface Engine {
  /** DOCKER_HOST of the engine with the containerd image store. */
  dockerHost: string
  /** DOCKER_HOST of the engine with the classic image store. */
  classicDockerHost: string
  /** The static busybox the fixture Dockerfiles start from. */
  busybox: string
  /** host:port of the open registry beside the engines. */
  registry: string
}

// The tests' engines (engine-up.sh's defaults): the benchmarks would prune
// them under a running test.
const TEST_ROOTS = ['/opt/engine-forky', '/opt/engine-trixie']

/** The engine in-engine.sh exported, refused when it is the tests' own or when this process is not beside it. */
export function benchEngine(env: NodeJS.ProcessEnv = process.env): Engine {
  const needed = ['DOCKER_HOST', 'CLASSIC_DOCKER_HOST', 'BUSYBOX', 'ENGINE_REGISTRY', 'ENGINE_ROOT', 'ENGINE_NETNS']
  const missing = needed.filter(name => !env[name])
  if (missing.length > 0)
    throw new Error(
      `The benchmarks run beside their own engine: start them with \`npm run bench\`, not without ${missing.join(', ')}.`
    )
  const root = env.ENGINE_ROOT as string
  if (TEST_ROOTS.includes(root.replace(/\/+$/, '')))
    throw new Error(
      `ENGINE_ROOT is ${root}, an engine the tests use, and every benchmark job prunes its engine: use the benchmarks' own (\`npm run bench\` sets /opt/engine-bench).`
    )
  const netns = currentNetns()
  if (netns !== env.ENGINE_NETNS)
    throw new Error(
      `The benchmarks run in their engine's network namespace (${env.ENGINE_NETNS}), where BuildKit reaches the cache service they start, not in '${netns || 'the host'}': start them with \`npm run bench\`.`
    )
  return {
    dockerHost: env.DOCKER_HOST as string,
    classicDockerHost: env.CLASSIC_DOCKER_HOST as string,
    busybox: env.BUSYBOX as string,
    registry: env.ENGINE_REGISTRY as string
  }
}

function currentNetns(): string {
  try {
    return execFileSync('ip', ['netns', 'identify'], { encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}

export function hostOf(engine: Engine, store: ImageStore): string {
  return store === 'classic' ? engine.classicDockerHost : engine.dockerHost
}

// DOCKER_HOST goes to every docker call explicitly: a change to process.env
// inside a jest test does not reach child processes started without `env`.
export function docker(engine: Engine, args: string[], store: ImageStore = 'containerd'): string {
  return execFileSync('docker', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DOCKER_HOST: hostOf(engine, store) },
    timeout: 120_000
  })
}

// What a docker-container builder runs: a hosted runner pulls it when the
// builder is created; engine-up.sh provides it once, so it stays.
const BUILDKIT_REPOSITORY = 'moby/buildkit'

/**
 * What an ephemeral runner starts with: no build cache, no images but
 * BuildKit's, no builder container. Every other image goes, not only the
 * job's: with the containerd image store, the layers of an image another
 * scenario left behind (the multi-stage variant shares its first layers with
 * the single-stage image) could serve a build that should have come from the
 * cache.
 */
export function freshRunner(engine: Engine, store: ImageStore = 'containerd'): void {
  const leftovers = docker(engine, ['ps', '--all', '--quiet', '--filter', 'name=buildx_buildkit_'], store)
    .split('\n')
    .filter(Boolean)
  if (leftovers.length > 0) {
    // The action removes the builder it made in its post step; one that is
    // still there would hold the last job's build cache.
    process.stderr.write(`bench: removing ${leftovers.length} builder container(s) a job left behind\n`)
    docker(engine, ['rm', '--force', '--volumes', ...leftovers], store)
  }
  const images = docker(engine, ['image', 'ls', '--all', '--format', '{{.ID}} {{.Repository}}'], store)
    .split('\n')
    .filter(Boolean)
    .map(line => line.split(' '))
  const kept = new Set(images.filter(([, repository]) => repository === BUILDKIT_REPOSITORY).map(([id]) => id))
  const doomed = [...new Set(images.map(([id]) => id).filter(id => !kept.has(id)))]
  if (doomed.length > 0) docker(engine, ['image', 'rm', '--force', ...doomed], store)
  docker(engine, ['buildx', 'prune', '-af'], store)
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
