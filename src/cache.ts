import type { CacheBackendName } from './constants.js'

export interface Restored {
  matchedKey: string
  /** The buildx local cache to import. */
  dir: string
  sizeBytes: number
}

export type SaveResult = { saved: true; sizeBytes: number } | { saved: false; reason: string }

/**
 * Where buildx caches live between runs. Restore and save never throw for a
 * cache problem: they warn and report nothing restored or nothing saved.
 */
export interface CacheStore {
  readonly backend: CacheBackendName
  restore(primaryKey: string, restoreKeys: string[]): Promise<Restored | undefined>
  /** A fresh directory for `--cache-to`, removed by `discard` if unused. */
  exportDir(): Promise<string>
  /** After a successful build: make the exported cache the one to save, replacing the old one. */
  adopt(exported: string): Promise<string>
  save(dir: string, key: string): Promise<SaveResult>
  /** Every directory this store made, for removal whatever happened. */
  temporaryPaths(): string[]
}

export class TimeoutError extends Error {}

/** Resolves as the promise does, or rejects with TimeoutError after `seconds`. */
export async function within<T>(seconds: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${seconds} s`)), seconds * 1000)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
