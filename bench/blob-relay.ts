// BuildKit's own type=gha client in front of the tests' cache service. The
// Azure SDK inside BuildKit (go-actions-cache) reads the `x-ms-request-id`
// header of every upload answer, which Azure Blob always sends and the
// service does not: without it, dockerd dies of a nil pointer in the middle
// of the first upload (seen with Docker 28.5). This relay forwards every call
// to the service unchanged, adds that header, points the signed URLs the
// service hands out at itself, and counts the bytes each way, which is how
// the benchmarks tell what a job moved.
import { randomUUID } from 'node:crypto'
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

export interface Moved {
  /** Request bodies: what clients sent to the service (uploads, and the twirp calls' JSON). */
  up: number
  /** Response bodies: what the service sent back (downloads, and the twirp answers). */
  down: number
  /** Blob downloads asked for from an offset other than 0 (which the service ignores: such a read would be wrong). */
  rangedReads: number
}

export interface Relay {
  /** Where clients go instead of the service: its ACTIONS_RESULTS_URL is `${url}/`. */
  url: string
  /** Bytes moved since the relay started; a job's are the difference of two readings. */
  moved(): Moved
  close(): Promise<void>
}

const HOST = '127.0.0.1'

/** Starts a relay to the service at `target` (an http://host:port origin). */
export async function startRelay(target: string): Promise<Relay> {
  const origin = new URL(target)
  const moved: Moved = { up: 0, down: 0, rangedReads: 0 }
  const sockets = new Set<Socket>()
  let own = ''

  const server = createServer((req, res) => {
    forward(req, res).catch(error => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end(String(error))
      else res.destroy()
    })
  })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && rangeStart(req.headers) > 0) moved.rangedReads++
    const upstream = request({
      host: origin.hostname,
      port: origin.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: origin.host }
    })
    req.on('data', (chunk: Buffer) => {
      moved.up += chunk.length
    })
    req.pipe(upstream)
    const answer = await new Promise<IncomingMessage>((resolve, reject) => {
      upstream.on('response', resolve)
      upstream.on('error', reject)
    })
    const headers = { ...answer.headers, 'x-ms-request-id': answer.headers['x-ms-request-id'] ?? randomUUID() }
    if (req.url?.startsWith('/twirp/')) {
      // Small JSON answers whose signed URLs name the service: read whole and rewritten.
      const chunks: Buffer[] = []
      for await (const chunk of answer) chunks.push(chunk as Buffer)
      const body = Buffer.from(rewriteUrls(Buffer.concat(chunks).toString('utf8'), origin.origin, own))
      moved.down += body.length
      res.writeHead(answer.statusCode ?? 502, { ...headers, 'content-length': String(body.length) })
      res.end(body)
      return
    }
    res.writeHead(answer.statusCode ?? 502, headers)
    answer.on('data', (chunk: Buffer) => {
      moved.down += chunk.length
    })
    answer.pipe(res)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, HOST, () => resolve())
  })
  const address = server.address()
  if (!address || typeof address !== 'object') throw new Error('The blob relay has no port.')
  own = `http://${HOST}:${address.port}`

  return {
    url: own,
    moved: () => ({ ...moved }),
    async close() {
      const closed = new Promise<void>(resolve => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await closed
    }
  }
}

/** Every occurrence of the service's origin in a twirp answer, pointed at the relay. */
export function rewriteUrls(body: string, from: string, to: string): string {
  return body.split(from).join(to)
}

/** The first byte a GET asks for through `Range` or Azure's `x-ms-range`; 0 without either. */
export function rangeStart(headers: Record<string, string | string[] | undefined>): number {
  const value = headers['x-ms-range'] ?? headers.range
  const m = /^bytes=(\d+)-/.exec(Array.isArray(value) ? (value[0] ?? '') : (value ?? ''))
  return m ? Number(m[1]) : 0
}
