import { createHash } from 'node:crypto'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { blobPath, children } from '../integrity.js'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { BlobIntake } from './blob-intake.js'

// The restored entry, offered to BuildKit as a read-only registry on the
// loopback interface: BuildKit imports it as `type=registry` and pulls each
// blob when it needs it, while earlier layers unpack, instead of waiting for
// the whole entry to be written to disk first. Each blob is read from its
// pack with one ranged GET on the pack's signed URL and passed on as it
// comes, its digest checked on the way: the last bytes are held back until
// it matches, so that a blob with other content never reaches the builder
// whole. A blob that cannot be read is answered 404, which BuildKit reports
// as content not found, a failure the build already recognises as a damaged
// cache and retries without it: the cache never fails the build.
//
// A build that saves exports its cache back to the same server, under a tag
// of its own (blob-intake.ts): only the blobs the entry lacks are pushed.

/** A blob of the entry: where its bytes lie in a pack. */
export interface PackedBlob {
  digest: string
  size: number
  /** The pack's signed download URL. */
  url: string
  offset: number
}

/** Why an entry cannot serve a build: it names blobs its packs lack, or its packs could not be read. */
export type EntryCheck = { kind: 'incomplete' | 'unreadable'; problem: string }

function incomplete(problem: string): EntryCheck {
  return { kind: 'incomplete', problem }
}

export interface ServeReport {
  /** Bytes that came from the packs. */
  fetchedBytes: number
  /** Blobs sent whole with the right digest. */
  verified: string[]
  /** Bytes the builder pushed when it exported the cache here. */
  pushedBytes: number
  /** What went wrong, a line per blob; empty when every read succeeded. */
  problems: string[]
}

const REPOSITORY = 'buildx-ci-cache'
const TAG = 'entry'
/** What an export pushes: never the restored entry's tag, so that BuildKit asks and pushes its own manifest. */
const PUSH_TAG = 'export'
const DIGEST = /^sha256:[a-f0-9]{64}$/
const BLOB_PATH = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/
const UPLOADS_PATH = /^\/v2\/(.+)\/blobs\/uploads\/?$/
const UPLOAD_PATH = /^\/v2\/(.+)\/blobs\/uploads\/([a-f0-9-]{36})$/
/** Cache manifests are small; a bigger push is not one. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
const MANIFEST_PATH = /^\/v2\/(.+)\/manifests\/([^/]+)$/
const RANGE = /^bytes=(\d+)-(\d*)$/
const MANIFEST_MEDIA = /(manifest|index)[^/]*\+json$/

export class BlobServer {
  private fetchedBytes = 0
  private readonly verified = new Set<string>()
  private readonly problems = new Map<string, string>()
  private readonly reads = new Set<AbortController>()
  /** Manifests and configs, read once: BuildKit asks for the cache manifest by tag, then by digest. */
  private readonly small = new Map<string, Promise<Buffer | undefined>>()
  private intake: BlobIntake | undefined

  private constructor(
    private readonly server: http.Server,
    private readonly blobs: ReadonlyMap<string, PackedBlob>,
    /** The cache manifest index.json names, served for any tag. */
    private readonly top: { digest: string; mediaType: string },
    private readonly stallMs: number,
    /** What BuildKit is given: `--cache-from type=registry,ref=<ref>`. */
    readonly ref: string
  ) {}

  /** Serves `blobs` on 127.0.0.1, on a port of its own; resolves once it listens. */
  static async start(
    blobs: readonly PackedBlob[],
    top: { digest: string; mediaType: string },
    stallSeconds: number
  ): Promise<BlobServer> {
    const server = http.createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const { port } = server.address() as AddressInfo
    const served = new BlobServer(
      server,
      new Map(blobs.map(b => [b.digest, b])),
      top,
      stallSeconds * 1000,
      `127.0.0.1:${port}/${REPOSITORY}:${TAG}`
    )
    server.on('request', (req, res) => void served.answer(req, res))
    return served
  }

  /**
   * Why the entry cannot serve a build, or undefined when it can: the cache
   * manifest is read (and kept for the builder), and every blob it names must
   * be in the packs at its size. Catches an entry saved incomplete before the
   * build, where a builder would only fail on it part-way.
   */
  async check(): Promise<EntryCheck | undefined> {
    const pending = [this.top.digest]
    const seen = new Set<string>()
    while (pending.length > 0) {
      const digest = pending.shift() as string
      if (seen.has(digest)) continue
      seen.add(digest)
      const body = await this.readSmall(digest)
      if (!body) {
        const failed = this.problems.get(digest)
        return failed ? { kind: 'unreadable', problem: failed } : incomplete(`blob ${digest} is missing`)
      }
      let document: unknown
      try {
        document = JSON.parse(body.toString('utf8'))
      } catch {
        return incomplete(`manifest ${digest} is not valid JSON`)
      }
      for (const { digest: named, size, mediaType } of children(document)) {
        const child = {
          digest: String(named),
          size: Number(size),
          mediaType: typeof mediaType === 'string' ? mediaType : ''
        }
        const held = this.blobs.get(child.digest)
        if (!held) return incomplete(`blob ${child.digest} is missing`)
        if (held.size !== child.size)
          return incomplete(`blob ${child.digest} has ${held.size} bytes, not ${child.size}`)
        if (MANIFEST_MEDIA.test(child.mediaType)) pending.push(child.digest)
      }
    }
    return undefined
  }

  /**
   * From now on the builder may export its cache here: what it pushes is laid
   * into `dir` (see blob-intake.ts). Returns the ref to export to.
   */
  acceptPushes(dir: string): string {
    this.intake = new BlobIntake(dir)
    return this.ref.replace(/:[^:/]+$/, `:${PUSH_TAG}`)
  }

  /** Whether the builder was told to export here. */
  pushing(): boolean {
    return this.intake !== undefined
  }

  /** Bytes the builder pushed since it was told to export here. */
  pushedBytes(): number {
    return this.intake?.receivedBytes ?? 0
  }

  /** Whether every blob read so far arrived whole with its digest. */
  trusted(): boolean {
    return this.problems.size === 0
  }

  /**
   * Writes a blob of the entry into the layout at `dir` from its pack, its
   * digest checked: for the save, which needs on disk the manifests it reads
   * and the blobs of a pack it writes again. False when it cannot be read.
   */
  async lay(dir: string, digest: string): Promise<boolean> {
    const blob = this.blobs.get(digest)
    if (!blob || this.problems.has(digest)) return false
    const target = blobPath(dir, digest)
    const partial = `${target}.partial`
    await fs.promises.mkdir(path.dirname(target), { recursive: true })
    const hash = createHash('sha256')
    try {
      await pipeline(
        this.read(blob, 0, blob.size - 1),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const data of source) {
            hash.update(data)
            yield data
          }
        },
        fs.createWriteStream(partial)
      )
    } catch (error) {
      await fs.promises.rm(partial, { force: true })
      this.unreadable(digest, error)
      return false
    }
    const got = `sha256:${hash.digest('hex')}`
    if (got !== digest) {
      await fs.promises.rm(partial, { force: true })
      this.mismatched(digest, got)
      return false
    }
    await fs.promises.rename(partial, target)
    return true
  }

  /** Stops serving, ending any read still open, and says what was served. */
  async close(): Promise<ServeReport> {
    for (const read of this.reads) read.abort()
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
    await this.intake?.close()
    return {
      fetchedBytes: this.fetchedBytes,
      verified: [...this.verified],
      problems: [...this.problems.values()],
      pushedBytes: this.intake?.receivedBytes ?? 0
    }
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://loopback')
      const method = req.method ?? 'GET'
      if (url.pathname === '/v2/' || url.pathname === '/v2') {
        res.writeHead(200, { 'Docker-Distribution-API-Version': 'registry/2.0', 'Content-Type': 'application/json' })
        return void res.end(method === 'HEAD' ? undefined : '{}')
      }
      if (method !== 'GET' && method !== 'HEAD') return await this.push(method, url, req, res)
      const head = method === 'HEAD'
      const manifest = MANIFEST_PATH.exec(url.pathname)
      if (manifest) return await this.manifest(manifest[2] as string, head, res)
      const blob = BLOB_PATH.exec(url.pathname)
      if (blob) return await this.blob(blob[2] as string, head, req.headers.range, res)
      end(res, 404)
    } catch {
      res.destroy()
    }
  }

  private async manifest(reference: string, head: boolean, res: http.ServerResponse): Promise<void> {
    if (reference === PUSH_TAG) return end(res, 404)
    const digest = DIGEST.test(reference) ? reference : this.top.digest
    const blob = this.blobs.get(digest)
    if (!blob) return end(res, 404)
    const body = await this.readSmall(digest)
    if (!body) return end(res, 404)
    const mediaType = digest === this.top.digest ? this.top.mediaType : declaredMediaType(body)
    res.writeHead(200, { 'Content-Type': mediaType, 'Content-Length': body.length, 'Docker-Content-Digest': digest })
    res.end(head ? undefined : body)
  }

  /** Whether the registry holds the blob for an export: pushed this build, or in the entry's packs while they are trusted. */
  private holds(digest: string): boolean {
    if (this.intake?.sizeOf(digest) !== undefined) return true
    // Once a blob failed, the packs are not trusted: the save uploads every blob, so each must be pushed.
    return this.blobs.has(digest) && this.trusted()
  }

  // The upload protocol of the distribution spec, as containerd's pusher
  // speaks it: POST starts an upload (or mounts a blob held already), PUT
  // with ?digest= ends it, PATCH adds to it; a manifest is PUT by tag.
  private async push(method: string, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const intake = this.intake
    if (!intake) return end(res, 405)
    const uploads = UPLOADS_PATH.exec(url.pathname)
    if (method === 'POST' && uploads) {
      const mount = url.searchParams.get('mount') ?? ''
      if (DIGEST.test(mount) && this.holds(mount)) {
        res.writeHead(201, { Location: `/v2/${uploads[1]}/blobs/${mount}`, 'Docker-Content-Digest': mount })
        return void res.end()
      }
      const id = await intake.start()
      res.writeHead(202, {
        Location: `/v2/${uploads[1]}/blobs/uploads/${id}`,
        'Docker-Upload-UUID': id,
        Range: '0-0',
        'Content-Length': 0
      })
      return void res.end()
    }
    const upload = UPLOAD_PATH.exec(url.pathname)
    if (upload && method === 'PATCH') {
      const bytes = await intake.append(upload[2] as string, req)
      if (bytes === undefined) return end(res, 404)
      res.writeHead(202, {
        Location: `/v2/${upload[1]}/blobs/uploads/${upload[2]}`,
        'Docker-Upload-UUID': upload[2] as string,
        Range: `0-${Math.max(bytes - 1, 0)}`,
        'Content-Length': 0
      })
      return void res.end()
    }
    if (upload && method === 'PUT') {
      const digest = url.searchParams.get('digest') ?? ''
      if (!DIGEST.test(digest)) return end(res, 400)
      const stored = await intake.finish(upload[2] as string, digest, req)
      if (stored !== 'stored') return end(res, stored === 'unknown' ? 404 : 400)
      res.writeHead(201, { Location: `/v2/${upload[1]}/blobs/${digest}`, 'Docker-Content-Digest': digest })
      return void res.end()
    }
    const manifest = MANIFEST_PATH.exec(url.pathname)
    if (manifest && method === 'PUT') {
      const body = await readBody(req, MAX_MANIFEST_BYTES)
      if (body === undefined) return end(res, 413)
      const reference = manifest[2] as string
      const mediaType = req.headers['content-type'] ?? declaredMediaType(body)
      const digest = await intake.manifest(body, mediaType, !DIGEST.test(reference))
      res.writeHead(201, { Location: `/v2/${manifest[1]}/manifests/${digest}`, 'Docker-Content-Digest': digest })
      return void res.end()
    }
    end(res, 405)
  }

  private async blob(
    digest: string,
    head: boolean,
    range: string | undefined,
    res: http.ServerResponse
  ): Promise<void> {
    const headers = { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': digest }
    const pushed = this.intake?.sizeOf(digest)
    if (pushed !== undefined && this.intake) {
      res.writeHead(200, { ...headers, 'Content-Length': pushed })
      if (head) return void res.end()
      return void fs.createReadStream(blobPath(this.intake.dir, digest)).pipe(res)
    }
    const blob = this.blobs.get(digest)
    // A blob that failed once is not read again: the build gives up on the cache at once.
    if (!blob || this.problems.has(digest)) return end(res, 404)
    if (head) {
      if (this.intake && !this.holds(digest)) return end(res, 404)
      res.writeHead(200, { ...headers, 'Content-Length': blob.size })
      return void res.end()
    }
    const asked = range === undefined ? undefined : RANGE.exec(range)
    const start = asked ? Number(asked[1]) : 0
    const last = asked?.[2] ? Math.min(Number(asked[2]), blob.size - 1) : blob.size - 1
    if (start > last && blob.size > 0) {
      res.writeHead(416, { 'Content-Range': `bytes */${blob.size}` })
      return void res.end()
    }
    const whole = start === 0 && last === blob.size - 1
    const reader = this.read(blob, start, last)
    // Held back until the digest is known: only a blob that matches is sent whole.
    let held: Buffer
    try {
      const step = await reader.next()
      held = step.done ? Buffer.alloc(0) : step.value
    } catch (error) {
      this.unreadable(digest, error)
      return end(res, 404)
    }
    res.writeHead(
      whole ? 200 : 206,
      whole
        ? { ...headers, 'Content-Length': blob.size }
        : { ...headers, 'Content-Length': last - start + 1, 'Content-Range': `bytes ${start}-${last}/${blob.size}` }
    )
    const hash = whole ? createHash('sha256') : undefined
    try {
      for await (const data of reader) {
        // The builder hung up (it gave up, or has what it needed): stop reading.
        if (res.destroyed) return
        hash?.update(held)
        if (!res.write(held)) await waitDrain(res)
        held = data
      }
      hash?.update(held)
    } catch (error) {
      this.unreadable(digest, error)
      return void res.destroy()
    }
    const got = hash && `sha256:${hash.digest('hex')}`
    if (got !== undefined && got !== digest) {
      this.mismatched(digest, got)
      return void res.destroy()
    }
    if (got !== undefined) this.verified.add(digest)
    res.end(held)
  }

  private readSmall(digest: string): Promise<Buffer | undefined> {
    let read = this.small.get(digest)
    if (!read) {
      const blob = this.blobs.get(digest)
      read = blob ? this.readWhole(blob) : Promise.resolve(undefined)
      this.small.set(digest, read)
    }
    return read
  }

  private async readWhole(blob: PackedBlob): Promise<Buffer | undefined> {
    const parts: Buffer[] = []
    try {
      for await (const data of this.read(blob, 0, blob.size - 1)) parts.push(data)
    } catch (error) {
      this.unreadable(blob.digest, error)
      return undefined
    }
    const body = Buffer.concat(parts)
    const got = `sha256:${createHash('sha256').update(body).digest('hex')}`
    if (got === blob.digest) {
      this.verified.add(blob.digest)
      return body
    }
    this.mismatched(blob.digest, got)
    return undefined
  }

  private unreadable(digest: string, error: unknown): void {
    this.problems.set(digest, `blob ${digest} could not be read from its pack: ${(error as Error).message}`)
  }

  private mismatched(digest: string, got: string): void {
    this.problems.set(digest, `blob ${digest} arrived with other content (${got})`)
  }

  /** Bytes `first`..`last` of the blob, from its pack; rejects when the pack stops sending for the stall bound. */
  private async *read(blob: PackedBlob, first: number, last: number): AsyncGenerator<Buffer> {
    if (last < first) return
    const abort = new AbortController()
    this.reads.add(abort)
    let timer = setTimeout(() => abort.abort(stalled(this.stallMs)), this.stallMs)
    try {
      const response = await fetch(blob.url, {
        headers: { Range: `bytes=${blob.offset + first}-${blob.offset + last}` },
        signal: abort.signal
      })
      if (response.status !== 206 && response.status !== 200)
        throw new Error(`the storage service answered ${response.status}`)
      if (!response.body) throw new Error('the storage service sent no body')
      // A 200 is the whole pack: skip to the blob.
      let skip = response.status === 200 ? blob.offset + first : 0
      let left = last - first + 1
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        clearTimeout(timer)
        timer = setTimeout(() => abort.abort(stalled(this.stallMs)), this.stallMs)
        let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        if (skip > 0) {
          const dropped = Math.min(skip, data.length)
          skip -= dropped
          data = data.subarray(dropped)
        }
        if (data.length === 0) continue
        const take = data.subarray(0, left)
        left -= take.length
        this.fetchedBytes += take.length
        yield take
        if (left === 0) break
      }
      if (left > 0) throw new Error(`the storage service sent ${last - first + 1 - left} of ${last - first + 1} bytes`)
    } catch (error) {
      throw abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason : error
    } finally {
      clearTimeout(timer)
      abort.abort()
      this.reads.delete(abort)
    }
  }
}

function stalled(ms: number): Error {
  return new Error(`nothing arrived for ${Math.round(ms / 1000)} s`)
}

function end(res: http.ServerResponse, status: number): void {
  res.writeHead(status)
  res.end()
}

function waitDrain(res: http.ServerResponse): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.once('drain', done)
    res.once('close', done)
  })
}

/** The request's body, or undefined when it is longer than `limit`. */
async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = []
  let length = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > limit) return undefined
    parts.push(chunk)
  }
  return Buffer.concat(parts)
}

/** A manifest's own mediaType field, which registries send as its Content-Type. */
function declaredMediaType(body: Buffer): string {
  try {
    const { mediaType } = JSON.parse(body.toString('utf8')) as { mediaType?: unknown }
    if (typeof mediaType === 'string') return mediaType
  } catch {
    // Not JSON: BuildKit will say so.
  }
  return 'application/vnd.oci.image.manifest.v1+json'
}
