// What the action and its cache client process say to each other over the
// IPC channel. Types only: importing this pulls nothing into either bundle.
import type { Fetched, Uploaded } from './packs/entry.js'

export type ClientRequest =
  /**
   * After the index entry, the blobs its manifest places are fetched into the
   * restored layout (`blobs: 'fetch'`), or only their packs looked up, for the
   * action to serve the blobs to the build itself (`'locate'`).
   */
  | { op: 'restore'; paths: string[]; key: string; restoreKeys: string[]; blobs: 'fetch' | 'locate' }
  /** `pack`: blobs of the layout at `layout` the service does not hold, uploaded before the index entry. */
  | {
      op: 'save'
      paths: string[]
      key: string
      pack?: { key: string; blobs: Array<{ digest: string; size: number }>; layout: string }
    }

export type ClientReply =
  /** The runner gave this job no cache service. */
  | { kind: 'unavailable' }
  /** `found`: the entry the lookup named; `matchedKey`: set only when it was also downloaded and unpacked. */
  | { kind: 'restored'; found?: string; matchedKey?: string; blobs?: Fetched }
  /** The client's entry id, or -1 when the service did not take the entry; `pack`: what became of the pack. */
  | { kind: 'saved'; id: number; pack?: Uploaded }
  /** The pack could not be stored, so the index entry that names it was not saved. */
  | { kind: 'pack-failed'; reason: string }
  /** The client refused the request itself (a key it cannot send, say). */
  | { kind: 'refused'; message: string }

export type ClientMessage =
  /** Sent four times a second: the requests the client is waiting on. */
  { type: 'activity'; pending: Pending[] } | { type: 'done'; reply: ClientReply }

/** What the cache client is waiting for: one HTTP request still open. */
export interface Pending {
  kind: 'call' | 'download' | 'upload'
  /** The service method for a call (GetCacheEntryDownloadURL, ...); empty for a transfer. */
  method: string
  /** Seconds since a byte last moved on the request's connection (or since it started). */
  idleSeconds: number
  /** Bytes moved on the request's connection so far. */
  bytes: number
}
