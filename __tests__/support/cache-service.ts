// A local stand-in for the GitHub Actions cache service (v2, twirp) and the
// blob storage behind its signed URLs, spoken to by the real @actions/cache
// client. Entries live as files on disk so benchmarks can store large ones.
//
// Point the client at it with `service.env(runtimeToken([...]))` and make sure
// GITHUB_SERVER_URL is unset (or github.com): any other host makes the client
// fall back to the v1 protocol, which this service does not speak.
//
// Blob URLs name 127.0.0.1 unless a blob host is given (the `blobHost` option,
// else CACHE_SERVICE_BLOB_HOST). The client picks its download path by that
// name alone: for a `*.blob.core.windows.net` host, as GitHub hands out, it
// runs the Azure SDK (Get Blob Properties, then concurrent ranged GETs); for
// any other, one plain GET. Such a host must resolve to 127.0.0.1 where the
// client runs, e.g. through the hosts file of a network namespace.
//
// With the `createLimit` option it takes only so many new entries a minute,
// as GitHub's does (GITHUB_CREATES_PER_MINUTE), and answers 429 past them.
//
// Run directly to serve other processes:
//   node __tests__/support/cache-service.ts [--port N] [--storage DIR] [--blob-host NAME]
// prints `CACHE_SERVICE_URL=<url>` and serves until SIGTERM/SIGINT. Entries
// found in DIR/entries.json from an earlier run are served again.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { isIP, type Socket } from 'node:net'
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

// Kept in this file, which imports nothing but Node's own modules, so that
// it runs as it is under Node (see above).
//
// The cache service's limit on new entries: GitHub's takes at most 200 a
// minute per repository and answers 429 with Retry-After past it. How its
// window moves is not published; this one slides, so a burst that fills it
// waits only until its first create is a window old, never for a clock minute.

/** New entries a minute GitHub's cache service takes from one repository. */
export const GITHUB_CREATES_PER_MINUTE = 200

export interface CreateLimit {
  /** Entries created in any one window; GitHub's figure is GITHUB_CREATES_PER_MINUTE. */
  perMinute: number
  /** The window, in whole seconds: 60, unless a test that waits for it to pass shortens it. */
  windowSeconds?: number
  /** The clock, in milliseconds as Date.now gives them: a test moves its own instead of waiting. */
  now?: () => number
}

/** The creates of the last window, and when the next may pass. */
export class CreateWindow {
  private readonly perWindow: number
  private readonly windowMs: number
  private readonly now: () => number
  /** When each create still in the window happened, oldest first. */
  private readonly times: number[] = []

  constructor(limit: CreateLimit) {
    const windowSeconds = limit.windowSeconds ?? 60
    if (!Number.isInteger(limit.perMinute) || limit.perMinute < 1)
      throw new Error(`createLimit.perMinute must be a whole number above 0: got ${limit.perMinute}`)
    // Retry-After counts whole seconds: a shorter window could not be waited for as told.
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
      throw new Error(`createLimit.windowSeconds must be a whole number of seconds above 0: got ${windowSeconds}`)
    this.perWindow = limit.perMinute
    this.windowMs = windowSeconds * 1000
    this.now = limit.now ?? Date.now
  }

  /**
   * Counts a create if the window has room for it and returns 0; otherwise
   * counts nothing and returns the whole seconds until a create may pass.
   */
  take(): number {
    const now = this.now()
    while (this.times.length > 0 && this.times[0] <= now - this.windowMs) this.times.shift()
    if (this.times.length < this.perWindow) {
      this.times.push(now)
      return 0
    }
    return Math.max(1, Math.ceil((this.times[0] + this.windowMs - now) / 1000))
  }
}

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
  | 'GetBlobProperties'
  | 'GetBlob'

type FaultKind =
  | { kind: 'refuse' }
  | { kind: 'status'; status: number }
  | { kind: 'rate-limit'; retryAfterSeconds: number }
  | { kind: 'hang' }
  /** Shapes what the GETs of a download send (see sendBody); its Get Blob Properties is answered as it is. */
  | DownloadFault
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
  /** CreateCacheEntry past the `createLimit`: 429 with Retry-After, nothing reserved. */
  | 'rate-limited'
  | 'finalized'
  | 'uploaded'
  | 'downloaded'
  | 'properties'
  | 'unsatisfiable'
  | 'precondition-failed'
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
  /** The bytes a ranged GET asked for; absent on a GET of the whole blob. */
  range?: ByteRange
  time: Date
}

/** Bytes of request and response bodies, blobs and twirp calls alike, since the service started. */
export interface Traffic {
  /** What clients sent that the service read: uploads, twirp requests (not a body refused unread). */
  received: number
  /** What the service answered: downloads, twirp answers, error bodies. */
  sent: number
}

export interface CacheService {
  url: string
  close(): Promise<void>
  entries(): EntryInfo[]
  /** Bytes of the finalized entries, per scope: what the service holds, as its quota counts it. */
  storedBytes(): Record<string, number>
  /** A job's traffic is the difference of two readings. */
  traffic(): Traffic
  requests: RequestLog[]
  setFault(fault: Fault | undefined): void
  env(token: string): Record<string, string>
}

export interface CacheServiceOptions {
  storageDir?: string
  port?: number
  /**
   * The host name in blob URLs: `127.0.0.1` (or another IP address, or
   * localhost) for path-style URLs, `/<account>/<container>/<blob>`; any other
   * name for host-style ones, `/<container>/<blob>` with the account as the
   * name's first label. Defaults to CACHE_SERVICE_BLOB_HOST, else 127.0.0.1.
   * The service listens on 127.0.0.1 whatever the name, and takes both styles.
   */
  blobHost?: string
  /** Takes only so many new entries a window, as GitHub's service does; without it, any number. */
  createLimit?: CreateLimit
}

const BLOB_METHODS: MethodName[] = ['PutBlob', 'PutBlock', 'PutBlockList', 'GetBlobProperties', 'GetBlob']

const UPLOAD_METHODS: MethodName[] = ['PutBlob', 'PutBlock']
const HOST = '127.0.0.1'
const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.CacheService/'
const ACCOUNT = 'devstoreaccount1'
const CONTAINER = 'actions-cache'
const URL_LIFETIME_MS = 60 * 60 * 1000
const MAX_TWIRP_BODY = 1024 * 1024
const BLOB_NAME = /^[A-Za-z0-9._-]+$/
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/

/** The blob host a service started without the option uses. */
function defaultBlobHost(): string {
  return process.env.CACHE_SERVICE_BLOB_HOST || HOST
}

/**
 * How blob URLs on this host name the account, as the Azure SDK reads them:
 * in the path on an IP address or localhost (Azurite's style), else in the
 * host name (Azure's).
 */
function blobUrlStyle(host: string): 'path' | 'host' {
  return isIP(host) !== 0 || host === 'localhost' ? 'path' : 'host'
}

function checkedBlobHost(host: string): string {
  const name = host.toLowerCase()
  if (isIP(name) === 4 || HOST_NAME.test(name)) return name
  throw new Error(`The blob host must be a host name or an IPv4 address, without scheme, port or path: got ${host}`)
}

function base64url(value: string): string {
  return Buffer.from(value).toString('base64url')
}

// Real runtime tokens are signed by GitHub; nothing here checks a signature,
// only the `ac` claim, which is itself a JSON string inside the payload. The
// time claims are for BuildKit's type=gha client, which refuses a token
// without `nbf` ("invalid token without expiration time").
export function runtimeToken(scopes: TokenScope[]): string {
  const ac = JSON.stringify(scopes.map(s => ({ Scope: s.scope, Permission: s.permission })))
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'none' }))
  const now = Math.floor(Date.now() / 1000)
  const payload = base64url(JSON.stringify({ ac, nbf: now, iat: now, exp: now + 6 * 3600 }))
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

/** Passes a body on, telling `count` the bytes of each piece. */
function counting(count: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      count(chunk.length)
      done(null, chunk)
    }
  })
}

function byteLength(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk)
  return chunk instanceof Uint8Array ? chunk.byteLength : 0
}

/**
 * Tells `count` the bytes of every body piece the response is given, however
 * it is given them (piped downloads, paced writes, JSON at once).
 */
function countBody(res: ServerResponse, count: (bytes: number) => void): void {
  const { write, end } = res
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    count(byteLength(chunk))
    return Reflect.apply(write, this, [chunk, ...rest])
  } as ServerResponse['write']
  res.end = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (typeof args[0] !== 'function') count(byteLength(args[0]))
    return Reflect.apply(end, this, args)
  } as ServerResponse['end']
}

function field(body: Record<string, unknown>, snake: string, camel: string): unknown {
  return body[snake] ?? body[camel]
}

function blobMethod(req: IncomingMessage, query: URLSearchParams): MethodName | undefined {
  if (req.method === 'HEAD') return 'GetBlobProperties'
  if (req.method === 'GET') return 'GetBlob'
  if (req.method !== 'PUT') return undefined
  const comp = query.get('comp')
  if (comp === 'block') return 'PutBlock'
  if (comp === 'blocklist') return 'PutBlockList'
  return comp ? undefined : 'PutBlob'
}

/**
 * The blob a request names, in either URL style, and the resource its
 * signature covers; undefined for a path that names no blob of the container.
 */
function blobAddress(hostHeader: string | undefined, pathname: string): { resource: string; blob: string } | undefined {
  const hostname = (hostHeader ?? HOST)
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase()
  const parts = pathname.split('/').slice(1)
  if (blobUrlStyle(hostname) === 'host') parts.unshift(hostname.split('.')[0])
  const [account, container, blob] = parts
  if (parts.length !== 3 || !account || container !== CONTAINER || !BLOB_NAME.test(blob)) return undefined
  return { resource: `/${account}/${CONTAINER}/${blob}`, blob }
}

export async function startCacheService(options: CacheServiceOptions = {}): Promise<CacheService> {
  // First: a limit it could not keep throws before anything is made.
  const createWindow = options.createLimit ? new CreateWindow(options.createLimit) : undefined
  const ownsStorage = options.storageDir === undefined
  const storageDir = options.storageDir ?? (await mkdtemp(join(tmpdir(), 'cache-service-')))
  const blobDir = join(storageDir, 'blobs')
  const blockDir = join(storageDir, 'blocks')
  const indexFile = join(storageDir, 'entries.json')
  await mkdir(blobDir, { recursive: true })
  await mkdir(blockDir, { recursive: true })

  const blobHost = checkedBlobHost(options.blobHost ?? defaultBlobHost())
  const hostStyle = blobUrlStyle(blobHost) === 'host'
  const account = hostStyle ? blobHost.split('.')[0] : ACCOUNT
  const secret = randomBytes(32)
  const requests: RequestLog[] = []
  const reservations = new Map<string, Reservation>()
  // Per blob, what its download in progress has used of a fault that spans
  // requests; a download starts with Get Blob Properties or a whole-blob GET.
  const downloads = new Map<string, DownloadState>()
  const stored: StoredEntry[] = await loadIndex(indexFile)
  let nextId = stored.reduce((max, e) => Math.max(max, e.id), 0) + 1
  let seq = stored.reduce((max, e) => Math.max(max, e.seq), 0) + 1
  let fault: Fault | undefined
  let closed = false
  const traffic: Traffic = { received: 0, sent: 0 }
  const received = (bytes: number): void => {
    traffic.received += bytes
  }

  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    countBody(res, bytes => {
      traffic.sent += bytes
    })
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
    downloads.clear()
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
    context: { key?: string; scope?: string; range?: ByteRange } = {}
  ): void {
    const { key, scope, range } = context
    requests.push({ method, key, scope, outcome, status, ...(range && { range }), time: new Date() })
  }

  // The signature covers the blob's resource, `/<account>/<container>/<blob>`,
  // which both URL styles name: as Azure, it does not depend on the style.
  function signedUrl(blob: string, permission: 'r' | 'cw'): string {
    const resource = `/${account}/${CONTAINER}/${blob}`
    const expiry = new Date(Date.now() + URL_LIFETIME_MS).toISOString()
    const query = new URLSearchParams({
      sv: '2024-11-04',
      sr: 'b',
      sp: permission,
      se: expiry,
      sig: sign(resource, permission, expiry)
    })
    if (hostStyle) return `http://${blobHost}:${port}/${CONTAINER}/${blob}?${query}`
    return `http://${blobHost}:${port}${resource}?${query}`
  }

  function sign(resource: string, permission: string, expiry: string): string {
    return createHmac('sha256', secret).update(`${permission}\n${expiry}\n${resource}`).digest('base64')
  }

  function signatureValid(resource: string, query: URLSearchParams, permission: string): boolean {
    const sp = query.get('sp') ?? ''
    const se = query.get('se') ?? ''
    return sp.includes(permission) && Date.parse(se) > Date.now() && query.get('sig') === sign(resource, sp, se)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', url)
    if (target.pathname.startsWith(TWIRP_PREFIX))
      return handleTwirp(req, res, target.pathname.slice(TWIRP_PREFIX.length))
    const address = blobAddress(req.headers.host, target.pathname)
    const method = address ? blobMethod(req, target.searchParams) : undefined
    if (!address || !method) {
      log('unknown', 'not-found', 404)
      const msg = `no handler for ${req.method} ${target.pathname}`
      return sendJson(res, 404, { code: 'bad_route', msg }, storageHeaders(req))
    }
    return handleBlob(req, res, method, target, address)
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
        if (isBlob) sendBlobError(res, active.status, 'InjectedFault', message, storageHeaders(req))
        else sendJson(res, active.status, { code: TWIRP_CODES[active.status] ?? 'unknown', msg: message })
        return true
      }
      case 'rate-limit': {
        log(method, outcome, 429, context)
        req.resume()
        const headers = { 'Retry-After': String(active.retryAfterSeconds) }
        const message = 'too many requests: rate limit exceeded'
        if (isBlob) sendBlobError(res, 429, 'ServerBusy', message, { ...storageHeaders(req), ...headers })
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
      const raw = await readBody(req, MAX_TWIRP_BODY)
      received(raw.length)
      const parsed: unknown = JSON.parse(raw.toString('utf8') || '{}')
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
    // Only a call that would create an entry takes a place in the window.
    const retryAfter = createWindow?.take() ?? 0
    if (retryAfter > 0) {
      log('CreateCacheEntry', 'rate-limited', 429, { key, scope })
      const msg = `too many cache entries created: at most ${options.createLimit?.perMinute} a minute per repository`
      return sendJson(res, 429, { code: 'resource_exhausted', msg }, { 'Retry-After': String(retryAfter) })
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
    address: { resource: string; blob: string }
  ): Promise<void> {
    const { blob } = address
    const reads = method === 'GetBlob' || method === 'GetBlobProperties'
    const owner = reads ? stored.find(e => e.blob === blob) : reservations.get(blob)
    const context = { key: owner?.key, scope: owner?.scope }
    if (applyFault(method, req, res, context)) return
    if (!signatureValid(address.resource, target.searchParams, reads ? 'r' : 'w')) {
      log(method, 'bad-signature', 403, context)
      req.resume()
      return sendBlobError(res, 403, 'AuthenticationFailed', 'signature did not match', storageHeaders(req))
    }
    if (!owner) {
      log(method, 'not-found', 404, context)
      req.resume()
      // The fallback client ignores the status and extracts whatever body it gets.
      return sendBlobError(res, 404, 'BlobNotFound', 'The specified blob does not exist.', storageHeaders(req))
    }
    if (reads) return download(req, res, method, owner as StoredEntry, context)
    const reservation = owner as Reservation
    const headers = {
      ...storageHeaders(req),
      ETag: `"0x${randomBytes(8).toString('hex')}"`,
      'Last-Modified': new Date().toUTCString(),
      'x-ms-request-server-encrypted': 'true'
    }
    if (method === 'PutBlob') {
      const partial = join(blobDir, `${blob}.${randomBytes(4).toString('hex')}.part`)
      await pipeline(req, counting(received), createWriteStream(partial))
      await rename(partial, join(blobDir, blob))
      reservation.uploadedBytes = (await stat(join(blobDir, blob))).size
    } else if (method === 'PutBlock') {
      const blockId = target.searchParams.get('blockid') ?? ''
      await mkdir(join(blockDir, blob), { recursive: true })
      const file = join(blockDir, blob, Buffer.from(blockId).toString('hex'))
      await pipeline(req, counting(received), createWriteStream(file))
    } else {
      const list = await readBody(req, 16 * 1024 * 1024)
      received(list.length)
      const xml = list.toString('utf8')
      const ids = [...xml.matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map(m => m[1])
      reservation.uploadedBytes = await commitBlocks(blob, ids).catch(() => undefined)
      if (reservation.uploadedBytes === undefined) {
        log(method, 'invalid', 400, context)
        return sendBlobError(res, 400, 'InvalidBlockList', 'The specified block list is invalid.', storageHeaders(req))
      }
    }
    log(method, 'uploaded', 201, context)
    res.writeHead(201, { 'Content-Length': 0, ...headers })
    res.end()
  }

  async function commitBlocks(blob: string, ids: string[]): Promise<number> {
    const partial = join(blobDir, `${blob}.${randomBytes(4).toString('hex')}.part`)
    // One handle written block after block: a stream piped into again and
    // again would gather a set of listeners for each block.
    const out = await open(partial, 'w')
    try {
      for (const id of ids) {
        for await (const chunk of createReadStream(join(blockDir, blob, Buffer.from(id).toString('hex')))) {
          await out.write(chunk as Buffer)
        }
      }
    } finally {
      await out.close()
    }
    await rename(partial, join(blobDir, blob))
    await rm(join(blockDir, blob), { recursive: true, force: true })
    return (await stat(join(blobDir, blob))).size
  }

  async function download(
    req: IncomingMessage,
    res: ServerResponse,
    method: 'GetBlob' | 'GetBlobProperties',
    entry: StoredEntry,
    context: { key?: string; scope?: string }
  ): Promise<void> {
    const file = join(blobDir, entry.blob)
    const blob: StoredBlob = {
      file,
      size: (await stat(file)).size,
      etag: etagOf(entry.blob, entry.createdAt),
      createdAt: entry.createdAt
    }
    entry.lastAccessedAt = new Date()
    req.resume()
    if (preconditionFails(req, blob)) {
      log(method, 'precondition-failed', 412, context)
      const message = 'The condition specified using HTTP conditional header(s) is not met.'
      return sendBlobError(res, 412, 'ConditionNotMet', message, storageHeaders(req))
    }
    const headers = blobHeaders(req, blob)
    if (method === 'GetBlobProperties') {
      downloads.set(entry.blob, new DownloadState())
      log(method, 'properties', 200, context)
      res.writeHead(200, { ...headers, 'Content-Length': blob.size })
      return void res.end()
    }
    const asked = rangeAsked(req.headers, blob.size)
    if (asked.kind === 'unsatisfiable') {
      log(method, 'unsatisfiable', 416, context)
      const message = 'The range specified is invalid for the current size of the resource.'
      return sendBlobError(res, 416, 'InvalidRange', message, {
        ...storageHeaders(req),
        'Content-Range': `bytes */${blob.size}`
      })
    }
    const range = asked.kind === 'range' ? asked.range : { start: 0, end: blob.size - 1 }
    let state = downloads.get(entry.blob)
    if (asked.kind === 'whole' || !state) {
      state = new DownloadState()
      downloads.set(entry.blob, state)
    }
    const applying = faultFor(method)
    const active = applying && isDownloadFault(applying) ? applying : undefined
    const status = asked.kind === 'range' ? 206 : 200
    log(method, active ? `fault:${active.kind}` : 'downloaded', status, {
      ...context,
      range: asked.kind === 'range' ? range : undefined
    })
    res.writeHead(status, {
      ...headers,
      'Content-Length': range.end - range.start + 1,
      ...(asked.kind === 'range' && { 'Content-Range': `bytes ${range.start}-${range.end}/${blob.size}` })
    })
    await sendBody(res, blob, range, active, state)
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
    storedBytes: () => {
      const bytes: Record<string, number> = {}
      for (const e of stored) bytes[e.scope] = (bytes[e.scope] ?? 0) + e.sizeBytes
      return bytes
    },
    traffic: () => ({ ...traffic }),
    env: (token: string) => ({
      ACTIONS_CACHE_SERVICE_V2: 'true',
      ACTIONS_RESULTS_URL: `${url}/`,
      ACTIONS_RUNTIME_TOKEN: token
    })
  }
}

// Reads of a blob, answered as Azure Blob storage answers them: the range
// asked for, the headers of Get Blob and Get Blob Properties, and the body as
// a download fault shapes it. A download is one whole-blob GET (the client's
// fallback path, or BuildKit from offset 0) or a Get Blob Properties then
// ranged GETs, several at once (the Azure SDK's path). A fault means the same
// on both, so it is measured over the whole blob, not per request.

/** Bytes `start` to `end` of a blob, both included, as HTTP counts them. */
export interface ByteRange {
  start: number
  end: number
}

export type DownloadFault =
  /** The whole length is announced; no byte from the middle of the blob on is sent before the connection drops. */
  | { kind: 'truncate-download' }
  /** The real first half of the blob, then noise: complete-looking, but not the archive. */
  | { kind: 'garbage-download' }
  /** Noise of the announced length from the first byte. */
  | { kind: 'random-download' }
  /** The first `afterBytes` sent of the blob, over all its requests, then nothing more on connections kept open. */
  | { kind: 'stall-download'; afterBytes: number }
  /** The blob at this pace, over all its requests at once, in four pieces a second. */
  | { kind: 'throttle-download'; bytesPerSecond: number }

const DOWNLOAD_FAULTS: ReadonlySet<string> = new Set<DownloadFault['kind']>([
  'truncate-download',
  'garbage-download',
  'random-download',
  'stall-download',
  'throttle-download'
])

/** Whether the fault shapes a download's body rather than the answer to a call. */
function isDownloadFault<F extends { kind: string }>(fault: F): fault is F & DownloadFault {
  return DOWNLOAD_FAULTS.has(fault.kind)
}

type RangeAsked = { kind: 'whole' } | { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' }

/**
 * The range a GET asks for. Azure reads `x-ms-range` before `Range`, takes
 * `bytes=a-b` and `bytes=a-`, cuts an end past the blob to its last byte,
 * and refuses a start past it; a header it cannot read asks for the whole.
 */
function rangeAsked(headers: IncomingHttpHeaders, size: number): RangeAsked {
  const header = headers['x-ms-range'] ?? headers.range
  const value = Array.isArray(header) ? header[0] : header
  const match = value === undefined ? null : /^\s*bytes=(\d+)-(\d*)\s*$/.exec(value)
  if (!match) return { kind: 'whole' }
  const start = Number(match[1])
  const end = match[2] === '' ? Number.POSITIVE_INFINITY : Number(match[2])
  if (end < start) return { kind: 'whole' }
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'range', range: { start, end: Math.min(end, size - 1) } }
}

/** Sends bytes at one pace, whichever request asks: the pace of a download, not of a connection. */
class Pacer {
  readonly bytesPerSecond: number
  private next = 0
  constructor(bytesPerSecond: number) {
    this.bytesPerSecond = bytesPerSecond
  }

  /** Waits for the moment `bytes` more may leave. */
  async take(bytes: number): Promise<void> {
    const now = Date.now()
    const at = Math.max(now, this.next)
    this.next = at + (bytes * 1000) / this.bytesPerSecond
    if (at > now) await sleep(at - now)
  }
}

/** What one download of a blob has used of the fault that shapes it. */
class DownloadState {
  sent = 0
  pacer?: Pacer
}

interface StoredBlob {
  file: string
  size: number
  /** Names the blob's content: a retried range asks for it with If-Match. */
  etag: string
  createdAt: Date
}

function etagOf(blob: string, createdAt: Date): string {
  const digest = createHash('sha256').update(`${blob}\n${createdAt.toISOString()}`).digest('hex')
  return `"0x${digest.slice(0, 15).toUpperCase()}"`
}

/** The headers every answer from blob storage carries. */
function storageHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {
    'x-ms-request-id': randomUUID(),
    'x-ms-version': String(req.headers['x-ms-version'] ?? '2025-01-05')
  }
  const clientRequestId = req.headers['x-ms-client-request-id']
  if (typeof clientRequestId === 'string') headers['x-ms-client-request-id'] = clientRequestId
  return headers
}

/** Get Blob Properties and Get Blob describe the blob with these. */
function blobHeaders(req: IncomingMessage, blob: StoredBlob): Record<string, string | number> {
  return {
    ...storageHeaders(req),
    'Content-Type': 'application/octet-stream',
    ETag: blob.etag,
    'Last-Modified': blob.createdAt.toUTCString(),
    'Accept-Ranges': 'bytes',
    'x-ms-blob-type': 'BlockBlob',
    'x-ms-creation-time': blob.createdAt.toUTCString(),
    'x-ms-lease-state': 'available',
    'x-ms-lease-status': 'unlocked',
    'x-ms-server-encrypted': 'true'
  }
}

/** Whether an If-Match the request carries names another content than the blob's. */
function preconditionFails(req: IncomingMessage, blob: StoredBlob): boolean {
  const ifMatch = req.headers['if-match']
  if (ifMatch === undefined || ifMatch.trim() === '*') return false
  return !ifMatch.split(',').some(tag => tag.trim() === blob.etag)
}

/**
 * Writes bytes `range` of the blob as the fault makes them. Returns once the
 * body is done with, which for a stalled download is before it ends: its
 * connection stays open until the client gives up or the service closes.
 */
async function sendBody(
  res: ServerResponse,
  blob: StoredBlob,
  range: ByteRange,
  fault: DownloadFault | undefined,
  state: DownloadState
): Promise<void> {
  const { start, end } = range
  const length = end - start + 1
  const half = Math.floor(blob.size / 2)
  if (length <= 0) return void res.end()
  // A client told the length before the connection drops or stalls knows it was cut short.
  res.flushHeaders()
  switch (fault?.kind) {
    case undefined:
      return pipeline(createReadStream(blob.file, { start, end }), res)
    case 'truncate-download': {
      // The connection drops where the blob's second half would begin, on
      // whichever request reaches it, so a retried range meets the same end.
      if (start < half) await sendFile(res, blob.file, start, Math.min(end, half - 1))
      if (end >= half) return void res.destroy()
      return void res.end()
    }
    case 'garbage-download': {
      if (start < half) await sendFile(res, blob.file, start, Math.min(end, half - 1))
      await sendNoise(res, end - Math.max(start, half) + 1)
      return void res.end()
    }
    case 'random-download':
      await sendNoise(res, length)
      return void res.end()
    case 'stall-download': {
      // The bytes are reserved before they are sent: ranges served at once
      // share the allowance instead of each taking all of it.
      const allowed = Math.max(0, Math.min(fault.afterBytes - state.sent, length))
      state.sent += allowed
      if (allowed > 0) await sendFile(res, blob.file, start, start + allowed - 1)
      if (allowed === length) res.end()
      return
    }
    case 'throttle-download': {
      state.pacer ??= new Pacer(fault.bytesPerSecond)
      return paced(res, blob.file, range, state.pacer)
    }
  }
}

async function sendFile(res: ServerResponse, file: string, start: number, end: number): Promise<void> {
  if (end >= start) await pipeline(createReadStream(file, { start, end }), res, { end: false })
}

async function sendNoise(res: ServerResponse, bytes: number): Promise<void> {
  const piece = 1024 * 1024
  for (let left = bytes; left > 0 && !res.destroyed; left -= piece) {
    if (!res.write(randomBytes(Math.min(piece, left)))) await drained(res)
  }
}

function drained(res: ServerResponse): Promise<void> {
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

async function paced(res: ServerResponse, file: string, range: ByteRange, pacer: Pacer): Promise<void> {
  const piece = Math.max(1, Math.floor(pacer.bytesPerSecond / 4))
  const handle = await open(file)
  try {
    const buffer = Buffer.alloc(piece)
    for (let position = range.start; position <= range.end && !res.destroyed; ) {
      const wanted = Math.min(piece, range.end - position + 1)
      await pacer.take(wanted)
      const { bytesRead } = await handle.read(buffer, 0, wanted, position)
      if (bytesRead === 0 || res.destroyed) break
      // A copy: the buffer is read into again before the socket has sent it.
      res.write(Buffer.from(buffer.subarray(0, bytesRead)))
      position += bytesRead
    }
  } finally {
    await handle.close()
  }
  res.end()
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
  const { values } = parseArgs({
    options: { port: { type: 'string' }, storage: { type: 'string' }, 'blob-host': { type: 'string' } }
  })
  const service = await startCacheService({
    port: values.port === undefined ? undefined : Number(values.port),
    storageDir: values.storage,
    blobHost: values['blob-host']
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
