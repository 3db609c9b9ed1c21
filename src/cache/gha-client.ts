// The cache client process: runs @actions/cache for one restore or save and
// reports to the action over the IPC channel. The action starts it with the
// working directory and environment the client needs (its own temp dir, the
// workspace it archives from) and ends it, with everything it started, when
// the service stops answering. Bundled apart (dist/cache-client), so that the
// steps do not load the client unless they talk to the service.
import * as cache from '@actions/cache'
import type { ClientMessage, ClientReply, ClientRequest } from './client-protocol.js'
import { NetworkActivity } from './network-activity.js'
import { fetchEntryBlobs, locateEntryPacks, uploadEntryPack, type Uploaded } from './packs/entry.js'
import { rateLimitWait } from './packs/backoff.js'
import { PackService } from './packs/service.js'
import { RateLimits } from './rate-limits.js'
import * as path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const REPORT_EVERY_MS = 250

function send(message: ClientMessage): Promise<void> {
  return new Promise(resolve => {
    if (!process.send) return resolve()
    process.send(message, undefined, {}, () => resolve())
  })
}

async function serve(request: ClientRequest): Promise<ClientReply> {
  if (!cache.isFeatureAvailable()) return { kind: 'unavailable' }
  // Unset on a service without the v2 API (GHES): there entries are whole layouts.
  const service = PackService.fromEnv(process.env, line => console.log(line))
  try {
    if (request.op === 'save') {
      // The pack first: an index entry must never name a pack the service does not hold.
      let pack: Uploaded | undefined
      if (request.pack) {
        if (!service) return { kind: 'pack-failed', reason: 'packs need the cache service v2 API' }
        pack = await uploadEntryPack(request.pack, request.pack.layout, service)
        if (pack.kind === 'failed') return { kind: 'pack-failed', reason: pack.reason }
      }
      return { kind: 'saved', id: await saveWaitingOnRateLimit(request.paths, request.key), pack }
    }
    // One lookup on a hit, the common case. The client answers a miss and a
    // failed download alike; only then does a second, lookup-only call tell
    // them apart.
    const matchedKey = await cache.restoreCache(request.paths, request.key, request.restoreKeys)
    if (matchedKey !== undefined) {
      const dir = path.resolve(request.paths[0] ?? '')
      const blobs =
        request.blobs === 'locate' ? await locateEntryPacks(dir, service) : await fetchEntryBlobs(dir, service)
      return { kind: 'restored', found: matchedKey, matchedKey, blobs }
    }
    const found = await cache.restoreCache(request.paths, request.key, request.restoreKeys, { lookupOnly: true })
    return found === undefined ? { kind: 'restored' } : { kind: 'restored', found }
  } catch (error) {
    return { kind: 'refused', message: (error as Error).message }
  }
}

/** Longest a save waits in all on the service's rate limit before it gives up. */
const RATE_LIMIT_BUDGET_SECONDS = 60

// A matrix that saves at once can meet the service's limit on new entries:
// the entry is asked for again when the service says, within a budget.
async function saveWaitingOnRateLimit(paths: string[], key: string): Promise<number> {
  let waited = 0
  for (let attempt = 0; ; attempt++) {
    const refusedBefore = rateLimits.count()
    const id = await cache.saveCache(paths, key)
    if (id !== -1 || rateLimits.count() === refusedBefore) return id
    const wait = rateLimitWait(rateLimits.latestRetryAfter(), attempt)
    if (waited + wait > RATE_LIMIT_BUDGET_SECONDS) return id
    waited += wait
    console.log(`The cache service is rate-limiting new entries; saving again in ${Math.ceil(wait)} s.`)
    await sleep(wait * 1000)
  }
}

const rateLimits = new RateLimits()
const activity = new NetworkActivity()
const reporting = setInterval(() => void send({ type: 'activity', pending: activity.pending() }), REPORT_EVERY_MS)

// Without the action there is nobody to report to: end, with the archiver
// this process started (it leads its own process group).
process.once('disconnect', () => {
  try {
    process.kill(-process.pid, 'SIGKILL')
  } catch {
    process.exit(1)
  }
})

process.once('message', request => {
  void serve(request as ClientRequest).then(async reply => {
    clearInterval(reporting)
    await send({ type: 'done', reply })
    // A request the client left open must not keep this process alive.
    process.exit(0)
  })
})
