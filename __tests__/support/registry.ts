// The OCI registries scripts/engine-up.sh starts beside the engines, in their
// network namespace, where the tests run too (scripts/in-engine.sh): the
// tests reach them at the addresses the engines' BuildKit does.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'

export interface EngineRegistries {
  /** host:port of each registry. */
  open: string
  auth: string
  readOnly: string
  user: string
  password: string
}

export function engineRegistries(): EngineRegistries {
  const env = (name: string): string => {
    const value = process.env[name]
    if (!value)
      throw new Error(
        `${name} is not set: run the tests through \`npm test\`, whose setup starts the engine and its registries.`
      )
    return value
  }
  return {
    open: env('ENGINE_REGISTRY'),
    auth: env('ENGINE_REGISTRY_AUTH'),
    readOnly: env('ENGINE_REGISTRY_READONLY'),
    user: env('ENGINE_REGISTRY_USER'),
    password: env('ENGINE_REGISTRY_PASSWORD')
  }
}

export function run(file: string, args: string[], input?: string): string {
  return execFileSync(file, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] })
}

/** `docker login`, as docker/login-action does it, into the given configuration. */
export function login(registries: EngineRegistries, config: string, registry: string): void {
  run(
    'docker',
    ['--config', config, 'login', '--username', registries.user, '--password-stdin', registry],
    registries.password
  )
}

export interface TagInfo {
  /** The manifest's digest, as the registry reports it. */
  digest: string
  manifest: {
    mediaType?: string
    layers?: Array<{ digest: string }>
    manifests?: Array<{ digest: string }>
    annotations?: Record<string, string>
  }
}

// Runs inside the namespace: the registry API as any client sees it.
const LIST_TAGS = `
const [registry, repository, authorization] = process.argv.slice(1)
const headers = authorization ? { authorization } : {}
const accept = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ')
const list = await fetch('http://' + registry + '/v2/' + repository + '/tags/list', { headers })
const tags = list.status === 404 ? [] : ((await list.json()).tags ?? [])
const out = {}
for (const tag of tags) {
  const r = await fetch('http://' + registry + '/v2/' + repository + '/manifests/' + tag, { headers: { ...headers, accept } })
  out[tag] = { digest: r.headers.get('docker-content-digest'), manifest: await r.json() }
}
process.stdout.write(JSON.stringify(out))
`

/** Every tag of a repository (`host:port/name`) and what it holds, read through the registry API. */
export function registryTags(registries: EngineRegistries, repository: string): Record<string, TagInfo> {
  const slash = repository.indexOf('/')
  const registry = repository.slice(0, slash)
  const basic =
    registry === registries.open
      ? ''
      : `Basic ${Buffer.from(`${registries.user}:${registries.password}`).toString('base64')}`
  const out = run(process.execPath, [
    '--input-type=module',
    '-e',
    LIST_TAGS,
    registry,
    repository.slice(slash + 1),
    basic
  ])
  return JSON.parse(out) as Record<string, TagInfo>
}

const DELETE_BLOB = `
const [registry, repository, digest] = process.argv.slice(1)
const r = await fetch('http://' + registry + '/v2/' + repository + '/blobs/' + digest, { method: 'DELETE' })
if (r.status !== 202) throw new Error('DELETE answered ' + r.status)
`

/** Deletes a layer from an open registry's repository, as a registry's clean-up might. */
export function deleteBlob(repository: string, digest: string): void {
  const slash = repository.indexOf('/')
  run(process.execPath, [
    '--input-type=module',
    '-e',
    DELETE_BLOB,
    repository.slice(0, slash),
    repository.slice(slash + 1),
    digest
  ])
}

/** A registry that accepts connections and never answers, in the namespace, until stopped. */
export async function silentRegistry(port: number): Promise<{ stop(): void }> {
  const script = `require('node:net').createServer(() => {}).listen(${port}, '127.0.0.1', () => console.log('listening'))`
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve())
    child.once('exit', code => reject(new Error(`the silent registry exited (${code})`)))
  })
  return { stop: () => void child.kill('SIGKILL') }
}
