import * as diagnostics from 'node:diagnostics_channel'
import type { ClientRequest } from 'node:http'
import type { Socket } from 'node:net'
import type { Pending } from './client-protocol.js'

interface Open {
  kind: Pending['kind']
  method: string
  socket?: Socket
  /** Socket byte count when the request got it: a kept-alive socket has carried others before. */
  base: number
  moved: number
  lastMovedAt: number
}

/**
 * Every HTTP request the cache client makes in this process, and when a byte
 * last moved on each, read from the sockets Node reports through its
 * diagnostics channel. The client's own code is not touched: the twirp
 * calls, the download and the storage SDK's upload all go through node:http.
 */
export class NetworkActivity {
  private readonly open = new Map<ClientRequest, Open>()
  private readonly seen = new WeakSet<ClientRequest>()

  constructor(private readonly now: () => number = Date.now) {
    // `created` comes as the request is made (Node 22.12 and later); `start`
    // only once its body is written, too late for a streamed upload, and is
    // the fallback on older runtimes.
    for (const name of ['http.client.request.created', 'http.client.request.start']) {
      diagnostics.subscribe(name, message => this.started((message as { request: ClientRequest }).request))
    }
  }

  /** The requests still open, each with how long it has not moved a byte. */
  pending(): Pending[] {
    const now = this.now()
    return [...this.open.values()].map(o => {
      const moved = o.socket ? transferred(o.socket) - o.base : 0
      if (moved !== o.moved) {
        o.moved = moved
        o.lastMovedAt = now
      }
      return { kind: o.kind, method: o.method, idleSeconds: (now - o.lastMovedAt) / 1000, bytes: o.moved }
    })
  }

  private started(request: ClientRequest): void {
    if (this.seen.has(request)) return
    this.seen.add(request)
    const entry: Open = { ...classify(request.method, request.path), base: 0, moved: 0, lastMovedAt: this.now() }
    const attach = (socket: Socket): void => {
      entry.socket = socket
      entry.base = transferred(socket)
    }
    if (request.socket) attach(request.socket)
    else request.once('socket', attach)
    this.open.set(request, entry)
    request.once('close', () => this.open.delete(request))
  }
}

// Bytes received, and bytes handed to the system to send: bytesWritten also
// counts what Node still holds in the socket's buffer, which a request body
// given at once fills in full however slowly it leaves.
function transferred(socket: Socket): number {
  return socket.bytesRead + socket.bytesWritten - socket.writableLength
}

/**
 * A call to the service (twirp in v2; the artifactcache API in v1, except its
 * chunk uploads) or a transfer to or from storage.
 */
export function classify(method: string, urlPath: string): Pick<Pending, 'kind' | 'method'> {
  const twirp = /\/twirp\/[^/]+\/([A-Za-z]+)/.exec(urlPath)
  if (twirp) return { kind: 'call', method: twirp[1] }
  if (urlPath.includes('/_apis/artifactcache/'))
    return method === 'PATCH' ? { kind: 'upload', method: '' } : { kind: 'call', method: '' }
  return { kind: method === 'GET' || method === 'HEAD' ? 'download' : 'upload', method: '' }
}
