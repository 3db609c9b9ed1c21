// A cold start of a matrix against the cache service's limit on new entries
// (200 a minute per repository, 429 with Retry-After past it): every image
// saves at once, each through the gha store's real save path (the plan, the
// cache client in a process of its own, a pack then the index entry), to a
// stand-in that enforces the limit. Printed: how many saves were stored, how
// many met a 429 and waited, how many gave up (a warning, the build passes),
// and how long the slowest took. No Docker: the layouts are written as an
// export leaves them, a layer of random bytes each.
//
//   npm run bench:matrix     (BENCH_IMAGES=n, default 60)
import { afterAll, describe, expect, it, jest } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { boundsFor } from '../src/cache/deadline.js'
import { GhaCacheStore } from '../src/cache/gha.js'
import { GITHUB_CREATES_PER_MINUTE, runtimeToken, startCacheService } from '../__tests__/support/cache-service.js'

jest.setTimeout(900_000)

const IMAGES = Number(process.env.BENCH_IMAGES ?? 60)
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-matrix-'))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

const digest = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`

/** What a local cache export leaves for one image: index.json, the cache index, one layer. */
function exportedLayout(dir: string, layerBytes: number): void {
  const blobs = path.join(dir, 'blobs', 'sha256')
  fs.mkdirSync(blobs, { recursive: true })
  const put = (data: Buffer): string => {
    const d = digest(data)
    fs.writeFileSync(path.join(blobs, d.slice(7)), data)
    return d
  }
  const layer = randomBytes(layerBytes)
  const cacheIndex = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: put(layer), size: layer.length }]
    })
  )
  const top = put(cacheIndex)
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.index.v1+json',
          digest: top,
          size: cacheIndex.length,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' }
        }
      ]
    })
  )
}

interface Outcome {
  saved: boolean
  seconds: number
  reason?: string
}

async function matrix(perMinute: number): Promise<{ outcomes: Outcome[]; packs: number; indexes: number }> {
  const service = await startCacheService({ createLimit: { perMinute } })
  const env = {
    ...process.env,
    ...service.env(runtimeToken([{ scope: 'refs/heads/master', permission: 3 }]))
  }
  // The client process is the bundle's: the one a runner starts.
  process.argv[1] = path.resolve('dist', 'main', 'index.js')
  try {
    const outcomes = await Promise.all(
      Array.from({ length: IMAGES }, async (_, i) => {
        const image = `matrix-${perMinute}-${i}`
        const temp = path.join(root, image)
        exportedLayout(path.join(temp, 'buildx-ci-cache', `${image}.new`), 256 * 1024)
        const store = new GhaCacheStore(temp, image, boundsFor(), env)
        const started = Date.now()
        const result = await store.save({ content: `buildx/${image}/master/${'a'.repeat(64)}` })
        return {
          saved: result.saved,
          seconds: (Date.now() - started) / 1000,
          reason: result.saved ? undefined : result.reason
        }
      })
    )
    const limited = service.requests.filter(c => c.outcome === 'rate-limited').length
    const entries = service.entries()
    process.stdout.write(
      `bench: matrix: ${IMAGES} images, ${perMinute} new entries a minute: the service answered 429 ${limited} times\n`
    )
    return {
      outcomes,
      packs: entries.filter(e => e.key.includes('/packs/')).length,
      indexes: entries.filter(e => !e.key.includes('/packs/')).length
    }
  } finally {
    await service.close()
  }
}

function say(perMinute: number, r: Awaited<ReturnType<typeof matrix>>): void {
  const saved = r.outcomes.filter(o => o.saved).length
  const seconds = r.outcomes.map(o => o.seconds).sort((a, b) => a - b)
  const median = seconds[Math.floor(seconds.length / 2)] ?? 0
  const slowest = seconds.at(-1) ?? 0
  const reasons = r.outcomes.flatMap(o => (o.reason ? [o.reason] : [])).slice(0, 1)
  process.stdout.write(
    `bench: matrix: ${IMAGES} images at once, limit ${perMinute}/min: ${saved} saved (${r.packs} packs, ${r.indexes} index entries stored), ` +
      `${IMAGES - saved} skipped${reasons.length > 0 ? ` (the first: ${reasons[0]})` : ''}; save median ${median.toFixed(1)} s, slowest ${slowest.toFixed(1)} s\n`
  )
}

describe(`a cold start of a ${IMAGES}-image matrix against the service's limit on new entries`, () => {
  it(`saves every image under GitHub's ${GITHUB_CREATES_PER_MINUTE} a minute`, async () => {
    const r = await matrix(GITHUB_CREATES_PER_MINUTE)
    say(GITHUB_CREATES_PER_MINUTE, r)
    expect(r.outcomes.every(o => o.saved)).toBe(true)
  })

  // A repository whose other workflows took most of the minute's entries:
  // saves meet 429s, wait as Retry-After says, and are stored or skipped
  // with a warning, never lost half-way (a pack without its index entry is
  // only unused; an index entry is never stored without its pack).
  it('waits out the limit when the repository has only a third of it left', async () => {
    const perMinute = Math.ceil((IMAGES * 2) / 3)
    const r = await matrix(perMinute)
    say(perMinute, r)
    expect(r.indexes).toBe(r.outcomes.filter(o => o.saved).length)
  })
})
