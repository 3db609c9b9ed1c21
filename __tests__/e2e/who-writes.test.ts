// Who may write the cache, the poisoning question: every event a workflow can
// run on, each with the token GitHub would give it and the payload GitHub
// writes, against the bundled action on a real engine. Only the default
// branch's own runs may write; every other run reads the default branch's
// cache and leaves no write behind, not even a reservation the service would
// refuse. A fork's branch names count for nothing, not even for the outputs.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { runtimeToken, type CacheService, type TokenScope } from '../support/cache-service.js'
import { freshRunner, workspaceFrom } from '../support/engine.js'
import { runJob, type EventSpec, type JobResult } from '../support/run-action.js'
import { cacheServiceForFile } from '../support/suite.js'
import { indexEntries, isPack } from '../support/entries.js'

jest.setTimeout(120_000)

const MASTER = 'refs/heads/master'
const repository = { default_branch: 'master', full_name: 'example/ci' }
const QUEUE = 'refs/heads/gh-readonly-queue/master/pr-7-0123456789abcdef0123456789abcdef01234567'
// What GitHub writes to GITHUB_EVENT_PATH for a scheduled run: the cron line and nothing else.
const SCHEDULE_PAYLOAD = { schedule: '0 3 * * *' }

interface Case {
  name: string
  event: EventSpec
  /** The cache scopes GitHub's runtime token carries for such a run. */
  scopes: TokenScope[]
  saves: boolean
  /** Where the run reads from when its own key misses. */
  source: string
  /** Part of the line saying why nothing is saved. */
  reason?: RegExp
  /** The key's branch part, when it is not the ref's branch. */
  keyBranch?: string
}

const read = (scope: string): TokenScope => ({ scope, permission: 1 })
const readWrite = (scope: string): TokenScope => ({ scope, permission: 3 })

const pullRequest = (number: number, head: string, fork: boolean): Record<string, unknown> => ({
  repository,
  number,
  pull_request: {
    number,
    head: {
      ref: head,
      label: `${fork ? 'someone' : 'example'}:${head}`,
      repo: { full_name: fork ? 'someone/ci' : 'example/ci', fork }
    },
    base: { ref: 'master', repo: { full_name: 'example/ci' } }
  }
})

const CASES: Case[] = [
  {
    name: 'push to the default branch',
    event: { name: 'push', ref: MASTER, payload: { repository } },
    scopes: [readWrite(MASTER)],
    saves: true,
    source: 'branch'
  },
  {
    name: 'push to another branch',
    event: { name: 'push', ref: 'refs/heads/feature', payload: { repository } },
    scopes: [readWrite('refs/heads/feature'), read(MASTER)],
    saves: false,
    source: 'default-branch',
    reason: /refs\/heads\/feature is not a branch that writes the cache/
  },
  {
    name: 'tag push',
    event: { name: 'push', ref: 'refs/tags/v1.2.3', payload: { repository } },
    scopes: [readWrite('refs/tags/v1.2.3'), read(MASTER)],
    saves: false,
    source: 'default-branch',
    reason: /refs\/tags\/v1\.2\.3 is not a branch that writes the cache/
  },
  {
    name: 'pull_request',
    event: {
      name: 'pull_request',
      ref: 'refs/pull/7/merge',
      headRef: 'feature',
      baseRef: 'master',
      payload: pullRequest(7, 'feature', false)
    },
    scopes: [readWrite('refs/pull/7/merge'), read(MASTER)],
    saves: false,
    source: 'base-branch',
    reason: /pull_request runs never write the cache/,
    keyBranch: 'pull%2F7'
  },
  {
    // The head branch's name is the fork's choice: it must count for nothing.
    name: 'pull_request from a fork whose head branch is named master',
    event: {
      name: 'pull_request',
      ref: 'refs/pull/8/merge',
      headRef: 'master',
      baseRef: 'master',
      payload: pullRequest(8, 'master', true)
    },
    scopes: [readWrite('refs/pull/8/merge'), read(MASTER)],
    saves: false,
    source: 'base-branch',
    reason: /pull_request runs never write the cache/,
    keyBranch: 'pull%2F8'
  },
  {
    // Runs in the base repository's context, on the default branch, with the
    // read-only cache token GitHub gives untrusted triggers.
    name: 'pull_request_target',
    event: {
      name: 'pull_request_target',
      ref: MASTER,
      headRef: 'feature',
      baseRef: 'master',
      payload: pullRequest(9, 'feature', true)
    },
    scopes: [read(MASTER)],
    saves: false,
    source: 'base-branch',
    reason: /pull_request_target runs never write the cache/,
    keyBranch: 'pull%2F9'
  },
  {
    name: 'workflow_run after a fork pull request (read-only token)',
    event: {
      name: 'workflow_run',
      ref: MASTER,
      payload: {
        repository,
        workflow_run: {
          event: 'pull_request',
          head_branch: 'master',
          head_repository: { full_name: 'someone/ci', fork: true }
        }
      }
    },
    scopes: [read(MASTER)],
    saves: false,
    source: 'branch',
    reason: /workflow_run runs never write the cache/
  },
  {
    // The token could write: the action's own rule is what stops it.
    name: 'workflow_run after a push (token may write)',
    event: {
      name: 'workflow_run',
      ref: MASTER,
      payload: {
        repository,
        workflow_run: {
          event: 'push',
          head_branch: 'master',
          head_repository: { full_name: 'example/ci', fork: false }
        }
      }
    },
    scopes: [readWrite(MASTER)],
    saves: false,
    source: 'branch',
    reason: /workflow_run runs never write the cache/
  },
  {
    name: 'merge_group',
    event: {
      name: 'merge_group',
      ref: QUEUE,
      payload: {
        repository,
        merge_group: { head_ref: QUEUE, base_ref: MASTER, head_sha: '0123456789abcdef0123456789abcdef01234567' }
      }
    },
    scopes: [readWrite(QUEUE), read(MASTER)],
    saves: false,
    source: 'base-branch',
    reason: /merge_group runs do not write the cache/
  },
  {
    // GitHub runs schedules on the default branch only, with no repository in the payload.
    name: 'schedule on the default branch',
    event: { name: 'schedule', ref: MASTER, payload: SCHEDULE_PAYLOAD },
    scopes: [readWrite(MASTER)],
    saves: true,
    source: 'branch'
  },
  {
    name: 'workflow_dispatch on the default branch',
    event: { name: 'workflow_dispatch', ref: MASTER, payload: { repository, inputs: {} } },
    scopes: [readWrite(MASTER)],
    saves: true,
    source: 'branch'
  },
  {
    name: 'workflow_dispatch off the default branch',
    event: { name: 'workflow_dispatch', ref: 'refs/heads/feature', payload: { repository, inputs: {} } },
    scopes: [readWrite('refs/heads/feature'), read(MASTER)],
    saves: false,
    source: 'default-branch',
    reason: /refs\/heads\/feature is not a branch that writes the cache/
  }
]

const IMAGE = 'who-writes'
const service = cacheServiceForFile()

// Each case builds with a build arg of its own: a key no entry has yet, so a
// run that may save does, and one that may not has something it could write.
const caseInputs = (c: Case): Record<string, string> => ({ image: IMAGE, 'build-args': `CASE=${CASES.indexOf(c)}` })

interface Run extends JobResult {
  runnerTemp: string
  calls: CacheService['requests']
}

async function run(
  workspace: string,
  c: Pick<Case, 'event' | 'scopes'>,
  inputs: Record<string, string>,
  env: Record<string, string> = {}
): Promise<Run> {
  freshRunner(IMAGE)
  const runnerTemp = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-temp-'))
  const before = service.requests.length
  const result = await runJob({
    inputs,
    event: c.event,
    workspace,
    runnerTemp,
    env: { ...service.env(runtimeToken(c.scopes)), ...env }
  })
  return { ...result, runnerTemp, calls: service.requests.slice(before) }
}

const warningsOf = (r: Run): string[] =>
  `${r.main.log}\n${r.post?.log ?? ''}`.split('\n').filter(line => line.startsWith('::warning::'))

function expectDecision(r: Run, c: Case): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.post?.exitCode).toBe(0)
  expect(r.main.outputs['cache-source']).toBe(c.source)
  // A pull request's key names its number, which no fork can choose.
  if (c.keyBranch) expect(r.main.outputs.key.split('/')[2]).toBe(c.keyBranch)
  expect(fs.readdirSync(r.runnerTemp)).toEqual([])
  if (c.saves) {
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
  } else {
    expect(r.post?.log).toMatch(new RegExp(`Not saving the cache: .*${c.reason?.source}`))
    // Nothing exported either: a run that may not save does no work for it.
    expect(r.main.log).not.toContain('--cache-to')
  }
}

describe('the gha backend', () => {
  const workspace = workspaceFrom('ci-image')

  beforeAll(async () => {
    const warm = await run(workspace, CASES[0], { image: IMAGE })
    expect(warm.post?.log).toContain('Cache saved with key:')
  })

  it.each(CASES.map(c => [c.name, c] as const))('%s', async (_, c) => {
    const masterEntries = indexEntries(service).filter(e => e.scope === MASTER).length
    const r = await run(workspace, c, caseInputs(c))
    expectDecision(r, c)
    const writes = r.calls.filter(
      q => q.method === 'CreateCacheEntry' || q.method === 'FinalizeCacheEntryUpload' || q.method.startsWith('Put')
    )
    if (c.saves) {
      // The pack of new blobs, when there are any, then the entry.
      expect(writes.map(q => q.outcome).slice(-3)).toEqual(['created', 'uploaded', 'finalized'])
      expect(writes.every(q => ['created', 'uploaded', 'finalized'].includes(q.outcome))).toBe(true)
      expect(writes.every(q => q.scope === MASTER)).toBe(true)
      expect(indexEntries(service).filter(e => e.scope === MASTER)).toHaveLength(masterEntries + 1)
    } else {
      expect(writes).toEqual([])
      expect(indexEntries(service).filter(e => e.scope === MASTER)).toHaveLength(masterEntries)
    }
  })

  it('leaves entries only in the default branch scope', () => {
    expect(new Set(indexEntries(service).map(e => e.scope))).toEqual(new Set([MASTER]))
    expect(indexEntries(service)).toHaveLength(1 + CASES.filter(c => c.saves).length)
  })

  it("reports a fork pull request named master that builds master's newest content as a hit from its base branch, never an exact one", async () => {
    const inputs = { image: IMAGE, 'build-args': 'CASE=same-as-master' }
    const onMaster = await run(workspace, CASES[0], inputs)
    expect(onMaster.post?.log).toContain('Cache saved with key:')
    const fork = CASES.find(c => c.keyBranch === 'pull%2F8') as Case
    const r = await run(workspace, fork, inputs)
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-source': 'base-branch', 'cache-stale': 'false' })
    expect(r.main.outputs['matched-key'].startsWith(`${onMaster.main.outputs.key}/`)).toBe(true)
    expect(r.main.outputs.key).toBe(onMaster.main.outputs.key.replace('/master/', '/pull%2F8/'))
    expect(r.calls.filter(q => q.method === 'CreateCacheEntry')).toEqual([])
    // A hit costs the service one lookup of the entry (every pull request
    // pays its round trip), then one of each pack, all at once.
    const lookups = r.calls.filter(q => q.method === 'GetCacheEntryDownloadURL')
    expect(lookups.filter(q => !isPack({ key: q.key ?? '' }))).toHaveLength(1)
  })
})

describe('the local backend', () => {
  // Nothing but the action guards a directory: no token, no service scopes.
  const workspace = workspaceFrom('ci-image')
  const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-'))
  const local = { 'cache-backend': 'local', 'cache-root': cacheRoot }

  /**
   * Every path below the cache root, and each file's size and modification
   * time. Not a directory's time: buildx, importing an entry in place, opens it
   * as a content store and briefly makes and removes a folder in it.
   */
  function tree(): string[] {
    return fs
      .readdirSync(cacheRoot, { recursive: true, withFileTypes: true })
      .map(e => {
        const file = path.join(e.parentPath, e.name)
        const stat = fs.lstatSync(file)
        return `${path.relative(cacheRoot, file)}${e.isDirectory() ? '/' : ` ${stat.size} ${stat.mtimeMs}`}`
      })
      .sort()
  }

  beforeAll(async () => {
    const warm = await run(workspace, CASES[0], { image: IMAGE, ...local })
    expect(warm.post?.log).toContain('Cache saved with key:')
  })

  it.each(CASES.map(c => [c.name, c] as const))('%s', async (_, c) => {
    const before = tree()
    const r = await run(workspace, c, { ...caseInputs(c), ...local })
    expectDecision(r, c)
    if (c.saves) {
      // The new entry replaces the old one of the same image and branch.
      expect(fs.readdirSync(path.join(cacheRoot, 'buildx', IMAGE))).toEqual(['master'])
      expect(fs.readdirSync(path.join(cacheRoot, 'buildx', IMAGE, 'master'))).toEqual([
        path.basename(r.main.outputs.key)
      ])
    } else {
      expect(tree()).toEqual(before)
    }
  })
})

describe("the local backend's directory", () => {
  const workspace = workspaceFrom('ci-image')
  const onMaster = CASES[0]

  it.each([
    ['a file', (p: string) => fs.writeFileSync(p, ''), /it is not a directory/],
    ['a symbolic link to itself', (p: string) => fs.symlinkSync(p, p), /ELOOP/]
  ] as const)('warns, builds and saves nothing when cache-root is %s', async (_, make, why) => {
    const cacheRoot = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-')), 'root')
    make(cacheRoot)
    const r = await run(workspace, onMaster, { image: IMAGE, 'cache-backend': 'local', 'cache-root': cacheRoot })
    expect(r.main.exitCode).toBe(0)
    expect(r.post?.exitCode).toBe(0)
    const warnings = warningsOf(r)
    expect(warnings).toContainEqual(
      expect.stringMatching(
        new RegExp(`Could not read the cache root ${cacheRoot}, building without a cache: .*${why.source}`)
      )
    )
    expect(warnings).toContainEqual(
      expect.stringContaining('Building without saving a cache: there is nowhere to export the new cache')
    )
    expect(r.main.outputs['cache-source']).toBe('none')
    expect(r.post?.log).toContain('Not saving the cache: there is nowhere to export')
  })

  it('removes, on the next save, what killed jobs left in .incoming a day ago, and keeps what running jobs are exporting', async () => {
    const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-'))
    const incoming = path.join(cacheRoot, '.incoming')
    for (const job of ['killed-job', 'running-job']) {
      fs.mkdirSync(path.join(incoming, job, 'blobs', 'sha256'), { recursive: true })
      fs.writeFileSync(path.join(incoming, job, 'index.json'), '{}')
    }
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000)
    for (const p of [path.join(incoming, 'killed-job', 'index.json'), path.join(incoming, 'killed-job')])
      fs.utimesSync(p, twoDaysAgo, twoDaysAgo)

    const r = await run(workspace, onMaster, { image: IMAGE, 'cache-backend': 'local', 'cache-root': cacheRoot })
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
    expect(r.post?.log).toContain(`Removed 1 leftover directory of jobs that ended before their save from ${incoming}.`)
    expect(fs.readdirSync(incoming)).toEqual(['running-job'])
    expect(warningsOf(r)).toEqual([])
  })
})

describe('a repository whose default branch is not master', () => {
  const MAIN = 'refs/heads/main'
  const workspace = workspaceFrom('ci-image')
  // The REST API's repository route, as the action asks it when the payload is silent.
  let api: http.Server
  let apiUrl: string
  let knows = true
  const asked: Array<{ url?: string; authorization?: string }> = []
  beforeAll(async () => {
    api = http.createServer((req, res) => {
      asked.push({ url: req.url, authorization: req.headers.authorization })
      if (knows && req.url === '/repos/example/ci') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ full_name: 'example/ci', default_branch: 'main' }))
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not Found' }))
      }
    })
    await new Promise<void>(resolve => api.listen(0, '127.0.0.1', resolve))
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise(resolve => api.close(resolve))
  })
  const mainEntries = (): number => indexEntries(service).filter(e => e.scope === MAIN).length

  it('saves from a nightly schedule, whose payload is only the cron line', async () => {
    const before = mainEntries()
    const r = await run(
      workspace,
      { event: { name: 'schedule', ref: MAIN, payload: SCHEDULE_PAYLOAD }, scopes: [readWrite(MAIN)] },
      { image: IMAGE, 'build-args': 'CASE=schedule-on-main' }
    )
    expect(r.main.log).toContain('Default branch: main (a schedule runs on the default branch: from GITHUB_REF)')
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
    expect(r.main.outputs.key).toMatch(new RegExp(`^buildx/${IMAGE}/main/`))
    expect(mainEntries()).toBe(before + 1)
    expect(warningsOf(r)).toEqual([])
  })

  it('asks the REST API with github-token when the payload names no repository, and says so', async () => {
    const before = mainEntries()
    const event = { name: 'workflow_dispatch', ref: MAIN, payload: { inputs: {} } }
    const inputs = { image: IMAGE, 'build-args': 'CASE=dispatch-on-main', 'github-token': 'ghs_example' }
    const r = await run(workspace, { event, scopes: [readWrite(MAIN)] }, inputs, { GITHUB_API_URL: apiUrl })
    expect(asked).toContainEqual({ url: '/repos/example/ci', authorization: 'token ghs_example' })
    expect(r.main.log).toContain('Default branch: main (from the REST API: the event payload does not name it)')
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
    expect(mainEntries()).toBe(before + 1)
  })

  it('assumes master with a warning when the API cannot tell, and the job still succeeds', async () => {
    knows = false
    const event = { name: 'workflow_dispatch', ref: MAIN, payload: { inputs: {} } }
    const inputs = { image: IMAGE, 'build-args': 'CASE=dispatch-unknown', 'github-token': 'ghs_example' }
    const r = await run(workspace, { event, scopes: [readWrite(MAIN)] }, inputs, { GITHUB_API_URL: apiUrl })
    expect(r.main.exitCode).toBe(0)
    expect(warningsOf(r)).toContainEqual(
      expect.stringMatching(/Could not learn the repository's default branch \(.*Not Found\); assuming master/)
    )
    expect(r.post?.log).toContain('Not saving the cache: refs/heads/main is not a branch that writes the cache')
  })
})
