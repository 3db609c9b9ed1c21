import type { CacheService, EntryInfo } from './cache-service.js'

// A save of the gha store writes an index entry under the content key and,
// when it has blobs the service does not hold, a pack under
// `<prefix>/<image>/<branch>/packs/`. Tests that count saves count indexes.

export function isPack(entry: Pick<EntryInfo, 'key'>): boolean {
  return entry.key.split('/')[3] === 'packs'
}

/** The index entries the service holds, oldest first. */
export function indexEntries(service: Pick<CacheService, 'entries'>): EntryInfo[] {
  return service.entries().filter(e => !isPack(e))
}

/** The packs the service holds, oldest first. */
export function packEntries(service: Pick<CacheService, 'entries'>): EntryInfo[] {
  return service.entries().filter(isPack)
}
