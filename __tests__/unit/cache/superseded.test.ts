import { afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type * as Superseded from '../../../src/cache/superseded.js'

// A stand-in for the two REST endpoints, driven by the real octokit from
// @actions/github: it filters and pages like the service (key as a prefix,
// ref exact, a Link header to the next page) and records every call.

interface Entry {
  id: number
  key: string
  ref: string
  created_at: string
}

interface Behaviour {
  /** Entries per page, whatever per_page asks, to force several pages. */
  pageSize: number
  /** Answer the list with everything, as a looser prefix match would. */
  ignoreFilters: boolean
  listStatus?: number
  deleteStatus?: number
  /** Accept list requests and never answer them. */
  hangList: boolean
  /** Ids still listed but gone by the time they are deleted (evicted meanwhile). */
  vanished: number[]
}

class CachesApi {
  entries: Entry[] = []
  deleted: number[] = []
  deleteCalls = 0
  listQueries: URLSearchParams[] = []
  authorizations: string[] = []
  behaviour: Behaviour = { pageSize: 100, ignoreFilters: false, hangList: false, vanished: [] }
  private server: Server | undefined

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res))
    await new Promise<void>(resolve => this.server?.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    if (!this.server) return
    this.server.closeAllConnections()
    await new Promise(resolve => this.server?.close(resolve))
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.authorizations.push(req.headers.authorization ?? '')
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    const deleteMatch = /^\/repos\/acme\/ci\/actions\/caches\/(\d+)$/.exec(url.pathname)
    if (req.method === 'GET' && url.pathname === '/repos/acme/ci/actions/caches') return this.list(url, res)
    if (req.method === 'DELETE' && deleteMatch) return this.remove(Number(deleteMatch[1]), res)
    json(res, 404, { message: 'Not Found' })
  }

  private list(url: URL, res: ServerResponse): void {
    this.listQueries.push(url.searchParams)
    if (this.behaviour.hangList) return
    if (this.behaviour.listStatus)
      return json(res, this.behaviour.listStatus, { message: 'Resource not accessible by integration' })
    const key = url.searchParams.get('key') ?? ''
    const ref = url.searchParams.get('ref')
    const matching = this.entries
      .filter(e => this.behaviour.ignoreFilters || (e.key.startsWith(key) && (ref === null || e.ref === ref)))
      // The service lists the most recently used first; newest first stands in for it.
      .sort((a, b) => b.created_at.localeCompare(a.created_at))
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), this.behaviour.pageSize)
    const page = Number(url.searchParams.get('page') ?? 1)
    const slice = matching.slice((page - 1) * perPage, page * perPage)
    if (page * perPage < matching.length) {
      const next = new URL(url)
      next.searchParams.set('page', String(page + 1))
      res.setHeader('link', `<${next.toString()}>; rel="next"`)
    }
    json(res, 200, {
      total_count: matching.length,
      actions_caches: slice.map(e => ({ ...e, version: 'v', size_in_bytes: 1 }))
    })
  }

  private remove(id: number, res: ServerResponse): void {
    this.deleteCalls++
    if (this.behaviour.deleteStatus) {
      return json(res, this.behaviour.deleteStatus, {
        message: this.behaviour.deleteStatus === 403 ? 'Resource not accessible by integration' : 'Server Error',
        documentation_url:
          'https://docs.github.com/rest/actions/cache#delete-a-github-actions-cache-for-a-repository-using-a-cache-id'
      })
    }
    const index = this.entries.findIndex(e => e.id === id)
    if (index < 0 || this.behaviour.vanished.includes(id)) return json(res, 404, { message: 'Not Found' })
    this.entries.splice(index, 1)
    this.deleted.push(id)
    res.writeHead(204).end()
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

const TOKEN = 'ghs_placeholderTokenForTests0000'
const REF = 'refs/heads/master'
const SCOPE = 'buildx/ci/master/'
const KEEP = `${SCOPE}${'c'.repeat(64)}`
const T0 = Date.parse('2025-01-01T00:00:00Z')

let nextId = 1
function entry(key: string, minute: number, ref = REF): Entry {
  return { id: nextId++, key, ref, created_at: new Date(T0 + minute * 60_000).toISOString() }
}

let mod: typeof Superseded
let api: CachesApi
let apiUrl: string

beforeAll(async () => {
  // @actions/github picks its proxy when first loaded; a proxy from the
  // environment would otherwise carry these loopback requests away.
  for (const name of ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY']) delete process.env[name]
  mod = await import('../../../src/cache/superseded.js')
})

async function startApi(entries: Entry[], behaviour: Partial<Behaviour> = {}): Promise<void> {
  api = new CachesApi()
  api.entries = entries
  api.behaviour = { ...api.behaviour, ...behaviour }
  apiUrl = await api.start()
}

afterEach(async () => {
  await api?.stop()
})

const run = (over: Partial<Superseded.DeletionOptions> = {}): Promise<Superseded.DeletionResult> =>
  mod.deleteSuperseded({
    token: TOKEN,
    repository: 'acme/ci',
    ref: REF,
    scopePrefix: SCOPE,
    keep: KEEP,
    apiUrl,
    ...over
  })

describe('deleteSuperseded', () => {
  // One repository's worth of entries around the scope buildx/ci/master/.
  function repositoryEntries(): { superseded: Entry[]; untouchable: Entry[] } {
    const superseded = [entry(`${SCOPE}${'a'.repeat(64)}`, 1), entry(`${SCOPE}${'b'.repeat(64)}`, 2)]
    const untouchable = [
      entry(KEEP, 10),
      // Saved by a newer run while this one was still building.
      entry(`${SCOPE}${'d'.repeat(64)}`, 11),
      // Image names that share a prefix with `ci`.
      entry(`buildx/ci-image/master/${'a'.repeat(64)}`, 0),
      entry(`buildx/ci2/master/${'a'.repeat(64)}`, 0),
      entry(`buildx/other/master/${'a'.repeat(64)}`, 0),
      // The same image on other branches, and another key prefix.
      entry(`buildx/ci/feature%2Fx/${'a'.repeat(64)}`, 0, 'refs/heads/feature/x'),
      entry(`buildx/ci/master-old/${'a'.repeat(64)}`, 0),
      entry(`buildx2/ci/master/${'a'.repeat(64)}`, 0),
      // A pull request from a fork whose head branch is also called master:
      // same key scope, but its own ref.
      entry(`${SCOPE}${'e'.repeat(64)}`, 0, 'refs/pull/7/merge')
    ]
    return { superseded, untouchable }
  }

  it('deletes the older entries of the image on the branch, oldest first, and nothing else', async () => {
    const { superseded, untouchable } = repositoryEntries()
    await startApi([...superseded, ...untouchable])

    const result = await run()

    expect(api.deleted).toEqual(superseded.map(e => e.id))
    expect(result).toEqual({ deleted: superseded.map(e => e.key), failed: [], warn: false })
    expect(api.entries.map(e => e.id).sort()).toEqual(untouchable.map(e => e.id).sort())
    expect(api.listQueries[0]?.get('key')).toBe(SCOPE)
    expect(api.listQueries[0]?.get('ref')).toBe(REF)
    expect(api.authorizations.every(a => a === `token ${TOKEN}`)).toBe(true)
  })

  it('keeps the older packs the entry just saved still names, and deletes the packs it does not', async () => {
    const named = entry(`${SCOPE}packs/${'1'.repeat(64)}`, 3)
    const unnamed = entry(`${SCOPE}packs/${'2'.repeat(64)}`, 4)
    const { superseded, untouchable } = repositoryEntries()
    await startApi([...superseded, named, unnamed, ...untouchable])

    const result = await run({ needed: [named.key] })

    expect(result.deleted).toEqual([...superseded, unnamed].map(e => e.key))
    expect(api.entries.map(e => e.key)).toContain(named.key)
  })

  it('lets a partial entry supersede only older partial ones: whole entries and packs stay', async () => {
    const partialKeep = `${SCOPE}${'c'.repeat(64)}.partial/0mx7a0000`
    const olderPartial = entry(`${SCOPE}${'a'.repeat(64)}.partial/0mx700000`, 3)
    const pack = entry(`${SCOPE}packs/${'2'.repeat(64)}`, 4)
    const { superseded, untouchable } = repositoryEntries()
    await startApi([...superseded, olderPartial, pack, entry(partialKeep, 10), ...untouchable])

    const result = await run({ keep: partialKeep, onlyPartial: true })

    expect(result.deleted).toEqual([olderPartial.key])
    expect(api.entries.map(e => e.key)).toEqual(expect.arrayContaining([...superseded.map(e => e.key), pack.key]))
  })

  it('lets a whole entry supersede older partial ones too', async () => {
    const olderPartial = entry(`${SCOPE}${'a'.repeat(64)}.partial/0mx700000`, 3)
    const { superseded, untouchable } = repositoryEntries()
    await startApi([...superseded, olderPartial, ...untouchable])

    const result = await run()

    expect(result.deleted).toEqual([...superseded, olderPartial].map(e => e.key))
  })

  it('filters by itself, even if the service matched the key more loosely', async () => {
    const { superseded, untouchable } = repositoryEntries()
    await startApi([...superseded, ...untouchable], { ignoreFilters: true })

    const result = await run()

    expect(api.deleted).toEqual(superseded.map(e => e.id))
    expect(result.failed).toEqual([])
  })

  it('reads every page before deleting', async () => {
    const old = Array.from({ length: 7 }, (_, i) => entry(`${SCOPE}old${i}`, i))
    await startApi([...old, entry(KEEP, 100)], { pageSize: 3 })

    const result = await run()

    expect(api.listQueries.map(q => q.get('page') ?? '1')).toEqual(['1', '2', '3'])
    expect(api.deleted).toEqual(old.map(e => e.id))
    expect(result.deleted).toHaveLength(7)
    expect(result.skippedReason).toBeUndefined()
  })

  it('deletes at most 100 entries a run, the oldest, and says how many are left', async () => {
    const old = Array.from({ length: 130 }, (_, i) => entry(`${SCOPE}old${i}`, i))
    await startApi([...old, entry(KEEP, 1000)], { pageSize: 40 })

    const result = await run()

    expect(api.deleted).toEqual(old.slice(0, 100).map(e => e.id))
    expect(result.deleted).toHaveLength(100)
    expect(result.skippedReason).toMatch(/^30 superseded entries left for the next save \(at most 100/)
    expect(result.warn).toBe(false)

    await api.stop()
    await startApi([...old.slice(100), entry(KEEP, 1000)])
    expect((await run({ maxDeletions: 5 })).deleted).toHaveLength(5)
  })

  it('stops at the first 403 and says which permission the job needs', async () => {
    await startApi([entry(`${SCOPE}old1`, 1), entry(`${SCOPE}old2`, 2), entry(KEEP, 3)], { deleteStatus: 403 })

    const result = await run()

    expect(api.deleteCalls).toBe(1)
    expect(result.deleted).toEqual([])
    expect(result.failed).toEqual([{ key: `${SCOPE}old1`, reason: mod.PERMISSION_HINT }])
    expect(result.failed[0]?.reason).toContain('permissions: actions: write')
    expect(result.skippedReason).toBe('1 more superseded entries left untried.')
    expect(result.warn).toBe(true)
    expect(JSON.stringify(result)).not.toContain(TOKEN)
  })

  it('stops at a rate limit, and goes on past a server error', async () => {
    await startApi([entry(`${SCOPE}old1`, 1), entry(`${SCOPE}old2`, 2), entry(KEEP, 3)], { deleteStatus: 429 })
    const limited = await run()
    expect(api.deleteCalls).toBe(1)
    expect(limited.failed[0]?.reason).toMatch(/rate limit was reached \(HTTP 429\)/)

    await api.stop()
    await startApi([entry(`${SCOPE}old1`, 1), entry(`${SCOPE}old2`, 2), entry(KEEP, 3)], { deleteStatus: 500 })
    const failing = await run()
    expect(api.deleteCalls).toBe(2)
    expect(failing.failed.map(f => f.reason)).toEqual(['HTTP 500: Server Error', 'HTTP 500: Server Error'])
    expect(failing.skippedReason).toBeUndefined()
  })

  it('reports a 403 on the list the same way', async () => {
    await startApi([entry(`${SCOPE}old1`, 1), entry(KEEP, 3)], { listStatus: 403 })

    const result = await run()

    expect(api.deleteCalls).toBe(0)
    expect(result.skippedReason).toBe(`The caches could not be listed: ${mod.PERMISSION_HINT}`)
    expect(result.warn).toBe(true)
  })

  it('treats an entry that vanished between the list and the delete as done', async () => {
    const vanishing = entry(`${SCOPE}old1`, 1)
    const old = entry(`${SCOPE}old2`, 2)
    await startApi([vanishing, old, entry(KEEP, 3)], { vanished: [vanishing.id] })

    const result = await run()

    expect(api.deleteCalls).toBe(2)
    expect(result).toEqual({ deleted: [old.key], failed: [], warn: false })
  })

  it('turns an unreachable API into a reason', async () => {
    await startApi([])
    await api.stop()

    const result = await run()

    expect(result.deleted).toEqual([])
    expect(result.skippedReason).toMatch(/^The caches could not be listed: the REST API could not be reached/)
    expect(result.warn).toBe(true)
  })

  it('gives up when the API does not answer in time', async () => {
    await startApi([entry(`${SCOPE}old1`, 1), entry(KEEP, 3)], { hangList: true })

    const started = Date.now()
    const result = await run({ timeoutSeconds: 0.5 })

    expect(Date.now() - started).toBeLessThan(5000)
    expect(result.skippedReason).toBe('The caches could not be listed: no answer within 0.5 s.')
    expect(api.deleteCalls).toBe(0)
  })

  it('deletes nothing while the entry just saved is not listed', async () => {
    await startApi([entry(`${SCOPE}old1`, 1)])

    const result = await run()

    expect(api.deleteCalls).toBe(0)
    expect(result.skippedReason).toMatch(/is not listed yet; nothing deleted/)
    expect(result.warn).toBe(false)
  })

  it.each([
    ['an empty scope', { scopePrefix: '' }],
    [
      'a scope that is not a whole <prefix>/<image>/<branch>/',
      { scopePrefix: 'buildx/ci/', keep: 'buildx/ci/master/x' }
    ],
    ['a scope without its closing separator', { scopePrefix: 'buildx/ci/master' }],
    ['a kept key outside the scope', { keep: `buildx/other/master/${'c'.repeat(64)}` }],
    ['a kept key that is the scope itself', { keep: SCOPE }],
    ['a short ref', { ref: 'master' }],
    ['a repository without an owner', { repository: 'ci' }],
    ['no token', { token: '' }]
  ])('refuses %s before any request', async (_, over) => {
    await startApi([entry(`${SCOPE}old1`, 1), entry(KEEP, 3)])

    const result = await run(over)

    expect(result.skippedReason).toBeDefined()
    expect(api.listQueries).toHaveLength(0)
    expect(api.deleteCalls).toBe(0)
  })
})

describe('deletionSummary', () => {
  it('says what was deleted, what failed and what was left', () => {
    expect(mod.deletionSummary({ deleted: ['a'], failed: [], warn: false })).toBe('Deleted 1 superseded cache entry.')
    expect(
      mod.deletionSummary({
        deleted: [],
        failed: [{ key: 'k', reason: 'HTTP 500: boom' }],
        skippedReason: '2 more superseded entries left untried.',
        warn: true
      })
    ).toBe(
      'Deleted 0 superseded cache entries. 1 could not be deleted; k: HTTP 500: boom 2 more superseded entries left untried.'
    )
  })
})
