import { BlobClient } from '@azure/storage-blob'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { eachLimited, limiter } from './limit.js'

// Packs move through the storage SDK @actions/cache uses, on the same signed
// URLs: byte ranges in parallel down, blocks in parallel up. Nothing is
// archived or compressed around the blobs, and each blob is written where the
// layout keeps it.

/** Bytes one ranged GET asks for. */
const CHUNK_BYTES = 16 * 1024 * 1024
/** Ranged GETs open at once, over all packs of a restore. */
export const DOWNLOAD_WIDTH = 8
/** Bytes one staged block carries. */
const BLOCK_BYTES = 32 * 1024 * 1024
const UPLOAD_WIDTH = 4
/** Blobs hashed at once: a runner has two to four cores. */
const VERIFY_WIDTH = 2
/** Up to this, a pack goes up in one request. */
const SINGLE_SHOT_BYTES = 8 * 1024 * 1024
const TRY_TIMEOUT_MS = 30_000

/** A blob to write from a pack: where it lies in the pack, and the file it becomes. */
export interface BlobRange {
  digest: string
  size: number
  offset: number
  path: string
}

interface Chunk {
  url: string
  offset: number
  count: number
  /** The blobs the chunk's bytes belong to, in pack order. */
  blobs: BlobRange[]
}

/**
 * Writes every blob of `ranges` from the pack at `url` (a signed download
 * URL), checking each against its digest. Rejects on the first failure,
 * saying which blob; the caller removes what was written.
 */
export async function fetchBlobs(packs: Array<{ url: string; ranges: BlobRange[] }>): Promise<number> {
  const all = packs.flatMap(p => p.ranges)
  const chunks = packs.flatMap(p => chunksOf(p.url, p.ranges))
  // Each blob is checked as soon as its last chunk is written, while the
  // others still download: a restore waits for the network, and hashing a
  // 165 MB entry after the last byte took 0.5 to 1.3 s here. An empty blob
  // has no chunk and is checked at once.
  const unwritten = new Map<BlobRange, number>(all.map(b => [b, 0]))
  for (const chunk of chunks) for (const blob of chunk.blobs) unwritten.set(blob, (unwritten.get(blob) ?? 0) + 1)
  const gate = limiter(VERIFY_WIDTH)
  const checks: Array<Promise<void>> = []
  const check = (blob: BlobRange): void => {
    const checked = gate(() => verify(blob))
    // Awaited below; until then a failure must not count as unhandled.
    checked.catch(() => undefined)
    checks.push(checked)
  }
  const handles = new Map<string, fs.promises.FileHandle>()
  try {
    for (const blob of all) handles.set(blob.path, await fs.promises.open(blob.path, 'w'))
    for (const blob of all) if (unwritten.get(blob) === 0) check(blob)
    await eachLimited(chunks, DOWNLOAD_WIDTH, async chunk => {
      await fetchChunk(chunk, handles)
      for (const blob of chunk.blobs) {
        const left = (unwritten.get(blob) ?? 1) - 1
        unwritten.set(blob, left)
        if (left === 0) check(blob)
      }
    })
  } finally {
    // No check is left reading behind the caller's back, whatever failed.
    await Promise.allSettled(checks)
    await Promise.all([...handles.values()].map(h => h.close()))
  }
  await Promise.all(checks)
  return all.reduce((sum, b) => sum + b.size, 0)
}

/** Adjacent blobs read together, cut into chunks of at most CHUNK_BYTES. */
export function chunksOf(url: string, ranges: readonly BlobRange[]): Chunk[] {
  const sorted = ranges.filter(r => r.size > 0).sort((a, b) => a.offset - b.offset)
  const chunks: Chunk[] = []
  let current: Chunk | undefined
  for (const blob of sorted) {
    let start = blob.offset
    const end = blob.offset + blob.size
    while (start < end) {
      const joins = current !== undefined && current.offset + current.count === start && current.count < CHUNK_BYTES
      if (!joins || current === undefined) {
        current = { url, offset: start, count: 0, blobs: [] }
        chunks.push(current)
      }
      const take = Math.min(end - start, CHUNK_BYTES - current.count)
      current.count += take
      if (current.blobs.at(-1) !== blob) current.blobs.push(blob)
      start += take
    }
  }
  return chunks
}

async function fetchChunk(chunk: Chunk, handles: Map<string, fs.promises.FileHandle>): Promise<void> {
  const client = new BlobClient(chunk.url, undefined, { retryOptions: { tryTimeoutInMs: TRY_TIMEOUT_MS } })
  const response = await client.download(chunk.offset, chunk.count, { maxRetryRequests: 3 })
  const body = response.readableStreamBody
  if (!body) throw new Error('the storage service sent no body')
  let at = chunk.offset
  let current = 0
  for await (const data of body as AsyncIterable<Buffer>) {
    let used = 0
    while (used < data.length) {
      // Bytes come in order and the chunk's blobs lie back to back.
      while (current < chunk.blobs.length && at >= endOf(chunk.blobs[current] as BlobRange)) current++
      const blob = chunk.blobs[current]
      if (blob === undefined) throw new Error(`the storage service sent more than the ${chunk.count} bytes asked for`)
      const n = Math.min(data.length - used, endOf(blob) - at)
      await (handles.get(blob.path) as fs.promises.FileHandle).write(data, used, n, at - blob.offset)
      used += n
      at += n
    }
  }
  if (at !== chunk.offset + chunk.count)
    throw new Error(`the storage service sent ${at - chunk.offset} of the ${chunk.count} bytes asked for`)
}

function endOf(blob: BlobRange): number {
  return blob.offset + blob.size
}

async function verify(blob: BlobRange): Promise<void> {
  const hash = createHash('sha256')
  await pipeline(fs.createReadStream(blob.path), hash)
  const digest = `sha256:${hash.digest('hex')}`
  if (digest !== blob.digest) throw new Error(`blob ${blob.digest} arrived with other content (${digest})`)
}

/** The files of a pack, in pack order. */
export interface PackFile {
  path: string
  size: number
}

/** Uploads the files, back to back, as the blob at `url` (a signed upload URL). */
export async function uploadPack(url: string, files: readonly PackFile[]): Promise<void> {
  const client = new BlobClient(url, undefined, { retryOptions: { tryTimeoutInMs: 10 * TRY_TIMEOUT_MS } })
  const blocks = client.getBlockBlobClient()
  const total = files.reduce((sum, f) => sum + f.size, 0)
  if (total <= SINGLE_SHOT_BYTES) {
    const body = Buffer.concat(await Promise.all(files.map(f => fs.promises.readFile(f.path))))
    if (body.length !== total) throw new Error('a blob changed size while it was being uploaded')
    await blocks.upload(body, body.length)
    return
  }
  const pieces: Array<{ id: string; path: string; start: number; length: number }> = []
  for (const file of files) {
    for (let start = 0; start < file.size; start += BLOCK_BYTES) {
      // Block ids of one blob must all have the same length.
      const id = Buffer.from(String(pieces.length).padStart(8, '0')).toString('base64')
      pieces.push({ id, path: file.path, start, length: Math.min(BLOCK_BYTES, file.size - start) })
    }
  }
  await eachLimited(pieces, UPLOAD_WIDTH, async piece => {
    const body = (): NodeJS.ReadableStream =>
      fs.createReadStream(piece.path, { start: piece.start, end: piece.start + piece.length - 1 })
    await blocks.stageBlock(piece.id, body, piece.length)
  })
  await blocks.commitBlockList(pieces.map(p => p.id))
}
