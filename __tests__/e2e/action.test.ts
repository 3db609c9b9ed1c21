// The action end to end: the bundled dist/ run as the runner runs it, a real
// engine building, the real @actions/cache client talking to a local service.
import { describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import type { CacheService, TokenScope } from '../support/cache-service.js'
import { uniqueWorkspaceFrom } from '../support/engine.js'
import { MASTER, pushTo, writer } from '../support/events.js'
import { freshJob, leftovers, type JobOutcome } from '../support/fresh-job.js'
import type { EventSpec } from '../support/run-action.js'
import { cacheServiceForFile } from '../support/suite.js'
import { builtSteps } from '../support/build-steps.js'
import { indexEntries, isPack, packEntries } from '../support/entries.js'

jest.setTimeout(300_000)

const pushToMaster = pushTo('master')
const masterToken = writer('master')

const service = cacheServiceForFile()

interface Job {
  workspace: string
  event?: EventSpec
  scopes?: TokenScope[]
  inputs?: Record<string, string>
  env?: Record<string, string>
  skipPost?: boolean
}

const job = (spec: Job): Promise<JobOutcome> =>
  freshJob(service, {
    ...spec,
    image: spec.inputs?.image ?? 'ci-image',
    event: spec.event ?? pushToMaster,
    scopes: spec.scopes ?? masterToken
  })

const cachedSteps = (log: string): number => builtSteps(log).cached.length

describe('the gha backend', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')
  let firstKey = ''
  // The first entry's key: the content key and a generation.
  let firstEntry = ''
  let firstSize = 0

  it('saves after a cold build on master', async () => {
    const r = await job({ workspace })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs['cache-hit']).toBe('false')
    expect(r.main.outputs['cache-source']).toBe('none')
    expect(cachedSteps(r.main.log)).toBe(0)
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
    const entries = indexEntries(service)
    expect(entries.map(e => e.scope)).toEqual([MASTER])
    expect(entries[0].key.startsWith(`${r.main.outputs.key}/`)).toBe(true)
    expect(leftovers(r.runnerTemp)).toEqual([])
    expect(r.main.outputs.imageid).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(Number(r.main.outputs['cache-size'])).toBeGreaterThan(2 * 1024 * 1024)
    expect(r.summary).toMatch(
      /\| ci-image \| <code>buildx\/ci-image\/master\/[0-9a-f]{64}<\/code> \| nothing: cold build \| – \| [\d.]+ s, 0\/7 steps cached \| [\d.]+ MB in [\d.]+ s/
    )
    firstKey = r.main.outputs.key
    firstEntry = entries[0].key
    firstSize = entries[0].sizeBytes
  })

  it('gives a fresh runner on master an exact hit with every step cached, and saves nothing', async () => {
    const r = await job({ workspace })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs).toMatchObject({
      key: firstKey,
      'cache-hit': 'true',
      'cache-source': 'exact',
      'matched-key': firstEntry
    })
    expect(r.main.log).toContain('7 of 7 steps were cached.')
    expect(r.main.log).not.toContain('--cache-to')
    expect(r.post?.log).toContain(`Cache hit occurred on the primary key ${firstKey}, not saving cache.`)
    expect(r.writes).toBe(0)
    expect(leftovers(r.runnerTemp)).toEqual([])
    expect(r.summary).toContain('| exact match: <code>')
    expect(r.summary).toContain('7/7 steps cached | no: Cache hit occurred on the primary key')
  })

  it("lets a feature branch restore master's cache and save nothing", async () => {
    const r = await job({
      workspace,
      event: { name: 'push', ref: 'refs/heads/feature', payload: { repository: { default_branch: 'master' } } },
      scopes: [
        { scope: 'refs/heads/feature', permission: 3 },
        { scope: MASTER, permission: 1 }
      ]
    })
    expect(r.main.exitCode).toBe(0)
    // Saved for the same content: a hit, though from another branch.
    expect(r.main.outputs).toMatchObject({
      'cache-hit': 'true',
      'cache-source': 'default-branch',
      'matched-key': firstEntry
    })
    expect(cachedSteps(r.main.log)).toBe(7)
    expect(r.post?.log).toContain('Not saving the cache: refs/heads/feature is not a branch that writes the cache')
    expect(r.writes).toBe(0)
  })

  it("lets a pull request restore its base branch's cache and save nothing", async () => {
    const r = await job({
      workspace,
      event: {
        name: 'pull_request',
        ref: 'refs/pull/7/merge',
        headRef: 'feature',
        baseRef: 'master',
        payload: { repository: { default_branch: 'master' }, pull_request: { number: 7 } }
      },
      scopes: [
        { scope: 'refs/pull/7/merge', permission: 3 },
        { scope: MASTER, permission: 1 }
      ]
    })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'base-branch', 'matched-key': firstEntry })
    expect(cachedSteps(r.main.log)).toBe(7)
    expect(r.post?.log).toContain('Not saving the cache: pull_request runs never write the cache')
    expect(r.writes).toBe(0)
  })

  it('gives a changed COPY source a new key, restores by fallback, reuses the unchanged layers and saves without growing', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'second version\n')
    const r = await job({ workspace })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs.key).not.toBe(firstKey)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'branch', 'cache-hit': 'false', 'matched-key': firstEntry })
    // The nonce, busybox, its install, the setup script and its run come from the cache.
    expect(r.main.log).toContain('5 of 7 steps were cached.')
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
    const saved = indexEntries(service).find(e => e.key.startsWith(`${r.main.outputs.key}/`))
    // The old 2 MiB data layer is not carried along: the new entry replaces, not adds.
    expect(saved?.sizeBytes).toBeLessThan(firstSize * 1.1)
    expect(leftovers(r.runnerTemp)).toEqual([])
  })

  it('skips a save above max-cache-size with a warning', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'third version\n')
    const r = await job({ workspace, inputs: { 'max-cache-size': '1MB' } })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.log).toMatch(
      /::warning::Not saving the cache: the new cache is [\d.]+ MB, above max-cache-size \(1.0 MB\)/
    )
    expect(r.writes).toBe(0)
    expect(leftovers(r.runnerTemp)).toEqual([])
  })

  it('deletes the superseded entries of the image through the REST API when asked', async () => {
    const api = await startCachesApi(service)
    try {
      const before = indexEntries(service).filter(e => e.key.startsWith('buildx/ci-image/master/'))
      const packsBefore = packEntries(service).filter(e => e.key.startsWith('buildx/ci-image/master/'))
      expect(before.length).toBeGreaterThanOrEqual(2)
      fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'fourth version\n')
      const r = await job({
        workspace,
        inputs: { 'delete-superseded': 'true', 'github-token': 'ghs_test-token' },
        env: { GITHUB_API_URL: api.url }
      })
      expect(r.main.exitCode).toBe(0)
      expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
      // Every older entry of this image on master, and of its packs only
      // those the new entry does not name.
      const deletedPacks = api.deleted.filter(key => isPack({ key }))
      expect(api.deleted.filter(key => !isPack({ key })).sort()).toEqual(before.map(e => e.key).sort())
      expect(deletedPacks.length).toBeGreaterThan(0)
      expect(packsBefore.map(e => e.key)).toEqual(expect.arrayContaining(deletedPacks))
      expect(api.authorization).toBe('token ghs_test-token')
      expect(r.post?.log).not.toContain('ghs_test-token')
    } finally {
      await api.close()
    }
  })

  it("never gives one image another image's cache", async () => {
    for (const image of ['ci', 'ci-image-extra']) {
      const r = await job({ workspace, inputs: { image } })
      expect(r.main.exitCode).toBe(0)
      expect(r.main.outputs['cache-source']).toBe('none')
      expect(cachedSteps(r.main.log)).toBe(0)
      expect(r.post?.log).toContain('Cache saved with key:')
    }
    const keys = indexEntries(service).map(e => e.key)
    expect(new Set(keys).size).toBe(keys.length)
    expect(keys.filter(k => k.startsWith('buildx/ci/master/'))).toHaveLength(1)
    expect(keys.filter(k => k.startsWith('buildx/ci-image-extra/master/'))).toHaveLength(1)
  })

  // What a failed build keeps of its progress: progress-on-failure.test.ts.
  it('fails clearly on a build error, saves nothing with save-on-failure off and leaves no temporary directory', async () => {
    fs.writeFileSync(
      path.join(workspace, 'Dockerfile.broken'),
      'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "exit 3"]\n'
    )
    const r = await job({
      workspace,
      inputs: { image: 'broken', file: 'Dockerfile.broken', 'save-on-failure': 'false' }
    })
    expect(r.main.exitCode).toBe(1)
    expect(r.main.log).toMatch(/::error::The image build failed \(docker buildx exit code 1\): .*exit code: 3/)
    expect(r.post?.log).toContain('Not saving the cache: the build failed.')
    expect(r.writes).toBe(0)
    expect(leftovers(r.runnerTemp)).toEqual([])
  })

  it('fails clearly on a bad input and names the input', async () => {
    const r = await job({ workspace, inputs: { image: 'ci-image', file: 'no/such/Dockerfile' } })
    expect(r.main.exitCode).toBe(1)
    expect(r.main.log).toContain('::error::No Dockerfile at')
    expect(r.main.log).toContain('Set `file`')
    expect(r.post?.exitCode).toBe(0)
    expect(r.writes).toBe(0)
  })
})

describe('the local backend', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')
  const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-'))
  const inputs = { 'cache-backend': 'local', 'cache-root': cacheRoot }
  const masterEntries = (): string[] => fs.readdirSync(path.join(cacheRoot, 'buildx', 'ci-image', 'master'))
  let firstKey = ''

  it('saves after a cold build on master', async () => {
    const r = await job({ workspace, inputs })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs['cache-source']).toBe('none')
    firstKey = r.main.outputs.key
    expect(fs.existsSync(path.join(cacheRoot, firstKey, 'index.json'))).toBe(true)
    expect(r.writes).toBe(0)
  })

  it('gives a fresh runner on master an exact hit with every step cached', async () => {
    const r = await job({ workspace, inputs })
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-source': 'exact' })
    expect(r.main.log).toContain('7 of 7 steps were cached.')
    expect(r.post?.log).toContain('Cache hit occurred on the primary key')
  })

  it("lets a pull request restore master's cache and write nothing", async () => {
    const r = await job({
      workspace,
      inputs,
      event: { name: 'pull_request', ref: 'refs/pull/7/merge', headRef: 'feature', baseRef: 'master', payload: {} }
    })
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'base-branch', 'matched-key': firstKey })
    expect(masterEntries()).toEqual([path.basename(firstKey)])
    expect(fs.readdirSync(path.join(cacheRoot, 'buildx', 'ci-image'))).toEqual(['master'])
  })

  it('builds with a warning, not a failure, when cache-root cannot hold a cache', async () => {
    const notADirectory = path.join(cacheRoot, 'a-file')
    fs.writeFileSync(notADirectory, '')
    const r = await job({ workspace, inputs: { ...inputs, 'cache-root': notADirectory } })
    fs.rmSync(notADirectory)
    expect(r.main.exitCode).toBe(0)
    expect(r.main.log).toMatch(
      /::warning::Building without saving a cache: there is nowhere to export the new cache: ENOTDIR/
    )
    expect(r.post?.log).toContain('Not saving the cache: there is nowhere to export')
  })

  it('replaces the old entry with the new one after a change', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'second version\n')
    const r = await job({ workspace, inputs })
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'branch', 'matched-key': firstKey })
    expect(r.main.log).toContain('5 of 7 steps were cached.')
    expect(masterEntries()).toEqual([path.basename(r.main.outputs.key)])
    expect(fs.readdirSync(cacheRoot)).toEqual(['buildx'])
    expect(leftovers(r.runnerTemp)).toEqual([])
  })
})

/**
 * The REST API's cache list and delete, over the cache service's real entries:
 * what the post step calls for `delete-superseded`. Records what it deleted.
 */
async function startCachesApi(
  service: CacheService
): Promise<{ url: string; deleted: string[]; authorization: string; close(): Promise<void> }> {
  const deleted: string[] = []
  let authorization = ''
  const entries = () =>
    service.entries().map((e, id) => ({ id: id + 1, key: e.key, ref: e.scope, created_at: e.createdAt.toISOString() }))
  const server = http.createServer((req, res) => {
    authorization = req.headers.authorization ?? ''
    const url = new URL(req.url ?? '/', 'http://localhost')
    const reply = (status: number, body?: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(body === undefined ? '' : JSON.stringify(body))
    }
    if (req.method === 'GET' && url.pathname === '/repos/example/ci/actions/caches') {
      const key = url.searchParams.get('key') ?? ''
      const ref = url.searchParams.get('ref')
      const list = entries().filter(e => e.key.startsWith(key) && (!ref || e.ref === ref) && !deleted.includes(e.key))
      return reply(200, { total_count: list.length, actions_caches: list })
    }
    const remove = /^\/repos\/example\/ci\/actions\/caches\/(\d+)$/.exec(url.pathname)
    const target = remove && entries().find(e => e.id === Number(remove[1]))
    if (req.method === 'DELETE' && target) {
      deleted.push(target.key)
      return reply(204)
    }
    reply(404, { message: 'Not Found' })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deleted,
    get authorization() {
      return authorization
    },
    close: () => new Promise<void>(resolve => server.close(() => resolve()))
  }
}
