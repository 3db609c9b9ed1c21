// Who may write the cache, the poisoning question: every event a workflow can
// run on, each with the token GitHub would give it, against the bundled action
// on a real engine. Only the default branch's own runs may write; every other
// run reads the default branch's cache and leaves no write behind, not even a
// reservation the service would refuse.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runtimeToken, startCacheService, type CacheService, type TokenScope } from '../support/cache-service.js'
import { freshRunner, workspaceFrom } from '../support/engine.js'
import { runJob, type EventSpec, type JobResult } from '../support/run-action.js'

jest.setTimeout(120_000)

const MASTER = 'refs/heads/master'
const repository = { default_branch: 'master', full_name: 'example/ci' }
const QUEUE = 'refs/heads/gh-readonly-queue/master/pr-7-0123456789abcdef0123456789abcdef01234567'

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
}

const read = (scope: string): TokenScope => ({ scope, permission: 1 })
const readWrite = (scope: string): TokenScope => ({ scope, permission: 3 })

const pullRequest = (number: number, head: string, fork: boolean): Record<string, unknown> => ({
  repository,
  number,
  pull_request: {
    number,
    head: { ref: head, label: `${fork ? 'someone' : 'example'}:${head}`, repo: { full_name: fork ? 'someone/ci' : 'example/ci', fork } },
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
    event: { name: 'pull_request', ref: 'refs/pull/7/merge', headRef: 'feature', baseRef: 'master', payload: pullRequest(7, 'feature', false) },
    scopes: [readWrite('refs/pull/7/merge'), read(MASTER)],
    saves: false,
    source: 'base-branch',
    reason: /pull_request runs never write the cache/
  },
  {
    // The head branch's name is the fork's choice: it must count for nothing.
    name: 'pull_request from a fork whose head branch is named master',
    event: { name: 'pull_request', ref: 'refs/pull/8/merge', headRef: 'master', baseRef: 'master', payload: pullRequest(8, 'master', true) },
    scopes: [readWrite('refs/pull/8/merge'), read(MASTER)],
    saves: false,
    source: 'branch',
    reason: /pull_request runs never write the cache/
  },
  {
    // Runs in the base repository's context, on the default branch, with the
    // read-only cache token GitHub gives untrusted triggers.
    name: 'pull_request_target',
    event: { name: 'pull_request_target', ref: MASTER, headRef: 'feature', baseRef: 'master', payload: pullRequest(9, 'feature', true) },
    scopes: [read(MASTER)],
    saves: false,
    source: 'base-branch',
    reason: /pull_request_target runs never write the cache/
  },
  {
    name: 'workflow_run after a fork pull request (read-only token)',
    event: { name: 'workflow_run', ref: MASTER, payload: { repository, workflow_run: { event: 'pull_request', head_branch: 'master', head_repository: { full_name: 'someone/ci', fork: true } } } },
    scopes: [read(MASTER)],
    saves: false,
    source: 'branch',
    reason: /workflow_run runs never write the cache/
  },
  {
    // The token could write: the action's own rule is what stops it.
    name: 'workflow_run after a push (token may write)',
    event: { name: 'workflow_run', ref: MASTER, payload: { repository, workflow_run: { event: 'push', head_branch: 'master', head_repository: { full_name: 'example/ci', fork: false } } } },
    scopes: [readWrite(MASTER)],
    saves: false,
    source: 'branch',
    reason: /workflow_run runs never write the cache/
  },
  {
    name: 'merge_group',
    event: { name: 'merge_group', ref: QUEUE, payload: { repository, merge_group: { head_ref: QUEUE, base_ref: MASTER, head_sha: '0123456789abcdef0123456789abcdef01234567' } } },
    scopes: [readWrite(QUEUE), read(MASTER)],
    saves: false,
    source: 'base-branch',
    reason: /merge_group runs do not write the cache/
  },
  {
    name: 'schedule on the default branch',
    event: { name: 'schedule', ref: MASTER, payload: { repository, schedule: '0 3 * * *' } },
    scopes: [readWrite(MASTER)],
    saves: true,
    source: 'branch'
  },
  {
    name: 'schedule off the default branch',
    event: { name: 'schedule', ref: 'refs/heads/release', payload: { repository, schedule: '0 3 * * *' } },
    scopes: [readWrite('refs/heads/release'), read(MASTER)],
    saves: false,
    source: 'default-branch',
    reason: /refs\/heads\/release is not a branch that writes the cache/
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
let service: CacheService
beforeAll(async () => {
  service = await startCacheService()
})
afterAll(async () => {
  await service.close()
})

// Each case builds with a build arg of its own: a key no entry has yet, so a
// run that may save does, and one that may not has something it could write.
const caseInputs = (c: Case): Record<string, string> => ({ image: IMAGE, 'build-args': `CASE=${CASES.indexOf(c)}` })

interface Run extends JobResult {
  runnerTemp: string
  calls: CacheService['requests']
}

async function run(workspace: string, c: Case, inputs: Record<string, string>): Promise<Run> {
  freshRunner(IMAGE)
  const runnerTemp = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-temp-'))
  const before = service.requests.length
  const result = await runJob({ inputs, event: c.event, workspace, runnerTemp, env: service.env(runtimeToken(c.scopes)) })
  return { ...result, runnerTemp, calls: service.requests.slice(before) }
}

function expectDecision(r: Run, c: Case): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.post?.exitCode).toBe(0)
  expect(r.main.outputs['cache-source']).toBe(c.source)
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
    const masterEntries = service.entries().filter(e => e.scope === MASTER).length
    const r = await run(workspace, c, caseInputs(c))
    expectDecision(r, c)
    const writes = r.calls.filter(q => q.method === 'CreateCacheEntry' || q.method === 'FinalizeCacheEntryUpload' || q.method.startsWith('Put'))
    if (c.saves) {
      expect(writes.map(q => q.outcome)).toEqual(['created', 'uploaded', 'finalized'])
      expect(writes.every(q => q.scope === MASTER)).toBe(true)
      expect(service.entries().filter(e => e.scope === MASTER)).toHaveLength(masterEntries + 1)
    } else {
      expect(writes).toEqual([])
      expect(service.entries().filter(e => e.scope === MASTER)).toHaveLength(masterEntries)
    }
  })

  it('leaves entries only in the default branch scope', () => {
    expect(new Set(service.entries().map(e => e.scope))).toEqual(new Set([MASTER]))
    expect(service.entries()).toHaveLength(1 + CASES.filter(c => c.saves).length)
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
      expect(fs.readdirSync(path.join(cacheRoot, 'buildx', IMAGE, 'master'))).toEqual([path.basename(r.main.outputs.key)])
    } else {
      expect(tree()).toEqual(before)
    }
  })
})
