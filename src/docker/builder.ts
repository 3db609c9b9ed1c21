import * as core from '@actions/core'
import { docker, type DockerRun } from './docker-cli.js'

// Which builder the build runs on. The docker driver exports a local cache
// only with the containerd image store; GitHub's hosted runners ship without
// it, so a run that must export needs a docker-container builder there.

export const OWN_BUILDER = 'buildx-ci-cache'

export interface BuilderFacts {
  /** Set when `docker buildx` itself does not answer. */
  unavailable?: string
  driver: string
  /** The current builder's name, as `docker buildx inspect` gives it. */
  name?: string
  /** The engine stores images in containerd (docker driver only). */
  containerdStore: boolean
  /** What a build without `--platform` is for, e.g. `linux/arm64`. */
  defaultPlatform?: string
}

export type BuilderChoice =
  | { kind: 'current' }
  | { kind: 'create'; name: string }
  | { kind: 'no-export'; warning: string }

const CANNOT_EXPORT =
  'The current builder uses the docker driver without the containerd image store, which cannot export a local cache'
const CONTAINERD_STORE_FIX =
  'enable the containerd image store ("features": {"containerd-snapshotter": true} in /etc/docker/daemon.json)'

/** Pure: the builder for a build that does or does not export a cache. */
export function chooseBuilder(facts: BuilderFacts, exporting: boolean, createBuilder: boolean): BuilderChoice {
  if (!exporting || facts.driver !== 'docker' || facts.containerdStore) return { kind: 'current' }
  if (createBuilder) return { kind: 'create', name: OWN_BUILDER }
  return {
    kind: 'no-export',
    warning: `${CANNOT_EXPORT}, so nothing will be saved. Fix: set \`create-builder: true\`, or add docker/setup-buildx-action before this step, or ${CONTAINERD_STORE_FIX}.`
  }
}

/** Pure: the warning when the docker-container builder could not be made, e.g. its image could not be pulled. */
export function createFailedWarning(reason: string): string {
  return (
    `${CANNOT_EXPORT}, and ${reason}, so nothing will be saved. ` +
    'Fix: let the runner pull the moby/buildkit image that builder runs (or add docker/setup-buildx-action before this step, ' +
    `with driver-opts naming a copy of that image it can pull), or ${CONTAINERD_STORE_FIX}.`
  )
}

export function parseBuilderName(inspect: string): string | undefined {
  return /^Name:\s*(\S+)/m.exec(inspect)?.[1]
}

export function parseDriver(inspect: string): string {
  return /^Driver:\s*(\S+)/m.exec(inspect)?.[1] ?? ''
}

export function usesContainerdStore(driverStatusJson: string): boolean {
  try {
    const status = JSON.parse(driverStatusJson) as unknown
    return (
      Array.isArray(status) && status.some(pair => Array.isArray(pair) && pair[1] === 'io.containerd.snapshotter.v1')
    )
  } catch {
    return false
  }
}

/** The builder's first platform is its native one: `linux/amd64*` (a `*` marks one set by hand) → `linux/amd64`. */
export function parseDefaultPlatform(inspect: string): string | undefined {
  const first = /^Platforms:[ \t]*([^,\n]+)/m.exec(inspect)?.[1]?.trim().replace(/\*$/, '')
  return first || undefined
}

/** Never rejects: a docker CLI that cannot even be started is `unavailable` too. */
export async function builderFacts(): Promise<BuilderFacts> {
  try {
    return await askBuilder()
  } catch (error) {
    return { unavailable: (error as Error).message, driver: '', containerdStore: false }
  }
}

async function askBuilder(): Promise<BuilderFacts> {
  // Both asked at once: the image store matters only with the docker driver,
  // but asking costs less than waiting for inspect to say which driver it is.
  const [inspect, info] = await Promise.all([
    quiet(['buildx', 'inspect']),
    quiet(['info', '--format', '{{json .DriverStatus}}'])
  ])
  if (inspect.exitCode !== 0) {
    return { unavailable: inspect.stderr.trim().split('\n')[0] || 'no output', driver: '', containerdStore: false }
  }
  const driver = parseDriver(inspect.stdout)
  const name = parseBuilderName(inspect.stdout)
  const defaultPlatform = parseDefaultPlatform(inspect.stdout) ?? (await serverPlatform())
  if (driver !== 'docker') return { driver, name, containerdStore: false, defaultPlatform }
  return { driver, name, containerdStore: info.exitCode === 0 && usesContainerdStore(info.stdout), defaultPlatform }
}

// A docker-container builder that has not started yet lists no platforms: it
// will run on this engine, so the engine's own platform is the one.
async function serverPlatform(): Promise<string | undefined> {
  const version = await quiet(['version', '--format', '{{.Server.Os}}/{{.Server.Arch}}'])
  const platform = version.stdout.trim()
  return version.exitCode === 0 && /^[^/\s]+\/[^/\s]+$/.test(platform) ? platform : undefined
}

/**
 * Makes our docker-container builder, or reuses the one an earlier step made
 * if it runs. A create whose bootstrap failed (its image could not be pulled)
 * still leaves the builder defined, and a build on it fails: such a builder
 * is removed, never reused.
 */
export async function ensureBuilder(name: string): Promise<void> {
  if ((await quiet(['buildx', 'inspect', '--bootstrap', name])).exitCode === 0) return
  await quiet(['buildx', 'rm', name])
  // On the engine's network, not a bridge of its own: the builder then
  // reaches what a build on the docker driver reaches, a registry or cache
  // service on the runner's localhost among them.
  const created = await docker(
    ['buildx', 'create', '--name', name, '--driver', 'docker-container', '--driver-opt', 'network=host', '--bootstrap'],
    { log: true }
  )
  if (created.exitCode !== 0) {
    await quiet(['buildx', 'rm', name])
    throw new Error(`could not create a docker-container builder (${created.stderr.trim().split('\n').at(-1)})`)
  }
}

/**
 * Removes a builder the action made, with its container and its state
 * volume, as docker/setup-buildx-action does in its post step: on a
 * persistent runner they would pile up, each holding a build cache. Never
 * rejects; a builder that cannot be removed is a warning.
 */
export async function removeBuilder(name: string): Promise<void> {
  let why: string
  try {
    const removed = await quiet(['buildx', 'rm', '--force', name])
    if (removed.exitCode === 0) {
      core.info(`Removed the docker-container builder ${name}.`)
      return
    }
    if (/not found|no builder/i.test(removed.stderr)) return
    why = removed.stderr.trim().split('\n').at(-1) ?? 'no output'
  } catch (error) {
    why = (error as Error).message
  }
  core.warning(`Could not remove the docker-container builder ${name}: ${why}`)
}

async function quiet(args: string[]): Promise<DockerRun> {
  return docker(args)
}

export interface PickedBuilder {
  /** A builder to name; unset: the current one. */
  name?: string
  /** The run was to export a cache, but no builder can: nothing will be saved. */
  exportBlocked: boolean
}

/** Chooses and, when needed, creates the builder; a builder that cannot export is a warning, never a failure. */
export async function pickBuilder(facts: BuilderFacts, exporting: boolean, create: boolean): Promise<PickedBuilder> {
  const choice = chooseBuilder(facts, exporting, create)
  if (choice.kind === 'current') return { exportBlocked: false }
  if (choice.kind === 'no-export') {
    core.warning(choice.warning)
    return { exportBlocked: true }
  }
  try {
    await core.group(`Create the docker-container builder ${choice.name}`, () => ensureBuilder(choice.name))
    return { name: choice.name, exportBlocked: false }
  } catch (error) {
    core.warning(createFailedWarning((error as Error).message))
    return { exportBlocked: true }
  }
}
