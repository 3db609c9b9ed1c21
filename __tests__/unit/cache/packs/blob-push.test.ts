// A build that saves exports its cache back to the loopback server that
// served it the entry: what a registry client pushing there (as containerd's
// pusher does: HEAD, POST, PUT ?digest=; a manifest PUT by tag) is told, and
// what reaches the layout directory: only the blobs the entry's packs lack.
import { afterEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { BlobServer } from '../../../../src/cache/packs/blob-server.js'
import { checkLayout } from '../../../../src/cache/integrity.js'

const digestOf = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`

const held = Buffer.from('a layer the entry holds '.repeat(4000))
const heldManifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: digestOf(held), size: held.length }]
  })
)
const packBytes = Buffer.concat([heldManifest, held])
const top = { digest: digestOf(heldManifest), mediaType: 'application/vnd.oci.image.index.v1+json' }

const open: Array<{ close: () => Promise<unknown> }> = []
const dirs: string[] = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
  for (const d of dirs.splice(0)) await fs.promises.rm(d, { recursive: true, force: true })
})

/** A pack on a storage stand-in, counting the bytes it sends. */
async function pack(): Promise<{ url: string; sent: () => number }> {
  let sent = 0
  const server = http.createServer((req, res) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (!range) return void res.writeHead(400).end()
    const body = packBytes.subarray(Number(range[1]), Number(range[2]) + 1)
    sent += body.length
    res.writeHead(206, { 'Content-Length': body.length }).end(body)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  open.push({
    close: () =>
      new Promise(resolve => {
        server.closeAllConnections()
        server.close(() => resolve(undefined))
      })
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/pack`, sent: () => sent }
}

async function pushing(): Promise<{ server: BlobServer; base: string; dir: string; sent: () => number }> {
  const stored = await pack()
  const server = await BlobServer.start(
    [
      { digest: top.digest, size: heldManifest.length, offset: 0, url: stored.url },
      { digest: digestOf(held), size: held.length, offset: heldManifest.length, url: stored.url }
    ],
    top,
    5
  )
  open.push(server)
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'blob-push-'))
  dirs.push(dir)
  const ref = server.acceptPushes(dir)
  const [host, named] = ref.split('/')
  return { server, dir, base: `http://${host}/v2/${named?.split(':')[0]}`, sent: stored.sent }
}

/** A blob pushed as containerd pushes one: an upload started by POST, ended by one PUT with its digest. */
async function pushBlob(base: string, data: Buffer, digest = digestOf(data)): Promise<number> {
  const started = await fetch(`${base}/blobs/uploads/`, { method: 'POST' })
  expect(started.status).toBe(202)
  const location = new URL(started.headers.get('location') as string, base)
  location.searchParams.set('digest', digest)
  const put = await fetch(location, { method: 'PUT', body: data })
  if (put.status === 201) expect(put.headers.get('docker-content-digest')).toBe(digest)
  return put.status
}

describe('BlobServer taking a cache export', () => {
  it('gives a ref of its own to export to, so that the pushed manifest is never taken for the entry', async () => {
    const { server, base } = await pushing()
    expect(server.acceptPushes(await fs.promises.mkdtemp(path.join(os.tmpdir(), 'blob-push-')))).toMatch(
      /^127\.0\.0\.1:\d+\/buildx-ci-cache:export$/
    )
    const asked = await fetch(`${base}/manifests/export`, { method: 'HEAD' })
    expect(asked.status).toBe(404)
  })

  it('says it holds the blobs of the entry, without reading their pack, so that BuildKit pushes none of them', async () => {
    const { base, sent } = await pushing()
    const asked = await fetch(`${base}/blobs/${digestOf(held)}`, { method: 'HEAD' })
    expect(asked.status).toBe(200)
    const mounted = await fetch(`${base}/blobs/uploads/?mount=${digestOf(held)}&from=buildx-ci-cache`, {
      method: 'POST'
    })
    expect(mounted.status).toBe(201)
    expect(sent()).toBe(0)
  })

  it('lays a new blob and the pushed cache manifest into the layout, which then reads whole with the held blob elsewhere', async () => {
    const { server, base, dir } = await pushing()
    const fresh = Buffer.from('a layer this build made '.repeat(3000))
    expect((await fetch(`${base}/blobs/${digestOf(fresh)}`, { method: 'HEAD' })).status).toBe(404)
    expect(await pushBlob(base, fresh)).toBe(201)
    expect((await fetch(`${base}/blobs/${digestOf(fresh)}`, { method: 'HEAD' })).status).toBe(200)
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: digestOf(held), size: held.length },
          { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: digestOf(fresh), size: fresh.length }
        ]
      })
    )
    const put = await fetch(`${base}/manifests/export`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
      body: index
    })
    expect(put.status).toBe(201)
    expect(put.headers.get('docker-content-digest')).toBe(digestOf(index))

    const report = await server.close()
    expect(report.pushedBytes).toBe(fresh.length + index.length)
    expect(fs.readdirSync(path.join(dir, 'blobs', 'sha256')).sort()).toEqual(
      [digestOf(fresh), digestOf(index)].map(d => d.slice('sha256:'.length)).sort()
    )
    expect(fs.existsSync(path.join(dir, '.uploads'))).toBe(false)
    const named = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'))
    expect(named.manifests).toEqual([
      {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        digest: digestOf(index),
        size: index.length,
        annotations: { 'org.opencontainers.image.ref.name': 'latest' }
      }
    ])
    expect(await checkLayout(dir)).toEqual({
      problem: `blob ${digestOf(held)} is missing`,
      missing: { digest: digestOf(held), size: held.length }
    })
    expect(await checkLayout(dir, new Map([[digestOf(held), held.length]]))).toEqual({
      blobs: [
        { digest: digestOf(index), size: index.length },
        { digest: digestOf(held), size: held.length, elsewhere: true },
        { digest: digestOf(fresh), size: fresh.length }
      ]
    })
  })

  it('refuses a blob whose bytes do not have the digest it is pushed under, and keeps nothing of it', async () => {
    const { base, dir } = await pushing()
    const claimed = `sha256:${'b'.repeat(64)}`
    expect(await pushBlob(base, Buffer.from('other bytes'), claimed)).toBe(400)
    expect((await fetch(`${base}/blobs/${claimed}`, { method: 'HEAD' })).status).toBe(404)
    expect(fs.existsSync(path.join(dir, 'blobs'))).toBe(false)
  })

  it('takes an upload in PATCHed chunks, as the distribution spec allows', async () => {
    const { base, dir } = await pushing()
    const data = Buffer.from('chunked '.repeat(1000))
    const started = await fetch(`${base}/blobs/uploads/`, { method: 'POST' })
    const location = new URL(started.headers.get('location') as string, base)
    const first = await fetch(location, { method: 'PATCH', body: data.subarray(0, 3000) })
    expect(first.status).toBe(202)
    expect(first.headers.get('range')).toBe('0-2999')
    location.searchParams.set('digest', digestOf(data))
    const put = await fetch(location, { method: 'PUT', body: data.subarray(3000) })
    expect(put.status).toBe(201)
    expect(fs.readFileSync(path.join(dir, 'blobs', 'sha256', digestOf(data).slice(7))).equals(data)).toBe(true)
  })

  it('lays a blob of the entry from its pack on request, checked, for a save that must write it again', async () => {
    const { server, dir } = await pushing()
    expect(await server.lay(dir, digestOf(held))).toBe(true)
    expect(fs.readFileSync(path.join(dir, 'blobs', 'sha256', digestOf(held).slice(7))).equals(held)).toBe(true)
    expect(await server.lay(dir, `sha256:${'c'.repeat(64)}`)).toBe(false)
  })

  it('takes no push before it is told to, so that a build that may not save cannot write', async () => {
    const stored = await pack()
    const server = await BlobServer.start(
      [{ digest: top.digest, size: heldManifest.length, offset: 0, url: stored.url }],
      top,
      5
    )
    open.push(server)
    const [host] = server.ref.split('/')
    const started = await fetch(`http://${host}/v2/buildx-ci-cache/blobs/uploads/`, { method: 'POST' })
    expect(started.status).toBe(405)
  })
})
