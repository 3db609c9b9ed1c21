import { createHash, randomUUID, type Hash } from 'node:crypto'
import * as fs from 'node:fs'
import type * as http from 'node:http'
import * as path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Transform } from 'node:stream'
import { blobPath } from '../integrity.js'

// What the builder pushes when it exports its cache to the loopback registry
// that serves it the restored entry. BuildKit asks first whether the registry
// holds each blob (a HEAD) and uploads only those it lacks: the blobs of the
// restored entry stay in their packs and are never written, read or hashed
// again, and only what this build made reaches the disk. The pushed cache
// manifest becomes the layout's index.json, tagged `latest` as a local
// export tags it, so that the layout reads as an exported one whose blobs
// are partly elsewhere (integrity.ts checkLayout with `held`).

/** The index.json a local cache export writes, naming one cache manifest. */
export function indexNaming(manifest: { mediaType: string; digest: string; size: number }): string {
  return `${JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]
  })}\n`
}

interface Upload {
  file: string
  hash: Hash
  bytes: number
}

/** The blobs pushed during a build, laid into a layout directory as they arrive. */
export class BlobIntake {
  private readonly uploads = new Map<string, Upload>()
  private readonly received = new Map<string, number>()
  /** Bytes of the blobs received whole with the digest they were pushed under. */
  receivedBytes = 0

  constructor(readonly dir: string) {}

  /** The size of a blob pushed this build, if one was. */
  sizeOf(digest: string): number | undefined {
    return this.received.get(digest)
  }

  /** Starts an upload; its id names the upload's URL. */
  async start(): Promise<string> {
    const id = randomUUID()
    const uploads = path.join(this.dir, '.uploads')
    await fs.promises.mkdir(uploads, { recursive: true })
    const file = path.join(uploads, id)
    await fs.promises.writeFile(file, '')
    this.uploads.set(id, { file, hash: createHash('sha256'), bytes: 0 })
    return id
  }

  /** Appends the request's body to the upload: its size so far, or undefined for an unknown upload. */
  async append(id: string, body: http.IncomingMessage): Promise<number | undefined> {
    const upload = this.uploads.get(id)
    if (!upload) return undefined
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        upload.hash.update(chunk)
        upload.bytes += chunk.length
        done(null, chunk)
      }
    })
    try {
      await pipeline(body, hashing, fs.createWriteStream(upload.file, { flags: 'a' }))
    } catch (error) {
      await this.drop(id)
      throw error
    }
    return upload.bytes
  }

  /**
   * Ends the upload with its last bytes: the blob takes its place in the
   * layout when its content has `digest`, and is dropped when not.
   */
  async finish(id: string, digest: string, body: http.IncomingMessage): Promise<'stored' | 'mismatch' | 'unknown'> {
    if ((await this.append(id, body)) === undefined) return 'unknown'
    const upload = this.uploads.get(id) as Upload
    this.uploads.delete(id)
    const got = `sha256:${upload.hash.digest('hex')}`
    if (got !== digest) {
      await fs.promises.rm(upload.file, { force: true })
      return 'mismatch'
    }
    await this.place(upload.file, digest, upload.bytes)
    return 'stored'
  }

  /** A pushed manifest: stored as a blob, and named by index.json when it is the cache's (pushed by tag). */
  async manifest(body: Buffer, mediaType: string, byTag: boolean): Promise<string> {
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
    const file = path.join(this.dir, '.uploads', `${randomUUID()}.manifest`)
    await fs.promises.mkdir(path.dirname(file), { recursive: true })
    await fs.promises.writeFile(file, body)
    await this.place(file, digest, body.length)
    if (byTag)
      await fs.promises.writeFile(
        path.join(this.dir, 'index.json'),
        indexNaming({ mediaType, digest, size: body.length })
      )
    return digest
  }

  /** Uploads left unfinished are removed; the blobs received stay. */
  async close(): Promise<void> {
    this.uploads.clear()
    await fs.promises.rm(path.join(this.dir, '.uploads'), { recursive: true, force: true })
  }

  private async place(file: string, digest: string, size: number): Promise<void> {
    const target = blobPath(this.dir, digest)
    await fs.promises.mkdir(path.dirname(target), { recursive: true })
    await fs.promises.rename(file, target)
    if (!this.received.has(digest)) this.receivedBytes += size
    this.received.set(digest, size)
  }

  private async drop(id: string): Promise<void> {
    const upload = this.uploads.get(id)
    this.uploads.delete(id)
    if (upload) await fs.promises.rm(upload.file, { force: true })
  }
}
