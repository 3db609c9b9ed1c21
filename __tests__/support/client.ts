// The real @actions/cache client run in the test's own process, the way the
// action runs it, to put entries in the service that no job of ours would
// make (a damaged one, say). Also the blobs of a buildx local cache, to damage.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runtimeToken, type CacheService, type TokenScope } from './cache-service.js'

/**
 * Runs work with the workspace and working directory set to one folder and
 * paths relative to it, so the entries the client writes and reads have the
 * version the action's have. Everything it changed is put back after.
 */
export async function withClient(
  service: CacheService,
  scopes: TokenScope[],
  work: (dir: string) => Promise<void>
): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-'))
  const names = [
    'ACTIONS_CACHE_SERVICE_V2',
    'ACTIONS_RESULTS_URL',
    'ACTIONS_RUNTIME_TOKEN',
    'RUNNER_TEMP',
    'GITHUB_WORKSPACE'
  ]
  const saved = { cwd: process.cwd(), env: Object.fromEntries(names.map(n => [n, process.env[n]])) }
  Object.assign(process.env, service.env(runtimeToken(scopes)), {
    RUNNER_TEMP: path.join(dir, '.tmp'),
    GITHUB_WORKSPACE: dir
  })
  fs.mkdirSync(path.join(dir, '.tmp'))
  process.chdir(dir)
  // The client logs through stdout as a step would; the test's output is not the place.
  const write = process.stdout.write
  process.stdout.write = (() => true) as typeof process.stdout.write
  try {
    await work(dir)
  } finally {
    process.stdout.write = write
    process.chdir(saved.cwd)
    for (const [name, value] of Object.entries(saved.env)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The layer blobs of a buildx local cache, as its manifest lists them. */
export function layerBlobs(entry: string): string[] {
  const blob = (digest: string): string => path.join(entry, 'blobs', 'sha256', digest.replace(/^sha256:/, ''))
  const index = JSON.parse(fs.readFileSync(path.join(entry, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string }>
  }
  // BuildKit 0.13 writes a manifest list naming the layers; newer BuildKit
  // (0.21 and later, as in Docker 28) an image manifest whose layers they are.
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8')) as {
    manifests?: Array<{ digest: string; mediaType: string }>
    layers?: Array<{ digest: string; mediaType: string }>
  }
  const named = manifest.layers ?? manifest.manifests ?? []
  return named.filter(d => d.mediaType.includes('layer')).map(d => blob(d.digest))
}

/**
 * Takes the largest blob (a layer) out of a restored gha entry's manifest of
 * packs: the entry then names a blob no pack supplies, as a layout missing a
 * blob would. Returns its digest.
 */
export function dropLargestBlob(entry: string): string {
  const file = path.join(entry, 'buildx-ci-cache-packs.json')
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as { blobs: Array<{ digest: string; size: number }> }
  const largest = manifest.blobs.reduce((a, b) => (b.size > a.size ? b : a))
  manifest.blobs = manifest.blobs.filter(b => b !== largest)
  fs.writeFileSync(file, JSON.stringify(manifest))
  return largest.digest
}
