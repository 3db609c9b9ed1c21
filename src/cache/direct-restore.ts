import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutError } from '../time-limit.js'
import { stalledTransfer, unansweredCall, type Bounds } from './deadline.js'
import { locatePackUrls } from './packs/locate.js'
import { field, PACK_VERSION, packsAvailable, SERVICE, type Lookup } from './packs/service.js'
import type { Fetched } from './packs/entry.js'

// The restore of an entry served to the builder, read without starting the
// cache client: one lookup on the service's v2 API, one GET of the archive
// @actions/cache wrote (unpacked by tar as the client unpacks it), and a
// lookup per pack. Starting the client, a process that loads the storage
// SDK, took 0.3 s of the 0.5 s such a restore took (docs/benchmarks.md).
//
// Only outcomes the client would give on the same answers are taken here: a
// hit unpacked whole, or a clean miss. A call or download that hangs is given
// up on at the same bounds and in the same words as the client's. Anything
// else (an error status, a refused connection, an archive tar rejects) is
// `unsure`: the client does the restore again, with its retries and its
// own words for what went wrong.

/** What @actions/cache adds to every version it gives an entry (its `versionSalt`). */
const CLIENT_VERSION_SALT = '1.0'
/** The compression @actions/cache picks wherever zstd is installed. */
const CLIENT_COMPRESSION = 'zstd-without-long'
/** `zstd --version` answers in milliseconds; one that does not is not relied on. */
const ZSTD_ANSWER_MS = 5000

export type DirectRestore =
  | { kind: 'hit'; matchedKey: string; blobs: Fetched }
  | { kind: 'miss' }
  | { kind: 'unsure'; why: string }

export interface DirectRequest {
  /** The paths the client would be given, relative to `workRoot`. */
  paths: string[]
  key: string
  restoreKeys: string[]
  /** Where the client would unpack: its workspace. */
  workRoot: string
}

/**
 * The version @actions/cache gives an entry of `paths` compressed with zstd:
 * only an entry of the same version is found by a lookup.
 */
export function clientEntryVersion(paths: readonly string[], platform: NodeJS.Platform = process.platform): string {
  const parts = [...paths, CLIENT_COMPRESSION]
  if (platform === 'win32') parts.push('windows-only')
  parts.push(CLIENT_VERSION_SALT)
  return createHash('sha256').update(parts.join('|')).digest('hex')
}

/**
 * Restores the index entry into `request.workRoot` and looks up its packs.
 * Rejects with a TimeoutError when a call or the download hangs past
 * `bounds`, or with `signal`'s reason when it aborts.
 */
export async function restoreDirectly(
  request: DirectRequest,
  env: NodeJS.ProcessEnv,
  bounds: Bounds,
  signal?: AbortSignal
): Promise<DirectRestore> {
  const base = env.ACTIONS_RESULTS_URL
  const token = env.ACTIONS_RUNTIME_TOKEN
  if (!packsAvailable(env) || !base || !token) return { kind: 'unsure', why: 'no cache service v2 API' }
  if (process.platform !== 'linux') return { kind: 'unsure', why: `tar's options on ${process.platform}` }
  if (!(await hasZstd())) return { kind: 'unsure', why: 'zstd is not installed' }
  const call = (method: string, body: Record<string, unknown>): Promise<TwirpAnswer> =>
    twirp(base, token, method, body, bounds, signal)

  const found = await call('GetCacheEntryDownloadURL', {
    key: request.key,
    restore_keys: request.restoreKeys,
    version: clientEntryVersion(request.paths)
  })
  if (found.kind !== 'answered') return { kind: 'unsure', why: `the lookup failed: ${found.why}` }
  if (found.status !== 200) return { kind: 'unsure', why: `the lookup answered HTTP ${found.status}` }
  const url = field(found.body, 'signed_download_url', 'signedDownloadUrl')
  const matchedKey = field(found.body, 'matched_key', 'matchedKey')
  if (found.body.ok !== true) return { kind: 'miss' }
  if (!url || !matchedKey) return { kind: 'unsure', why: 'the lookup named no archive' }

  await fs.promises.mkdir(request.workRoot, { recursive: true })
  const unpacked = await unpack(url, request.workRoot, bounds, signal)
  if (unpacked !== undefined) return { kind: 'unsure', why: unpacked }

  let unsure: string | undefined
  const lookup = async (key: string): Promise<Lookup> => {
    const pack = await call('GetCacheEntryDownloadURL', { key, restore_keys: [], version: PACK_VERSION })
    if (pack.kind === 'answered' && pack.status === 200) {
      const packUrl = field(pack.body, 'signed_download_url', 'signedDownloadUrl')
      if (pack.body.ok !== true) return { kind: 'miss' }
      if (packUrl) return { kind: 'hit', downloadUrl: packUrl }
    }
    unsure = pack.kind === 'answered' ? `a pack lookup answered HTTP ${pack.status}` : pack.why
    return { kind: 'failed', reason: unsure }
  }
  const blobs = await locatePackUrls(path.join(request.workRoot, request.paths[0] ?? ''), lookup)
  if (unsure !== undefined) return { kind: 'unsure', why: unsure }
  return { kind: 'hit', matchedKey, blobs }
}

type TwirpAnswer =
  | { kind: 'answered'; status: number; body: Record<string, unknown> }
  | { kind: 'unanswered'; why: string }

/** One call; unanswered past the call bound, a TimeoutError in the client's words. */
async function twirp(
  base: string,
  token: string,
  method: string,
  body: Record<string, unknown>,
  bounds: Bounds,
  signal: AbortSignal | undefined
): Promise<TwirpAnswer> {
  const bound = AbortSignal.timeout(bounds.callSeconds * 1000)
  const either = signal ? AbortSignal.any([signal, bound]) : bound
  try {
    const response = await fetch(new URL(`/twirp/${SERVICE}/${method}`, base), {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: either
    })
    const answer = await response.text()
    if (response.status !== 200) return { kind: 'answered', status: response.status, body: {} }
    try {
      return { kind: 'answered', status: 200, body: JSON.parse(answer) as Record<string, unknown> }
    } catch {
      return { kind: 'unanswered', why: 'the answer is not JSON' }
    }
  } catch (error) {
    signal?.throwIfAborted()
    if (bound.aborted) throw new TimeoutError(unansweredCall(method, bounds))
    return { kind: 'unanswered', why: (error as Error).message }
  }
}

/**
 * Streams the archive at `url` into tar, as the client extracts it but
 * without `-P`: the names it wrote are relative to its workspace. Undefined
 * once unpacked; otherwise why not.
 */
async function unpack(
  url: string,
  workRoot: string,
  bounds: Bounds,
  signal: AbortSignal | undefined
): Promise<string | undefined> {
  const stall = new AbortController()
  const either = signal ? AbortSignal.any([signal, stall.signal]) : stall.signal
  let bytes = 0
  let timer = setTimeout(() => stall.abort(), bounds.stallSeconds * 1000)
  const idle = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => stall.abort(), bounds.stallSeconds * 1000)
  }
  const tar = spawn('tar', ['-xf', '-', '-C', workRoot, '--use-compress-program', 'unzstd'], {
    stdio: ['pipe', 'ignore', 'pipe']
  })
  let said = ''
  tar.stderr.on('data', (data: Buffer) => {
    said = `${said}${data.toString('utf8')}`.slice(-2000)
  })
  const exited = new Promise<number | null>(resolve => {
    tar.once('close', code => resolve(code))
    tar.once('error', () => resolve(null))
  })
  // tar ends early on a broken archive: what is still written to it is dropped.
  tar.stdin.on('error', () => undefined)
  try {
    const response = await fetch(url, { signal: either })
    if (response.status !== 200 || !response.body) {
      tar.stdin.destroy()
      return `the archive's download answered HTTP ${response.status}`
    }
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      idle()
      bytes += chunk.byteLength
      if (!tar.stdin.write(chunk)) await drained(tar.stdin, either)
    }
    tar.stdin.end()
  } catch (error) {
    tar.kill('SIGKILL')
    await exited
    signal?.throwIfAborted()
    if (stall.signal.aborted) throw new TimeoutError(stalledTransfer('download', bytes, bounds))
    return `the archive's download failed: ${(error as Error).message}`
  } finally {
    clearTimeout(timer)
  }
  const code = await exited
  return code === 0 ? undefined : `tar exited with code ${code}: ${said.trim().split('\n').join('; ')}`
}

function drained(stream: NodeJS.WritableStream, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      stream.off('drain', done)
      stream.off('close', done)
      signal.removeEventListener('abort', aborted)
      resolve()
    }
    const aborted = (): void => {
      stream.off('drain', done)
      stream.off('close', done)
      reject(signal.reason)
    }
    stream.once('drain', done)
    stream.once('close', done)
    signal.addEventListener('abort', aborted, { once: true })
  })
}

/** Whether the client would compress with zstd: it asks `zstd --quiet --version`, and any answer will do. */
async function hasZstd(): Promise<boolean> {
  const zstd = spawn('zstd', ['--quiet', '--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  zstd.stdout.on('data', (data: Buffer) => {
    out += data.toString('utf8')
  })
  const waited = new AbortController()
  const ended = await Promise.race([
    new Promise<boolean>(resolve => {
      zstd.once('close', () => resolve(true))
      zstd.once('error', () => resolve(false))
    }),
    sleep(ZSTD_ANSWER_MS, false, { signal: waited.signal }).catch(() => false)
  ])
  waited.abort()
  if (!ended) zstd.kill('SIGKILL')
  return ended && out.trim() !== ''
}
