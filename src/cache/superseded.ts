import * as github from '@actions/github'
import { isPartialKey } from '../key/key.js'
import { timeLimit } from '../time-limit.js'

// After the default branch saves a new entry for an image, the older entries
// of that image on that branch only take room in the repository's cache quota:
// every reader falls back to the newest entry of a scope, so once a newer one
// exists an older one is used only by an exact key match. This module deletes
// them through the REST API. It never throws: the save already happened, and
// a failed clean-up must never fail the job.

export interface DeletionOptions {
  /** A token with `actions: write` on the repository. Never logged or returned. */
  token: string
  /** owner/name, as in GITHUB_REPOSITORY. */
  repository: string
  /** The full ref whose entries are considered, e.g. refs/heads/master. */
  ref: string
  /** `<prefix>/<image>/<branch>/`: only keys under it are ever deleted. */
  scopePrefix: string
  /** The key just saved; it and anything created after it are kept. */
  keep: string
  /** Older entries the kept one still needs (the packs holding its blobs): kept too. */
  needed?: string[]
  /**
   * The kept entry is partial (a failed build's progress): it supersedes only
   * older partial entries, never a whole one, which may still serve a build of
   * its own content.
   */
  onlyPartial?: boolean
  /** The REST API root (GITHUB_API_URL). Default: the one @actions/github picks. */
  apiUrl?: string
  /** Bound on the whole listing and deleting. Default 60. */
  timeoutSeconds?: number
  /** Bound on the deletions of one run; the rest wait for the next save. Default 100. */
  maxDeletions?: number
}

export interface DeletionResult {
  /** Keys of the entries deleted, oldest first. */
  deleted: string[]
  failed: Array<{ key: string; reason: string }>
  /** Why nothing, or not everything, was deleted. */
  skippedReason?: string
  /** Something failed that the user should hear about (a refused token, an unreachable API), not just work left for later. */
  warn: boolean
}

interface CacheEntry {
  id: number
  key: string
  ref: string
  createdAt: number
}

const DEFAULT_TIMEOUT_SECONDS = 60
const DEFAULT_MAX_DELETIONS = 100
const PAGE_SIZE = 100
const LIST_ROUTE = 'GET /repos/{owner}/{repo}/actions/caches'
const DELETE_ROUTE = 'DELETE /repos/{owner}/{repo}/actions/caches/{cache_id}'

export const PERMISSION_HINT =
  'the token may not list or delete caches (HTTP 403): add `permissions: actions: write` to the job (with `contents: read` ' +
  'for the checkout), or pass a token that has it as `github-token`.'

type Octokit = ReturnType<typeof github.getOctokit>

export async function deleteSuperseded(options: DeletionOptions): Promise<DeletionResult> {
  const result: DeletionResult = { deleted: [], failed: [], warn: false }
  const invalid = invalidOptions(options)
  if (invalid !== undefined) return { ...result, skippedReason: invalid }

  const seconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS
  const deadline = timeLimit(seconds, `no answer within ${seconds} s.`)
  try {
    const octokit = client(options, deadline)
    const [owner, repo] = options.repository.split('/') as [string, string]

    let entries: CacheEntry[]
    try {
      entries = await listScope(octokit, { owner, repo, ref: options.ref, prefix: options.scopePrefix })
    } catch (error) {
      const reason = explain(error, deadline, seconds)
      return { ...result, skippedReason: `The caches could not be listed: ${reason}`, warn: true }
    }

    const plan = superseded(entries, options)
    if (typeof plan === 'string') return { ...result, skippedReason: plan }

    const max = options.maxDeletions ?? DEFAULT_MAX_DELETIONS
    for (const [index, entry] of plan.slice(0, max).entries()) {
      const left = plan.length - index
      if (deadline.aborted) {
        result.skippedReason = `${left} superseded entries left: the clean-up took longer than ${seconds} s.`
        return result
      }
      const outcome = await deleteEntry(octokit, { owner, repo, cache_id: entry.id })
      if (outcome === 'deleted') result.deleted.push(entry.key)
      if (outcome === 'deleted' || outcome === 'gone') continue
      const failure = outcome.error
      result.failed.push({ key: entry.key, reason: explain(failure, deadline, seconds) })
      result.warn = true
      // Every other deletion would fail for the same reason; stop asking.
      if (isFatal(failure, deadline)) {
        if (left > 1) result.skippedReason = `${left - 1} more superseded entries left untried.`
        return result
      }
    }
    if (plan.length > max) {
      result.skippedReason = `${plan.length - max} superseded entries left for the next save (at most ${max} deletions a run).`
    }
    return result
  } catch (error) {
    // Not expected (listing and deleting catch their own errors), but this
    // step must never throw.
    return {
      ...result,
      skippedReason: `The clean-up stopped: ${firstLine(String((error as Error).message))}`,
      warn: true
    }
  }
}

/** One line for the log; write it as a warning when `result.warn`. */
export function deletionSummary(result: DeletionResult): string {
  const parts = [`Deleted ${result.deleted.length} superseded cache entr${result.deleted.length === 1 ? 'y' : 'ies'}.`]
  const [first] = result.failed
  if (first) {
    parts.push(`${result.failed.length} could not be deleted; ${first.key}: ${first.reason}`)
  }
  if (result.skippedReason !== undefined) parts.push(result.skippedReason)
  return parts.join(' ')
}

// The prefix decides what may be deleted, so anything that would widen it
// (an empty prefix, one that is not a whole scope, a kept key outside it)
// stops the clean-up before any request is made.
function invalidOptions(options: DeletionOptions): string | undefined {
  if (!options.token) return 'No token to call the REST API with.'
  if (!/^[^/\s]+\/[^/\s]+$/.test(options.repository)) return `Not an owner/name repository: "${options.repository}".`
  if (!options.ref.startsWith('refs/')) return `Not a full ref: "${options.ref}".`
  if (!options.scopePrefix.endsWith('/') || options.scopePrefix.split('/').length < 4) {
    return `Not a <prefix>/<image>/<branch>/ scope: "${options.scopePrefix}".`
  }
  if (!options.keep.startsWith(options.scopePrefix) || options.keep.length === options.scopePrefix.length) {
    return `The kept key "${options.keep}" is not in the scope "${options.scopePrefix}".`
  }
  return undefined
}

// The deadline goes on every request through a hook: the paginator drops
// per-call request options after the first page.
function client(options: DeletionOptions, signal: AbortSignal): Octokit {
  const octokit = github.getOctokit(options.token, options.apiUrl ? { baseUrl: options.apiUrl } : {})
  octokit.hook.before('request', requestOptions => {
    requestOptions.request = { ...requestOptions.request, signal }
  })
  return octokit
}

interface ListParams {
  owner: string
  repo: string
  ref: string
  prefix: string
}

// The whole list is read before anything is deleted: deleting while paging
// would shift the pages and skip entries.
async function listScope(octokit: Octokit, params: ListParams): Promise<CacheEntry[]> {
  const entries: CacheEntry[] = []
  const pages = octokit.paginate.iterator(LIST_ROUTE, {
    owner: params.owner,
    repo: params.repo,
    // `key` is a prefix match on the service side; the filter below is what counts.
    key: params.prefix,
    ref: params.ref,
    per_page: PAGE_SIZE
  })
  for await (const page of pages) {
    for (const raw of page.data) {
      const entry = toEntry(raw)
      if (entry !== undefined) entries.push(entry)
    }
  }
  return entries
}

function toEntry(raw: { id?: number; key?: string; ref?: string; created_at?: string }): CacheEntry | undefined {
  if (typeof raw.id !== 'number' || typeof raw.key !== 'string' || typeof raw.ref !== 'string') return undefined
  const createdAt = raw.created_at === undefined ? Number.NaN : Date.parse(raw.created_at)
  return { id: raw.id, key: raw.key, ref: raw.ref, createdAt }
}

/**
 * The entries to delete, oldest first, or why there are none to consider.
 * Only entries created before the kept one go: a run that saves late must not
 * delete what a newer run saved while it was building.
 */
function superseded(
  entries: CacheEntry[],
  scope: Pick<DeletionOptions, 'ref' | 'scopePrefix' | 'keep' | 'needed' | 'onlyPartial'>
): CacheEntry[] | string {
  const needed = new Set(scope.needed ?? [])
  const inScope = entries.filter(e => e.ref === scope.ref && e.key.startsWith(scope.scopePrefix))
  const deletable = (key: string): boolean => !scope.onlyPartial || isPartialKey(key)
  const kept = inScope.filter(e => e.key === scope.keep && Number.isFinite(e.createdAt))
  if (kept.length === 0) {
    return `The entry just saved (${scope.keep}) is not listed yet; nothing deleted, the next save will clean up.`
  }
  const keptAt = Math.max(...kept.map(e => e.createdAt))
  return inScope
    .filter(
      e =>
        e.key !== scope.keep &&
        !needed.has(e.key) &&
        deletable(e.key) &&
        Number.isFinite(e.createdAt) &&
        e.createdAt < keptAt
    )
    .sort((a, b) => a.createdAt - b.createdAt || a.id - b.id)
}

// A type alias, not an interface: octokit's parameters need an index signature.
type DeleteParams = { owner: string; repo: string; cache_id: number }

/** `gone`: evicted or deleted by another run since the list; not a failure. */
async function deleteEntry(octokit: Octokit, params: DeleteParams): Promise<'deleted' | 'gone' | { error: unknown }> {
  try {
    await octokit.request(DELETE_ROUTE, params)
    return 'deleted'
  } catch (error) {
    return statusOf(error) === 404 ? 'gone' : { error }
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status
  return typeof status === 'number' ? status : undefined
}

// Octokit reports a failure to connect as status 500 without a response; only
// a received response says the service itself answered.
function hasResponse(error: unknown): boolean {
  return (error as { response?: unknown }).response !== undefined
}

function isRateLimit(error: unknown): boolean {
  const status = statusOf(error)
  if (status === 429) return true
  const headers = (error as { response?: { headers?: Record<string, string | undefined> } }).response?.headers
  return status === 403 && (headers?.['x-ratelimit-remaining'] === '0' || headers?.['retry-after'] !== undefined)
}

function isFatal(error: unknown, signal: AbortSignal): boolean {
  if (signal.aborted || !hasResponse(error)) return true
  const status = statusOf(error)
  return status === 401 || status === 403 || status === 429
}

/** One line about a failure, without the token or request details. */
function explain(error: unknown, signal: AbortSignal, seconds: number): string {
  if (signal.aborted) return `no answer within ${seconds} s.`
  const status = statusOf(error)
  const message = firstLine((error as Error).message ?? String(error))
  if (!hasResponse(error)) return `the REST API could not be reached (${message}).`
  if (isRateLimit(error)) return `the REST API's rate limit was reached (HTTP ${status}); the next save will try again.`
  if (status === 403) return PERMISSION_HINT
  if (status === 401) return 'the token was refused (HTTP 401).'
  return `HTTP ${status}: ${message}`
}

function firstLine(text: string): string {
  // Octokit appends the documentation URL after " - "; the status says enough.
  return text
    .split('\n')[0]
    ?.replace(/ - https:\/\/docs\.github\.com\S*$/, '')
    .slice(0, 200)
}
