import { HttpClient } from '@actions/http-client'
import { BearerCredentialHandler } from '@actions/http-client/lib/auth'
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { failureWait, rateLimitWait } from './backoff.js'

// The three calls of the cache service's v2 protocol that packs need,
// spoken directly: @actions/cache would wrap every pack in a tar archive and
// compress it again. The index entry still goes through @actions/cache.

/** The twirp service every v2 call goes to. */
export const SERVICE = 'github.actions.results.api.v1.CacheService'
const FAILURE_TRIES = 3
/** Longest the calls of one transfer wait in all on the rate limit before giving up. */
const RATE_LIMIT_BUDGET_SECONDS = 60

/** Entries of packs are versioned apart from everything @actions/cache writes. */
export const PACK_VERSION = createHash('sha256').update('buildx-ci-cache pack 1').digest('hex')

export type Reservation =
  | { kind: 'reserved'; uploadUrl: string }
  /** The service holds this pack already (another run uploaded the same blobs). */
  | { kind: 'exists' }
  | { kind: 'refused'; reason: string }

export type Lookup = { kind: 'hit'; downloadUrl: string } | { kind: 'miss' } | { kind: 'failed'; reason: string }

/**
 * Whether the runner's cache service speaks the v2 API, as @actions/cache
 * decides it: the runner says so, and the server is GitHub's (GHES keeps v1,
 * where entries stay whole layouts).
 */
export function packsAvailable(env: NodeJS.ProcessEnv): boolean {
  if (!env.ACTIONS_CACHE_SERVICE_V2 || !env.ACTIONS_RESULTS_URL) return false
  let host = 'github.com'
  try {
    host = new URL(env.GITHUB_SERVER_URL || 'https://github.com').hostname.toUpperCase()
  } catch {
    return false
  }
  return host === 'GITHUB.COM' || host.endsWith('.GHE.COM') || host.endsWith('.LOCALHOST')
}

type Answer =
  | { kind: 'answered'; status: number; body: Record<string, unknown>; retryAfter?: string }
  | { kind: 'unanswered'; error: string }

export class PackService {
  private readonly client: HttpClient
  private rateLimitWaited = 0

  constructor(
    private readonly baseUrl: string,
    token: string,
    /** Said for each wait, so the log explains a slow save. */
    private readonly say: (line: string) => void = () => undefined
  ) {
    this.client = new HttpClient('buildx-ci-cache', [new BearerCredentialHandler(token)])
  }

  /** The service from the runner's environment, or undefined when it gave this job none that takes packs. */
  static fromEnv(env: NodeJS.ProcessEnv, say?: (line: string) => void): PackService | undefined {
    const url = env.ACTIONS_RESULTS_URL
    const token = env.ACTIONS_RUNTIME_TOKEN
    return packsAvailable(env) && url && token ? new PackService(url, token, say) : undefined
  }

  async lookup(key: string): Promise<Lookup> {
    const answer = await this.call('GetCacheEntryDownloadURL', { key, restore_keys: [], version: PACK_VERSION })
    if (answer.kind !== 'answered' || answer.status !== 200) return { kind: 'failed', reason: describe(answer) }
    const url = field(answer.body, 'signed_download_url', 'signedDownloadUrl')
    return answer.body.ok === true && url ? { kind: 'hit', downloadUrl: url } : { kind: 'miss' }
  }

  async reserve(key: string): Promise<Reservation> {
    const answer = await this.call('CreateCacheEntry', { key, version: PACK_VERSION })
    if (answer.kind === 'answered' && answer.status === 409) return { kind: 'exists' }
    if (answer.kind !== 'answered' || answer.status !== 200) return { kind: 'refused', reason: describe(answer) }
    const url = field(answer.body, 'signed_upload_url', 'signedUploadUrl')
    if (answer.body.ok === true && url) return { kind: 'reserved', uploadUrl: url }
    return { kind: 'refused', reason: String(answer.body.message || 'the service did not reserve it') }
  }

  async finalize(key: string, sizeBytes: number): Promise<string | undefined> {
    const answer = await this.call('FinalizeCacheEntryUpload', {
      key,
      size_bytes: String(sizeBytes),
      version: PACK_VERSION
    })
    if (answer.kind !== 'answered' || answer.status !== 200) return describe(answer)
    return answer.body.ok === true ? undefined : String(answer.body.message || 'the service did not complete it')
  }

  // 429s wait as the service asks, within a budget shared by the calls of
  // this process; 5xx and unanswered calls are tried three times.
  private async call(method: string, body: Record<string, unknown>): Promise<Answer> {
    const url = new URL(`/twirp/${SERVICE}/${method}`, this.baseUrl).href
    let failures = 0
    for (let rateLimited = 0; ; ) {
      const answer = await this.post(url, body)
      if (answer.kind === 'answered' && answer.status === 429) {
        const wait = rateLimitWait(answer.retryAfter, rateLimited++)
        if (this.rateLimitWaited + wait > RATE_LIMIT_BUDGET_SECONDS) return answer
        this.rateLimitWaited += wait
        this.say(`The cache service is rate-limiting new entries; ${method} again in ${Math.ceil(wait)} s.`)
        await sleep(wait * 1000)
        continue
      }
      if ((answer.kind === 'unanswered' || answer.status >= 500) && ++failures < FAILURE_TRIES) {
        await sleep(failureWait(failures) * 1000)
        continue
      }
      return answer
    }
  }

  private async post(url: string, body: Record<string, unknown>): Promise<Answer> {
    try {
      const response = await this.client.post(url, JSON.stringify(body), { 'Content-Type': 'application/json' })
      const text = await response.readBody()
      const status = response.message.statusCode ?? 0
      const headers = response.message.headers
      let parsed: Record<string, unknown> = {}
      try {
        parsed = JSON.parse(text) as Record<string, unknown>
      } catch {
        parsed = { msg: text.slice(0, 200) }
      }
      const retryAfter = headers['retry-after']
      return {
        kind: 'answered',
        status,
        body: parsed,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined
      }
    } catch (error) {
      return { kind: 'unanswered', error: (error as Error).message }
    }
  }
}

/** A string field of a v2 answer, under its snake_case or camelCase name; unset when empty. */
export function field(body: Record<string, unknown>, snake: string, camel: string): string | undefined {
  const value = body[snake] ?? body[camel]
  return typeof value === 'string' && value !== '' ? value : undefined
}

function describe(answer: Answer): string {
  if (answer.kind === 'unanswered') return `no answer (${answer.error})`
  const message = answer.body.msg ?? answer.body.message ?? ''
  return `HTTP ${answer.status}${message ? `: ${String(message)}` : ''}`
}
