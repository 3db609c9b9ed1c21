// Restore throughput of the cache client on each of its download paths, for
// one entry of about 200 MB that does not compress: the Azure SDK's (blob URLs
// on a *.blob.core.windows.net host, as GitHub hands out: Get Blob Properties,
// then 4 MiB ranged GETs, 8 at a time) and the single GET it falls back to for
// any other host. The real @actions/cache client in this process, the test
// cache service on loopback. Printed, never asserted.
//
// Run in a network namespace whose hosts file maps the blob host to 127.0.0.1:
//   ip netns exec NS env CACHE_SERVICE_BLOB_HOST=actionscache.blob.core.windows.net \
//     node --experimental-vm-modules node_modules/jest/bin/jest.js bench/restore-path.bench.ts --selectProjects bench
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals'
import * as cache from '@actions/cache'
import { randomBytes } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runtimeToken, startCacheService, type CacheService } from '../__tests__/support/cache-service.js'

jest.setTimeout(30 * 60 * 1000)

const ROUNDS = 3
const BYTES = 200 * 1000 * 1000
const TOKEN = runtimeToken([{ scope: 'refs/heads/main', permission: 3 }])

interface Path {
  name: string
  service?: CacheService
  key: string
  archiveBytes: number
  runs: Array<{ download: number; total: number }>
}

let root = ''
let dir = ''
const saved = { ...process.env }
const paths: Path[] = []

beforeAll(async () => {
  const blobHost = process.env.CACHE_SERVICE_BLOB_HOST ?? ''
  const resolved = await lookup(blobHost).then(
    a => a.address,
    () => 'nothing'
  )
  if (!blobHost.endsWith('.blob.core.windows.net') || resolved !== '127.0.0.1')
    throw new Error(
      `CACHE_SERVICE_BLOB_HOST must name a *.blob.core.windows.net host that resolves to 127.0.0.1 here (got "${blobHost}", resolving to ${resolved}): run this in a network namespace whose hosts file maps it, as the header says.`
    )
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-path-bench-'))
  fs.mkdirSync(path.join(root, 'runner-temp'))
  process.env.RUNNER_TEMP = path.join(root, 'runner-temp')
  process.env.GITHUB_WORKSPACE = root
  delete process.env.GITHUB_SERVER_URL
  dir = path.join(root, 'entry')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'payload.bin'), randomBytes(BYTES))
  for (const [name, host] of [
    ['Azure SDK (HEAD + ranged GETs)', blobHost],
    ['single GET (fallback)', '127.0.0.1']
  ]) {
    const service = await startCacheService({ blobHost: host })
    const entry: Path = { name, service, key: `restore-path-${host}`, archiveBytes: 0, runs: [] }
    await quietly(async () => {
      Object.assign(process.env, service.env(TOKEN))
      expect(await cache.saveCache([dir], entry.key)).toBeGreaterThan(0)
    })
    entry.archiveBytes = service.entries()[0].sizeBytes
    paths.push(entry)
  }
})

afterAll(async () => {
  for (const p of paths) await p.service?.close()
  if (root) fs.rmSync(root, { recursive: true, force: true })
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
  Object.assign(process.env, saved)
  const mb = (bytes: number, seconds: number): string => (bytes / 1e6 / seconds).toFixed(0)
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
  const rows = paths.map(p => {
    const download = median(p.runs.map(r => r.download))
    const total = median(p.runs.map(r => r.total))
    return `| ${p.name} | ${(p.archiveBytes / 1e6).toFixed(0)} MB | ${download.toFixed(2)} s | ${mb(p.archiveBytes, download)} MB/s | ${total.toFixed(2)} s | ${mb(p.archiveBytes, total)} MB/s |`
  })
  process.stdout.write(
    `\nRestore of one entry, median of ${ROUNDS} interleaved runs (${os.cpus().length} cores):\n` +
      '| Download path | Archive | Download | Download rate | Restore | Restore rate |\n' +
      `| --- | --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`
  )
})

// The client's lines go to stdout as a step's would; they are not the bench's output.
async function quietly<T>(work: (lines: Array<{ at: number; line: string }>) => Promise<T>): Promise<T> {
  const lines: Array<{ at: number; line: string }> = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: string | Uint8Array) => {
    for (const line of String(chunk).split('\n')) lines.push({ at: Date.now(), line })
    return true
  }) as typeof process.stdout.write
  try {
    return await work(lines)
  } finally {
    process.stdout.write = write
  }
}

it('restores the entry on each path, interleaved', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of paths) {
      fs.rmSync(dir, { recursive: true, force: true })
      await quietly(async lines => {
        Object.assign(process.env, p.service?.env(TOKEN))
        const started = Date.now()
        expect(await cache.restoreCache([dir], p.key)).toBe(p.key)
        const ended = Date.now()
        // The client starts tar once the archive is on disk: up to then is the download.
        const extract = lines.find(l => l.line.startsWith('[command]') && l.line.includes(' -xf '))
        p.runs.push({ download: ((extract?.at ?? ended) - started) / 1000, total: (ended - started) / 1000 })
      })
      expect(fs.statSync(path.join(dir, 'payload.bin')).size).toBe(BYTES)
    }
  }
})
