// How long the cache may keep a job waiting. A call to the service (a lookup,
// a reservation) is a small request: it is answered within seconds or not at
// all. A transfer is judged by its progress: a download of several gigabytes
// that keeps moving is never cut, one that stops moving is given up on.
import { megabytes } from '../megabytes.js'
import type { Pending } from './client-protocol.js'

export interface Bounds {
  /** Seconds a call to the service may go unanswered. */
  callSeconds: number
  /** Seconds a download or an upload may go without moving a byte. */
  stallSeconds: number
}

export const DEFAULT_STALL_SECONDS = 60

/** A call gets half the stall bound to be answered: 30 s by default. */
export function boundsFor(stallSeconds: number = DEFAULT_STALL_SECONDS): Bounds {
  return { callSeconds: stallSeconds / 2, stallSeconds }
}

/**
 * Why the wait should end now, or undefined while it may go on. `silentSeconds`
 * is how long the client has not reported at all: a client that stopped
 * reporting is treated as a stalled transfer.
 */
export function overdue(pending: readonly Pending[], silentSeconds: number, bounds: Bounds): string | undefined {
  for (const p of pending) {
    if (p.kind === 'call' && p.idleSeconds >= bounds.callSeconds) return unansweredCall(p.method, bounds)
    if (p.kind !== 'call' && p.idleSeconds >= bounds.stallSeconds) return stalledTransfer(p.kind, p.bytes, bounds)
  }
  if (silentSeconds >= bounds.stallSeconds)
    return `The cache client stopped responding for ${seconds(bounds.stallSeconds)}`
  return undefined
}

/** Why a call to the service was given up on: it went unanswered for the call bound. */
export function unansweredCall(method: string, bounds: Bounds): string {
  return `The cache service did not answer ${callWords(method)} within ${seconds(bounds.callSeconds)}`
}

/** Why a transfer was given up on: no byte moved for the stall bound, after `bytes`. */
export function stalledTransfer(kind: 'download' | 'upload', bytes: number, bounds: Bounds): string {
  // Below a kilobyte, only the request and its headers went through.
  const moved = bytes >= 1024 ? ` after ${size(bytes)}` : ''
  return kind === 'download'
    ? `The cache download stopped: nothing arrived for ${seconds(bounds.stallSeconds)}${moved}`
    : `The cache upload stopped: the service took nothing for ${seconds(bounds.stallSeconds)}${moved}`
}

function callWords(method: string): string {
  switch (method) {
    case 'GetCacheEntryDownloadURL':
      return 'the lookup of the cache entry'
    case 'CreateCacheEntry':
      return 'the request to reserve the new entry'
    case 'FinalizeCacheEntryUpload':
      return 'the request to complete the new entry'
    default:
      return 'a request'
  }
}

function seconds(n: number): string {
  return `${Number.isInteger(n) ? n : n.toFixed(1)} s`
}

function size(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} KB` : megabytes(bytes)
}
