// The entry served to the builder as a registry: what a registry client gets
// for the manifest and each blob, read from a pack over ranged GETs, and what
// it gets when a pack sends other bytes, too few, or none for the stall bound.
import { afterEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { BlobServer, type PackedBlob } from '../../../../src/cache/packs/blob-server.js'

const digestOf = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`

interface Pack {
  url: string
  /** Ranged GETs the pack answered. */
  ranges: string[]
  close: () => Promise<void>
}

/** A pack on a storage stand-in: ranged GETs of `bytes`, as `behave` says. */
async function packServer(bytes: Buffer, behave: 'serve' | 'stall' | 'short' = 'serve'): Promise<Pack> {
  const ranges: string[] = []
  const server = http.createServer((req, res) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    ranges.push(req.headers.range ?? '')
    if (!range) return void res.writeHead(400).end()
    const start = Number(range[1])
    const end = Number(range[2])
    if (behave === 'stall') return void res.writeHead(206, { 'Content-Length': end - start + 1 })
    const body = bytes.subarray(start, end + 1)
    res.writeHead(206, { 'Content-Length': end - start + 1 })
    if (behave === 'short') {
      res.write(body.subarray(0, body.length - 1))
      return void setTimeout(() => res.destroy(), 50)
    }
    res.end(body)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/pack?sig=x`,
    ranges,
    close: () =>
      new Promise(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

const layer = Buffer.from('layer bytes '.repeat(5000))
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    layers: [{ digest: digestOf(layer), size: layer.length }]
  })
)
const packBytes = Buffer.concat([manifest, layer])
const top = { digest: digestOf(manifest), mediaType: 'application/vnd.oci.image.manifest.v1+json' }

function blobsOf(url: string, layerDigest = digestOf(layer)): PackedBlob[] {
  return [
    { digest: top.digest, size: manifest.length, offset: 0, url },
    { digest: layerDigest, size: layer.length, offset: manifest.length, url }
  ]
}

async function get(
  server: BlobServer,
  path: string,
  init?: RequestInit
): Promise<{ status: number; headers: Headers; body?: Buffer; error?: string }> {
  const [host, named] = server.ref.split('/')
  const repository = named?.split(':')[0]
  let response: Response
  try {
    response = await fetch(`http://${host}/v2/${repository}${path}`, init)
  } catch (error) {
    return { status: 0, headers: new Headers(), error: String((error as Error).cause ?? error) }
  }
  try {
    return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) }
  } catch (error) {
    return { status: response.status, headers: response.headers, error: String((error as Error).cause ?? error) }
  }
}

const open: Array<{ close: () => Promise<unknown> }> = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
})

async function serving(pack: Pack, blobs: PackedBlob[] = blobsOf(pack.url), stallSeconds = 5): Promise<BlobServer> {
  open.push(pack)
  const server = await BlobServer.start(blobs, top, stallSeconds)
  open.push(server)
  return server
}

describe('BlobServer', () => {
  it('serves on loopback a ref BuildKit can import as type=registry', async () => {
    const server = await serving(await packServer(packBytes))
    expect(server.ref).toMatch(/^127\.0\.0\.1:\d+\/buildx-ci-cache:entry$/)
    const base = await fetch(`http://${server.ref.split('/')[0]}/v2/`)
    expect(base.status).toBe(200)
  })

  it('answers any tag with the manifest index.json names, with its media type and digest', async () => {
    const server = await serving(await packServer(packBytes))
    const r = await get(server, '/manifests/entry')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe(top.mediaType)
    expect(r.headers.get('docker-content-digest')).toBe(top.digest)
    expect(r.body?.equals(manifest)).toBe(true)
  })

  it('sends a blob whole from its byte range of the pack, and counts it as read and verified', async () => {
    const pack = await packServer(packBytes)
    const server = await serving(pack)
    const r = await get(server, `/blobs/${digestOf(layer)}`)
    expect(r.status).toBe(200)
    expect(r.body?.equals(layer)).toBe(true)
    expect(pack.ranges).toEqual([`bytes=${manifest.length}-${packBytes.length - 1}`])
    const report = await server.close()
    expect(report).toEqual({ fetchedBytes: layer.length, verified: [digestOf(layer)], problems: [], pushedBytes: 0 })
  })

  it('answers HEAD from the manifest of packs, without reading the pack', async () => {
    const pack = await packServer(packBytes)
    const server = await serving(pack)
    const r = await get(server, `/blobs/${digestOf(layer)}`, { method: 'HEAD' })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-length')).toBe(String(layer.length))
    expect(pack.ranges).toEqual([])
  })

  it('serves a range of a blob, as a client resuming a read asks', async () => {
    const server = await serving(await packServer(packBytes))
    const r = await get(server, `/blobs/${digestOf(layer)}`, { headers: { Range: 'bytes=100-199' } })
    expect(r.status).toBe(206)
    expect(r.headers.get('content-range')).toBe(`bytes 100-199/${layer.length}`)
    expect(r.body?.equals(layer.subarray(100, 200))).toBe(true)
  })

  it('answers 404 for a blob the entry does not hold', async () => {
    const server = await serving(await packServer(packBytes))
    const r = await get(server, `/blobs/sha256:${'0'.repeat(64)}`)
    expect(r.status).toBe(404)
  })

  it('never lets a blob with other content arrive whole, and answers 404 for it from then on', async () => {
    const pack = await packServer(packBytes)
    const claimed = `sha256:${'a'.repeat(64)}`
    const server = await serving(pack, blobsOf(pack.url, claimed))
    const first = await get(server, `/blobs/${claimed}`)
    // The connection is cut before the last bytes: the client never holds the whole blob.
    expect(first.error ?? `${first.body?.length} bytes`).not.toBe(`${layer.length} bytes`)
    const again = await get(server, `/blobs/${claimed}`)
    expect(again.status).toBe(404)
    const report = await server.close()
    expect(report.problems).toEqual([`blob ${claimed} arrived with other content (${digestOf(layer)})`])
    expect(report.verified).toEqual([])
  })

  it('cuts a blob whose pack sends too few bytes', async () => {
    const server = await serving(await packServer(packBytes, 'short'))
    const r = await get(server, `/blobs/${digestOf(layer)}`)
    expect(r.error ?? `${r.body?.length} bytes`).not.toBe(`${layer.length} bytes`)
    const report = await server.close()
    expect(report.problems[0]).toContain(`blob ${digestOf(layer)} could not be read from its pack`)
  })

  it('gives up on a pack that sends nothing for the stall bound, and says so', async () => {
    const server = await serving(await packServer(packBytes, 'stall'), undefined, 1)
    const started = Date.now()
    const r = await get(server, `/blobs/${digestOf(layer)}`)
    expect(r.status).toBe(404)
    expect(Date.now() - started).toBeLessThan(4000)
    const report = await server.close()
    expect(report.problems).toEqual([
      `blob ${digestOf(layer)} could not be read from its pack: nothing arrived for 1 s`
    ])
  })
})
