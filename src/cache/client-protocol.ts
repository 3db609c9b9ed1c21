// What the action and its cache client process say to each other over the
// IPC channel. Types only: importing this pulls nothing into either bundle.

export type ClientRequest =
  | { op: 'restore'; paths: string[]; key: string; restoreKeys: string[] }
  | { op: 'save'; paths: string[]; key: string }

export type ClientReply =
  /** The runner gave this job no cache service. */
  | { kind: 'unavailable' }
  /** `found`: the entry the lookup named; `matchedKey`: set only when it was also downloaded and unpacked. */
  | { kind: 'restored'; found?: string; matchedKey?: string }
  /** The client's entry id, or -1 when the service did not take the entry. */
  | { kind: 'saved'; id: number }
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
