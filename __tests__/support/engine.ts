// The real Docker Engine the end-to-end tests build with (see scripts/engine-up.sh).
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

export function docker(...args: string[]): string {
  return dockerAt(undefined, ...args)
}

/** docker on the engine at `host` (a DOCKER_HOST), or on the default engine. */
export function dockerAt(host: string | undefined, ...args: string[]): string {
  const env = host === undefined ? undefined : { ...process.env, DOCKER_HOST: host }
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env })
}

/** The DOCKER_HOST of the engine with Docker's classic image store, as GitHub's ubuntu-24.04 runners have it. */
export function classicEngine(): string {
  const host = process.env.CLASSIC_DOCKER_HOST
  if (!host)
    throw new Error('CLASSIC_DOCKER_HOST is not set: run the tests through `npm test`, whose setup starts the engines.')
  return host
}

// What a docker-container builder runs: a runner pulls it when the builder
// is created; here engine-up.sh provides it, once.
const BUILDKIT_REPOSITORY = 'moby/buildkit:'

// Images a test keeps across fresh runners: local base images, which stand
// for what a real runner pulls from a registry.
const kept = new Set<string>()

export function keepAcrossRunners(image: string): void {
  kept.add(image.includes(':') ? image : `${image}:latest`)
}

/**
 * What an ephemeral runner starts with, on the engine at `host` (else the
 * default one): no build cache and no images but the kept bases. Every other
 * image goes, not only the job's own: with the containerd image store, layers
 * of images other tests left behind can serve a build even after the build
 * cache is pruned.
 */
export function freshRunner(image: string, host?: string): void {
  const present = dockerAt(host, 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}')
    .split('\n')
    .filter(ref => ref !== '' && !kept.has(ref) && !ref.startsWith(BUILDKIT_REPOSITORY))
  const dangling = dockerAt(host, 'image', 'ls', '--quiet', '--filter', 'dangling=true').split('\n').filter(Boolean)
  for (const ref of [...new Set([image, ...present, ...dangling])]) {
    try {
      dockerAt(host, 'image', 'rm', '-f', ref)
    } catch {
      // Not there: already fresh.
    }
  }
  dockerAt(host, 'buildx', 'prune', '-af')
}

/**
 * A workspace holding a copy of a fixture folder plus the static busybox the
 * fixture Dockerfiles start from (nothing can be pulled here).
 */
export function workspaceFrom(fixture: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-'))
  fs.cpSync(path.join(ROOT, '__fixtures__', fixture), dir, { recursive: true })
  const busybox = process.env.BUSYBOX
  if (!busybox) throw new Error('BUSYBOX is not set: run the tests through `npm test`, whose setup starts the engine.')
  fs.copyFileSync(busybox, path.join(dir, 'busybox'))
  fs.chmodSync(path.join(dir, 'busybox'), 0o755)
  return dir
}

/**
 * A workspace of the fixture whose image starts with a step of its own, so
 * that no other suite's images or cache share its layers: with the
 * containerd image store, layers of images left by earlier tests can serve a
 * build even after the build cache is pruned.
 */
export function uniqueWorkspaceFrom(fixture: string): string {
  const dir = workspaceFrom(fixture)
  fs.writeFileSync(path.join(dir, 'nonce'), `${process.pid}-${Date.now()}-${Math.random()}\n`)
  const dockerfile = path.join(dir, 'Dockerfile')
  fs.writeFileSync(
    dockerfile,
    fs.readFileSync(dockerfile, 'utf8').replace(/^FROM scratch$/m, 'FROM scratch\nCOPY nonce /nonce')
  )
  return dir
}

/**
 * A docker client configuration of a runner's own: empty (logged in nowhere)
 * but for the CLI plugins, which docker looks for under the configuration:
 * those of the engine's own configuration (scripts/engine-up.sh), which hold
 * the buildx under test.
 */
export function dockerConfig(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-config-'))
  fs.symlinkSync(path.join(engineDockerConfig(), 'cli-plugins'), path.join(dir, 'cli-plugins'))
  return dir
}

function engineDockerConfig(): string {
  const dir = process.env.DOCKER_CONFIG
  if (!dir)
    throw new Error('DOCKER_CONFIG is not set: run the tests through `npm test`, whose setup starts the engine.')
  return dir
}
