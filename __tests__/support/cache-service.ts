// A local stand-in for the GitHub Actions cache service (v2, twirp) and the
// blob storage behind its signed URLs, spoken to by the real @actions/cache
// client. Entries live as files on disk so benchmarks can store large ones.
//
// Point the client at it with `service.env(runtimeToken([...]))` and make sure
// GITHUB_SERVER_URL is unset (or github.com): any other host makes the client
// fall back to the v1 protocol, which this service does not speak.
//
// Run directly to serve other processes:
//   node __tests__/support/cache-service.ts [--port N] [--storage DIR]
// prints `CACHE_SERVICE_URL=<url>` and serves until SIGTERM/SIGINT. Entries
// found in DIR/entries.json from an earlier run are served again.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { createHmac, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

export type Permission = 1 | 2 | 3 // 1 read, 2 write, 3 both

export interface TokenScope {
  scope: string
  permission: Permission
}

// Twirp methods, then the blob operations the client performs on signed URLs.
export type MethodName =
  | 'GetCacheEntryDownloadURL'
  | 'CreateCacheEntry'
  | 'FinalizeCacheEntryUpload'
  | 'PutBlob'
  | 'PutBlock'
  | 'PutBlockList'
  | 'GetBlob'

type FaultKind =
  | { kind: 'refuse' }
  | { kind: 'status'; status: number }
  | { kind: 'rate-limit'; retryAfterSeconds: number }
  | { kind: 'hang' }
  | { kind: 'truncate-download' }
  | { kind: 'garbage-download' }
  | { kind: 'random-download' }
  /** Sends the headers and the first `afterBytes` of the archive, then nothing more, keeping the connection open. */
  | { kind: 'stall-download'; afterBytes: number }
  /** Sends the archive at this pace, in four pieces a second. */
  | { kind: 'throttle-download'; bytesPerSecond: number }
  /** Reads the first `afterBytes` of an upload, then stops reading and never answers. */
  | { kind: 'stall-upload'; afterBytes: number }

// Without `methods` a fault hits every call it can apply to.
export type Fault = FaultKind & { methods?: MethodName[] }

export interface EntryInfo {
  scope: string
  key: string
  version: string
  sizeBytes: number
  createdAt: Date
}

export type Outcome =
  | 'hit'
  | 'miss'
  | 'created'
  | 'exists'
  | 'finalized'
  | 'uploaded'
  | 'downloaded'
  | 'read-denied'
  | 'write-denied'
  | 'unauthenticated'
  | 'bad-signature'
  | 'invalid'
  | 'not-found'
  | `fault:${FaultKind['kind']}`

export interface RequestLog {
  method: MethodName | 'unknown'
  key?: string
  scope?: string
  outcome: Outcome
  status?: number
  time: Date
}

export interface CacheService {
  url: string
  close(): Promise<void>
  entries(): EntryInfo[]
  requests: RequestLog[]
  setFault(fault: Fault | undefined): void
  env(token: string): Record<string, string>
}

export interface CacheServiceOptions {
  storageDir?: string
  port?: number
}

const BLOB_METHODS: MethodName[] = ['PutBlob', 'PutBlock', 'PutBlockList', 'GetBlob']

// Faults that shape a download's body rather than the answer to a call.
const DOWNLOAD_FAULTS = [
  'truncate-download',
  'garbage-download',
  'random-download',
  'stall-download',
  'throttle-download'
] as const
type DownloadFault = Extract<FaultKind, { kind: (typeof DOWNLOAD_FAULTS)[number] }>
function isDownloadFault(fault: Fault): fault is DownloadFault & Fault {
  return (DOWNLOAD_FAULTS as readonly string[]).includes(fault.kind)
}
const UPLOAD_METHODS: MethodName[] = ['PutBlob', 'PutBlock']
const HOST = '127.0.0.1'
const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.CacheService/'
const ACCOUNT = 'devstoreaccount1'
const CONTAINER = 'actions-cache'
const URL_LIFETIME_MS = 60 * 60 * 1000
const MAX_TWIRP_BODY = 1024 * 1024

function base64url(value: string): string {
  return Buffer.from(value).toString('base64url')
}

// Real runtime tokens are signed by GitHub; nothing here checks a signature,
// only the `ac` claim, which is itself a JSON string inside the payload.
export function runtimeToken(scopes: TokenScope[]): string {
  const ac = JSON.stringify(scopes.map(s => ({ Scope: s.scope, Permission: s.permission })))
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'none' }))
  const payload = base64url(JSON.stringify({ ac, exp: Math.floor(Date.now() / 1000) + 6 * 3600 }))
  return `${header}.${payload}.${base64url('unsigned')}`
}

function scopesOf(req: IncomingMessage): TokenScope[] | undefined {
  const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
  const payload = match?.[1].split('.')[1]
  if (!payload) return undefined
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    const ac: unknown = JSON.parse(claims.ac ?? '[]')
    if (!Array.isArray(ac)) return undefined
    return ac.map(s => ({ scope: String(s.Scope), permission: Number(s.Permission) as Permission }))
  } catch {
    return undefined
  }
}

interface StoredEntry extends EntryInfo {
  id: number
  blob: string
  seq: number
  lastAccessedAt: Date
}

interface Reservation {
  id: number
  scope: string
  key: string
  version: string
  blob: string
  uploadedBytes?: number
}

// Twirp's mapping of HTTP status to error code, used when a fault picks a status.
const TWIRP_CODES: Record<number, string> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  408: 'deadline_exceeded',
  409: 'already_exists',
  412: 'failed_precondition',
  429: 'resource_exhausted',
  500: 'internal',
  501: 'unimplemented',
  503: 'unavailable'
}

class HttpError extends Error {
  status: number
  code: string
  outcome: Outcome
  constructor(status: number, code: string, message: string, outcome: Outcome) {
    super(message)
    this.status = status
    this.code = code
    this.outcome = outcome
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers
  })
  res.end(text)
}

function sendBlobError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {}
): void {
  const text = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`
  res.writeHead(status, {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(text),
    'x-ms-error-code': code,
    ...headers
  })
  res.end(text)
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new HttpError(400, 'invalid_argument', 'request body too large', 'invalid')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

function field(body: Record<string, unknown>, snake: string, camel: string): unknown {
  return body[snake] ?? body[camel]
}

function blobMethod(req: IncomingMessage, query: URLSearchParams): MethodName | undefined {
  if (req.method === 'GET' || req.method === 'HEAD') return 'GetBlob'
  if (req.method !== 'PUT') return undefined
  const comp = query.get('comp')
  if (comp === 'block') return 'PutBlock'
  if (comp === 'blocklist') return 'PutBlockList'
  return comp ? undefined : 'PutBlob'
}

export async function startCacheService(options: CacheServiceOptions = {}): Promise<CacheService> {
  const ownsStorage = options.storageDir === undefined
  const storageDir = options.storageDir ?? (await mkdtemp(join(tmpdir(), 'cache-service-')))
  const blobDir = join(storageDir, 'blobs')
  const blockDir = join(storageDir, 'blocks')
  const indexFile = join(storageDir, 'entries.json')
  await mkdir(blobDir, { recursive: true })
  await mkdir(blockDir, { recursive: true })

  const secret = randomBytes(32)
  const requests: RequestLog[] = []
  const reservations = new Map<string, Reservation>()
  const stored: StoredEntry[] = await loadIndex(indexFile)
  let nextId = stored.reduce((max, e) => Math.max(max, e.id), 0) + 1
  let seq = stored.reduce((max, e) => Math.max(max, e.seq), 0) + 1
  let fault: Fault | undefined
  let closed = false

  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    handle(req, res).catch(error => {
      if (!res.headersSent) sendJson(res, 500, { code: 'internal', msg: String(error) })
      else res.destroy()
    })
  })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  let port = options.port ?? 0
  let listening = listen()
  await listening
  const url = `http://${HOST}:${port}`

  function listen(): Promise<void> {
    if (server.listening || closed || refusesAll(fault)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, HOST, () => {
        server.off('error', reject)
        const address = server.address()
        if (address && typeof address === 'object') port = address.port
        // The fault may have come back while the port was being bound.
        if (refusesAll(fault)) stopListening()
        resolve()
      })
    })
  }

  function stopListening(): void {
    if (server.listening) server.close()
    for (const socket of sockets) socket.destroy()
  }

  // A refusal of every call closes the listener so clients get ECONNREFUSED,
  // as when the service is down; the same port is reopened when it clears.
  function refusesAll(f: Fault | undefined): boolean {
    return f?.kind === 'refuse' && f.methods === undefined
  }

  function setFault(next: Fault | undefined): void {
    if (closed) return
    const wasDown = refusesAll(fault)
    fault = next
    if (!wasDown && refusesAll(next)) {
      // At once, so that a call made right after is already refused.
      stopListening()
    } else if (wasDown && !refusesAll(next)) {
      listening = listening.catch(() => undefined).then(listen)
      listening.catch(error => process.stderr.write(`cache service: cannot reopen port ${port}: ${error}\n`))
    }
  }

  function faultFor(method: MethodName): Fault | undefined {
    if (!fault || (fault.methods && !fault.methods.includes(method))) return undefined
    if (isDownloadFault(fault) && method !== 'GetBlob') return undefined
    return fault.kind === 'stall-upload' && !UPLOAD_METHODS.includes(method) ? undefined : fault
  }

  function log(
    method: RequestLog['method'],
    outcome: Outcome,
    status: number,
    context: { key?: string; scope?: string } = {}
  ): void {
    requests.push({ method, key: context.key, scope: context.scope, outcome, status, time: new Date() })
  }

  function signedUrl(blob: string, permission: 'r' | 'cw'): string {
    const path = `/${ACCOUNT}/${CONTAINER}/${blob}`
    const expiry = new Date(Date.now() + URL_LIFETIME_MS).toISOString()
    const query = new URLSearchParams({
      sv: '2024-11-04',
      sr: 'b',
      sp: permission,
      se: expiry,
      sig: sign(path, permission, expiry)
    })
    return `${url}${path}?${query}`
  }

  function sign(path: string, permission: string, expiry: string): string {
    return createHmac('sha256', secret).update(`${permission}\n${expiry}\n${path}`).digest('base64')
  }

  function signatureValid(path: string, query: URLSearchParams, permission: string): boolean {
    const sp = query.get('sp') ?? ''
    const se = query.get('se') ?? ''
    return sp.includes(permission) && Date.parse(se) > Date.now() && query.get('sig') === sign(path, sp, se)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', url)
    if (target.pathname.startsWith(TWIRP_PREFIX))
      return handleTwirp(req, res, target.pathname.slice(TWIRP_PREFIX.length))
    const blobPath = new RegExp(`^/${ACCOUNT}/${CONTAINER}/([A-Za-z0-9._-]+)$`).exec(target.pathname)
    const method = blobPath ? blobMethod(req, target.searchParams) : undefined
    if (!blobPath || !method) {
      log('unknown', 'not-found', 404)
      return sendJson(res, 404, { code: 'bad_route', msg: `no handler for ${req.method} ${target.pathname}` })
    }
    return handleBlob(req, res, method, target, blobPath[1])
  }

  // Answers the call as the fault dictates; false when no fault applies.
  function applyFault(
    method: MethodName,
    req: IncomingMessage,
    res: ServerResponse,
    context: { key?: string; scope?: string }
  ): boolean {
    const active = faultFor(method)
    if (!active || isDownloadFault(active)) return false
    const outcome: Outcome = `fault:${active.kind}`
    const isBlob = BLOB_METHODS.includes(method)
    switch (active.kind) {
      case 'refuse':
        log(method, outcome, 0, context)
        req.socket.destroy()
        return true
      case 'hang':
        log(method, outcome, 0, context)
        return true
      case 'stall-upload': {
        log(method, outcome, 0, context)
        let taken = 0
        const take = (chunk: Buffer): void => {
          taken += chunk.length
          if (taken >= active.afterBytes) {
            req.off('data', take)
            req.pause()
          }
        }
        req.on('data', take)
        return true
      }
      case 'status': {
        log(method, outcome, active.status, context)
        req.resume()
        const message = `injected status ${active.status}`
        if (isBlob) sendBlobError(res, active.status, 'InjectedFault', message)
        else sendJson(res, active.status, { code: TWIRP_CODES[active.status] ?? 'unknown', msg: message })
        return true
      }
      case 'rate-limit': {
        log(method, outcome, 429, context)
        req.resume()
        const headers = { 'Retry-After': String(active.retryAfterSeconds) }
        const message = 'too many requests: rate limit exceeded'
        if (isBlob) sendBlobError(res, 429, 'ServerBusy', message, headers)
        else sendJson(res, 429, { code: 'resource_exhausted', msg: message }, headers)
        return true
      }
    }
  }

  async function handleTwirp(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const method = (['GetCacheEntryDownloadURL', 'CreateCacheEntry', 'FinalizeCacheEntryUpload'] as const).find(
      m => m === name
    )
    if (req.method !== 'POST' || !method) {
      log('unknown', 'not-found', 404)
      return sendJson(res, 404, { code: 'bad_route', msg: `no handler for ${req.method} ${name}` })
    }
    let body: Record<string, unknown> = {}
    let key: string | undefined
    try {
      const parsed: unknown = JSON.parse((await readBody(req, MAX_TWIRP_BODY)).toString('utf8') || '{}')
      if (typeof parsed !== 'object' || parsed === null) throw new SyntaxError('not an object')
      body = parsed as Record<string, unknown>
      key = typeof body.key === 'string' ? body.key : undefined
      if (applyFault(method, req, res, { key })) return
      const scopes = scopesOf(req)
      if (!scopes) throw new HttpError(401, 'unauthenticated', 'missing or malformed runtime token', 'unauthenticated')
      const version = body.version
      if (!key || typeof version !== 'string' || !version) {
        throw new HttpError(400, 'invalid_argument', 'key and version are required', 'invalid')
      }
      if (method === 'GetCacheEntryDownloadURL') {
        const restoreKeys = (field(body, 'restore_keys', 'restoreKeys') ?? []) as string[]
        return lookup(res, scopes, [key, ...restoreKeys], version)
      }
      if (method === 'CreateCacheEntry') return create(res, scopes, key, version)
      return await finalize(res, scopes, key, version, Number(field(body, 'size_bytes', 'sizeBytes')))
    } catch (error) {
      const failure =
        error instanceof SyntaxError
          ? new HttpError(400, 'malformed', 'request body is not a JSON object', 'invalid')
          : error
      if (!(failure instanceof HttpError)) throw failure
      log(method, failure.outcome, failure.status, { key })
      sendJson(res, failure.status, { code: failure.code, msg: failure.message })
    }
  }

  // Scope by scope in token order: the primary key exact then as a prefix,
  // then each restore key the same way; the newest entry wins a prefix match.
  function lookup(res: ServerResponse, scopes: TokenScope[], keys: string[], version: string): void {
    const readable = scopes.filter(s => s.permission & 1)
    if (readable.length === 0) {
      throw new HttpError(
        403,
        'permission_denied',
        'cache read denied: token has no readable cache scopes',
        'read-denied'
      )
    }
    for (const { scope } of readable) {
      const candidates = stored.filter(e => e.scope === scope && e.version === version).sort((a, b) => b.seq - a.seq)
      for (const key of keys) {
        const entry = candidates.find(e => e.key === key) ?? candidates.find(e => e.key.startsWith(key))
        if (entry) {
          log('GetCacheEntryDownloadURL', 'hit', 200, { key: entry.key, scope })
          return sendJson(res, 200, {
            ok: true,
            signed_download_url: signedUrl(entry.blob, 'r'),
            matched_key: entry.key
          })
        }
      }
    }
    log('GetCacheEntryDownloadURL', 'miss', 200, { key: keys[0] })
    sendJson(res, 200, { ok: false, signed_download_url: '', matched_key: '' })
  }

  function writeScope(scopes: TokenScope[]): string | undefined {
    return scopes.find(s => s.permission & 2)?.scope
  }

  // A read-only token is refused with ok:false and a `cache write denied:`
  // message, the only form the client classifies as a policy denial; an
  // existing entry (or one still being uploaded) is a twirp 409.
  function create(res: ServerResponse, scopes: TokenScope[], key: string, version: string): void {
    const scope = writeScope(scopes)
    if (!scope) {
      log('CreateCacheEntry', 'write-denied', 200, { key })
      return sendJson(res, 200, {
        ok: false,
        signed_upload_url: '',
        message: 'cache write denied: token has no writable cache scopes'
      })
    }
    const same = (e: { scope: string; key: string; version: string }): boolean =>
      e.scope === scope && e.key === key && e.version === version
    if (stored.some(same) || [...reservations.values()].some(same)) {
      throw new HttpError(
        409,
        'already_exists',
        'cache entry with the same key, version, and scope already exists',
        'exists'
      )
    }
    const id = nextId++
    const blob = `${id}-${randomBytes(6).toString('hex')}`
    reservations.set(blob, { id, scope, key, version, blob })
    log('CreateCacheEntry', 'created', 200, { key, scope })
    sendJson(res, 200, { ok: true, signed_upload_url: signedUrl(blob, 'cw'), message: '' })
  }

  async function finalize(
    res: ServerResponse,
    scopes: TokenScope[],
    key: string,
    version: string,
    sizeBytes: number
  ): Promise<void> {
    const scope = writeScope(scopes)
    if (!scope) {
      log('FinalizeCacheEntryUpload', 'write-denied', 200, { key })
      return sendJson(res, 200, {
        ok: false,
        entry_id: '0',
        message: 'cache write denied: token has no writable cache scopes'
      })
    }
    const reservation = [...reservations.values()].find(
      r => r.scope === scope && r.key === key && r.version === version
    )
    if (!reservation)
      throw new HttpError(404, 'not_found', 'no cache entry reservation for this key and version', 'not-found')
    if (reservation.uploadedBytes === undefined) {
      throw new HttpError(412, 'failed_precondition', 'the cache archive was not uploaded', 'invalid')
    }
    if (reservation.uploadedBytes !== sizeBytes) {
      throw new HttpError(
        400,
        'invalid_argument',
        `size_bytes ${sizeBytes} does not match the uploaded ${reservation.uploadedBytes}`,
        'invalid'
      )
    }
    reservations.delete(reservation.blob)
    const now = new Date()
    const { id, blob } = reservation
    stored.push({ id, scope, key, version, blob, sizeBytes, createdAt: now, lastAccessedAt: now, seq: seq++ })
    await saveIndex(indexFile, stored)
    log('FinalizeCacheEntryUpload', 'finalized', 200, { key, scope })
    sendJson(res, 200, { ok: true, entry_id: String(reservation.id), message: '' })
  }

  async function handleBlob(
    req: IncomingMessage,
    res: ServerResponse,
    method: MethodName,
    target: URL,
    blob: string
  ): Promise<void> {
    const owner = method === 'GetBlob' ? stored.find(e => e.blob === blob) : reservations.get(blob)
    const context = { key: owner?.key, scope: owner?.scope }
    if (applyFault(method, req, res, context)) return
    if (!signatureValid(target.pathname, target.searchParams, method === 'GetBlob' ? 'r' : 'w')) {
      log(method, 'bad-signature', 403, context)
      req.resume()
      return sendBlobError(res, 403, 'AuthenticationFailed', 'signature did not match')
    }
    if (!owner) {
      log(method, 'not-found', 404, context)
      req.resume()
      // The real client ignores the status and extracts whatever body it gets.
      return sendBlobError(res, 404, 'BlobNotFound', 'The specified blob does not exist.')
    }
    if (method === 'GetBlob') return download(req, res, owner as StoredEntry, context)
    const reservation = owner as Reservation
    const headers = {
      ETag: `"0x${randomBytes(8).toString('hex')}"`,
      'Last-Modified': new Date().toUTCString(),
      'x-ms-request-server-encrypted': 'true'
    }
    if (method === 'PutBlob') {
      const partial = join(blobDir, `${blob}.${randomBytes(4).toString('hex')}.part`)
      await pipeline(req, createWriteStream(partial))
      await rename(partial, join(blobDir, blob))
      reservation.uploadedBytes = (await stat(join(blobDir, blob))).size
    } else if (method === 'PutBlock') {
      const blockId = target.searchParams.get('blockid') ?? ''
      await mkdir(join(blockDir, blob), { recursive: true })
      await pipeline(req, createWriteStream(join(blockDir, blob, Buffer.from(blockId).toString('hex'))))
    } else {
      const xml = (await readBody(req, 16 * 1024 * 1024)).toString('utf8')
      const ids = [...xml.matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map(m => m[1])
      reservation.uploadedBytes = await commitBlocks(blob, ids).catch(() => undefined)
      if (reservation.uploadedBytes === undefined) {
        log(method, 'invalid', 400, context)
        return sendBlobError(res, 400, 'InvalidBlockList', 'The specified block list is invalid.')
      }
    }
    log(method, 'uploaded', 201, context)
    res.writeHead(201, { 'Content-Length': 0, ...headers })
    res.end()
  }

  async function commitBlocks(blob: string, ids: string[]): Promise<number> {
    const partial = join(blobDir, `${blob}.${randomBytes(4).toString('hex')}.part`)
    const out = createWriteStream(partial)
    for (const id of ids) {
      await pipeline(createReadStream(join(blockDir, blob, Buffer.from(id).toString('hex'))), out, { end: false })
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())))
    await rename(partial, join(blobDir, blob))
    await rm(join(blockDir, blob), { recursive: true, force: true })
    return (await stat(join(blobDir, blob))).size
  }

  async function download(
    req: IncomingMessage,
    res: ServerResponse,
    entry: StoredEntry,
    context: { key?: string; scope?: string }
  ): Promise<void> {
    const file = join(blobDir, entry.blob)
    const size = (await stat(file)).size
    entry.lastAccessedAt = new Date()
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': size,
      'Last-Modified': entry.createdAt.toUTCString(),
      'x-ms-blob-type': 'BlockBlob'
    })
    if (req.method === 'HEAD') {
      log('GetBlob', 'downloaded', 200, context)
      return void res.end()
    }
    const active = faultFor('GetBlob')
    const half = Math.floor(size / 2)
    if (active?.kind === 'truncate-download') {
      // The full length is announced and half is sent before the connection drops.
      log('GetBlob', 'fault:truncate-download', 200, context)
      if (half > 0) await pipeline(createReadStream(file, { end: half - 1 }), res, { end: false })
      return void res.destroy()
    }
    if (active?.kind === 'garbage-download') {
      // The real first half, then noise: a complete-looking download that is
      // not the archive, so extraction starts and then fails.
      log('GetBlob', 'fault:garbage-download', 200, context)
      if (half > 0) await pipeline(createReadStream(file, { end: half - 1 }), res, { end: false })
      return void res.end(randomBytes(size - half))
    }
    if (active?.kind === 'random-download') {
      // Noise of the announced length from the first byte: no archive at all.
      log('GetBlob', 'fault:random-download', 200, context)
      return void res.end(randomBytes(size))
    }
    if (active?.kind === 'stall-download') {
      log('GetBlob', 'fault:stall-download', 200, context)
      const sent = Math.min(active.afterBytes, size)
      if (sent > 0) await pipeline(createReadStream(file, { end: sent - 1 }), res, { end: false })
      return
    }
    if (active?.kind === 'throttle-download') {
      log('GetBlob', 'fault:throttle-download', 200, context)
      return throttled(file, res, active.bytesPerSecond)
    }
    log('GetBlob', 'downloaded', 200, context)
    await pipeline(createReadStream(file), res)
  }

  async function throttled(file: string, res: ServerResponse, bytesPerSecond: number): Promise<void> {
    const piece = Math.max(1, Math.floor(bytesPerSecond / 4))
    const handle = await open(file)
    try {
      const buffer = Buffer.alloc(piece)
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, piece, null)
        if (bytesRead === 0 || res.destroyed) break
        res.write(buffer.subarray(0, bytesRead))
        await sleep(250)
      }
    } finally {
      await handle.close()
    }
    res.end()
  }

  async function close(): Promise<void> {
    if (closed) return
    closed = true
    await listening.catch(() => undefined)
    const stopped = server.listening ? new Promise<void>(resolve => server.close(() => resolve())) : undefined
    for (const socket of sockets) socket.destroy()
    await stopped
    if (ownsStorage) await rm(storageDir, { recursive: true, force: true })
  }

  return {
    url,
    close,
    requests,
    setFault,
    entries: () =>
      stored.map(e => ({
        scope: e.scope,
        key: e.key,
        version: e.version,
        sizeBytes: e.sizeBytes,
        createdAt: e.createdAt
      })),
    env: (token: string) => ({
      ACTIONS_CACHE_SERVICE_V2: 'true',
      ACTIONS_RESULTS_URL: `${url}/`,
      ACTIONS_RUNTIME_TOKEN: token
    })
  }
}

async function loadIndex(file: string): Promise<StoredEntry[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return []
  }
  const raw = JSON.parse(text) as Array<
    Omit<StoredEntry, 'createdAt' | 'lastAccessedAt'> & { createdAt: string; lastAccessedAt: string }
  >
  return raw.map(e => ({ ...e, createdAt: new Date(e.createdAt), lastAccessedAt: new Date(e.lastAccessedAt) }))
}

async function saveIndex(file: string, entries: StoredEntry[]): Promise<void> {
  const partial = `${file}.${randomBytes(4).toString('hex')}.part`
  await writeFile(partial, JSON.stringify(entries, null, 2))
  await rename(partial, file)
}

function isMain(): boolean {
  const script = process.argv[1]
  if (!script) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href
  } catch {
    return false
  }
}

if (isMain()) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, storage: { type: 'string' } } })
  const service = await startCacheService({
    port: values.port === undefined ? undefined : Number(values.port),
    storageDir: values.storage
  })
  process.stdout.write(`CACHE_SERVICE_URL=${service.url}\n`)
  const stop = (): void => {
    service.close().then(
      () => process.exit(0),
      () => process.exit(1)
    )
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
