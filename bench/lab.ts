// Everything a benchmark job runs against: the engine, a local cache service
// whose entries live on this disk, and scratch directories under one root
// that is removed at the end.
import * as fs from 'node:fs'
import * as path from 'node:path'
import {
  GITHUB_CREATES_PER_MINUTE,
  startCacheService,
  type CacheService,
  type EntryInfo
} from '../__tests__/support/cache-service.js'
import { ROOT } from '../__tests__/support/engine.js'
import { debianContent } from './debian-content.js'
import { benchEngine, type Engine } from './engine.js'
import { run } from './proc.js'
import type { Fixture, Settings } from './settings.js'

export interface StoredEntry {
  /** The key the service holds it under. */
  key: string
  blob: string
  sizeBytes: number
  version: string
}

export interface Lab {
  settings: Settings
  engine: Engine
  /** Ours and BuildKit's own type=gha both reach it here, in the engine's network namespace. */
  service: CacheService
  /** Where the service keeps its blobs (entries.json names them). */
  storageDir: string
  /** A fresh, empty directory under the work root. */
  tempDir(prefix: string): string
  /** A copy of the fixture plus the busybox its Dockerfile starts from, and its Debian packages if it has any. */
  workspace(fixture: Fixture): Promise<string>
  /** The newest entry the service holds for a content key; blob is the archive's path: @actions/cache's tar + zstd. */
  entry(key: string): StoredEntry
  entryBytes(key: string): number
  /** Bytes of the entries the service holds that `belongs` picks. */
  storedBytes(belongs: (entry: EntryInfo) => boolean): number
  /**
   * A `cache-ref` on the engine's registry for the fixture, new with every
   * benchmark run: the registry keeps what earlier runs pushed.
   */
  cacheRef(fixture: Fixture): string
  close(): Promise<void>
}

export async function openLab(settings: Settings): Promise<Lab> {
  const engine = benchEngine()
  const started = new Date()
  const runDir = path.join(settings.workRoot, `run-${started.toISOString().replace(/[:.]/g, '-')}`)
  const storageDir = path.join(runDir, 'cache-service')
  fs.mkdirSync(storageDir, { recursive: true })
  // GitHub's limit on new entries, so that a side that writes many at once meets it here as it would there.
  const service = await startCacheService({ storageDir, createLimit: { perMinute: GITHUB_CREATES_PER_MINUTE } })

  const tempDir = (prefix: string): string => fs.mkdtempSync(path.join(runDir, prefix))
  // One unpacked copy per fixture folder for the whole run; workspaces hard-link
  // it, since nothing edits those files (the change file is the fixture's own).
  const contents = new Map<string, Promise<string>>()
  const content = (fixture: Fixture): Promise<string> => {
    let made = contents.get(fixture.name)
    if (!made) {
      const dir = tempDir(`content-${fixture.name}-`)
      made = debianContent(
        path.join(ROOT, '__fixtures__', fixture.name),
        dir,
        path.join(settings.workRoot, 'debs')
      ).then(() => dir)
      contents.set(fixture.name, made)
    }
    return made
  }
  // The action names an entry by its content key; the service holds it under
  // that key plus a generation (`<content>/<generation>`), the newest of which
  // a restore finds. A key the action stored as it is (no generation) matches too.
  const entry = (key: string): StoredEntry => {
    const entries = JSON.parse(fs.readFileSync(path.join(storageDir, 'entries.json'), 'utf8')) as Array<
      StoredEntry & { seq: number }
    >
    const found = entries
      .filter(e => e.key === key || e.key.startsWith(`${key}/`))
      .sort((a, b) => a.seq - b.seq)
      .at(-1)
    if (!found) throw new Error(`The cache service holds no entry ${key}.`)
    return {
      key: found.key,
      sizeBytes: found.sizeBytes,
      version: found.version,
      blob: path.join(storageDir, 'blobs', found.blob)
    }
  }

  return {
    settings,
    engine,
    service,
    storageDir,
    tempDir,
    async workspace(fixture) {
      const dir = tempDir(`ws-${fixture.name}-`)
      fs.cpSync(path.join(ROOT, '__fixtures__', fixture.name), dir, { recursive: true })
      if (fixture.debianPackages) await run('cp', ['-al', `${await content(fixture)}/.`, dir])
      fs.copyFileSync(engine.busybox, path.join(dir, 'busybox'))
      fs.chmodSync(path.join(dir, 'busybox'), 0o755)
      return dir
    },
    entry,
    entryBytes: key => {
      // An entry of packs needs its packs: the image's packs on that branch
      // stored up to it (the benchmarks delete none), with its index.
      const found = entry(key)
      const entries = JSON.parse(fs.readFileSync(path.join(storageDir, 'entries.json'), 'utf8')) as Array<
        StoredEntry & { seq: number }
      >
      const seq = entries.find(e => e.key === found.key)?.seq ?? Number.POSITIVE_INFINITY
      const packs = `${found.key.split('/').slice(0, 3).join('/')}/packs/`
      return (
        found.sizeBytes +
        entries.filter(e => e.key.startsWith(packs) && e.seq < seq).reduce((sum, e) => sum + e.sizeBytes, 0)
      )
    },
    storedBytes: belongs =>
      service
        .entries()
        .filter(belongs)
        .reduce((sum, e) => sum + e.sizeBytes, 0),
    cacheRef: fixture => `${engine.registry}/bench-${started.getTime().toString(36)}/${fixture.image}`,
    async close() {
      await service.close()
      await fs.promises.rm(runDir, { recursive: true, force: true, maxRetries: 3 })
    }
  }
}

/** Edits the fixture's change file: a commit that changes the image. Release n always gives the same key. */
export function setRelease(workspace: string, fixture: Fixture, release: number): void {
  fs.writeFileSync(path.join(workspace, fixture.changeFile), `CI_RELEASE=${release}\n`)
}
