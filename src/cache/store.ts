import type { CacheBackendName } from '../constants.js'
import type { KeyPlan } from '../key/key.js'

/** Where buildx reads or writes a cache; docker/buildx-args.ts renders it as a --cache-from/--cache-to value. */
export type CacheLocation =
  | {
      type: 'local'
      dir: string
      /**
       * An export only: the loopback registry the builder pushes the cache
       * to, which lays into `dir` the blobs the restored entry lacks.
       */
      through?: string
    }
  | { type: 'registry'; ref: string }

export interface Restored {
  /** The key of the entry found. */
  matchedKey: string
  /** What buildx imports; empty when the entry is not whole. */
  from: CacheLocation[]
  sizeBytes: number
  /** Bytes that came over the network for it, when the store knows (packs fetch only what the entry names). */
  movedBytes?: number
  /** The blobs are read by the builder during the build (`movedBytes` is known only after it). */
  served?: boolean
  /**
   * Where the entry's own files are on the runner when `from` is not a
   * directory (an entry served to the builder keeps its index and cache
   * mounts here).
   */
  dir?: string
  /** Why the entry found cannot be imported (a missing blob, a bad archive); unset when it is whole. */
  problem?: string
}

export interface Exported {
  sizeBytes: number
  problem?: string
}

export type SaveResult =
  | {
      saved: true
      key: string
      sizeBytes: number
      /** Bytes uploaded, when the store knows: only blobs the service did not hold. */
      movedBytes?: number
      /** Other entries the saved one needs (its packs): never superseded by it. */
      needs?: string[]
    }
  | { saved: false; reason: string }

/** What the main step hands the post step so that it finds the same store. */
export interface StoreConfig {
  backend: CacheBackendName
  image: string
  /** With the local backend: the directory that outlives the runner. */
  cacheRoot: string
  /** With the registry backend: the repository that holds the entries (`cache-ref`). */
  cacheRef: string
  /** Names what this job puts in places other jobs share. */
  jobId: string
  /** With the gha backend: seconds a transfer may go without moving a byte (half of it for a call to be answered); unset: the default. */
  stallSeconds?: number
}

/**
 * Where buildx caches live between runs. Each store owns its directories:
 * the caller asks where the build exports, then to save what was exported.
 * Restore and save never throw for a cache problem: they warn and report
 * nothing restored or nothing saved.
 */
export interface CacheStore {
  readonly backend: CacheBackendName
  /**
   * The newest entry for the lookup, else for the first restore key that has
   * one. Rejects with a TimeoutError when the service stops answering or
   * `signal` aborts, having left nothing behind.
   */
  restore(plan: KeyPlan, signal?: AbortSignal): Promise<Restored | undefined>
  /**
   * Where this run's build writes the cache it may save; throws when there is
   * nowhere. `content`: the content key it will be saved under, when not the
   * plan's (a failed build's progress is saved under a partial key).
   */
  exportTo(content?: string): Promise<CacheLocation>
  /**
   * What the build exported: its size, and why it cannot be saved when the
   * export failed part-way (buildx is told to ignore export errors, so that a
   * cache problem never fails the build). `buildError` is what buildx printed
   * about the export when it failed, for the store to explain.
   */
  exported(buildError?: string): Promise<Exported>
  /** Makes the exported cache the newest entry for the content key, superseding older ones; rejects as restore does. */
  save(plan: Pick<KeyPlan, 'content'>, signal?: AbortSignal): Promise<SaveResult>
  /** Everything the store made on the runner, removed whatever happened. */
  temporaryPaths(): string[]
  /**
   * Called once the builds that import the restored entry are over: a store
   * that serves the entry's blobs to the builder stops, and says what the
   * builder read. Stores that only lay files out have nothing to do.
   */
  release?(): Promise<Released | undefined>
}

/** What the builder read of an entry served to it during the build. */
export interface Released {
  /** Bytes that came over the network. */
  movedBytes: number
  /** What could not be read, a line per blob: the build went on without the cache. */
  problems: string[]
}
