import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  askDefaultBranch,
  knownDefaultBranch,
  resolveDefaultBranch,
  type AskDefaultBranch
} from '../../src/github/default-branch.js'
import { runContext, type EventFacts } from '../../src/github/event.js'
import { writeDecision } from '../../src/github/write-policy.js'
import { keyPlan, cacheSourceOf } from '../../src/key/key.js'
import { captureStdout } from '../support/stdout.js'

const repo = { repository: { default_branch: 'main' } }
const facts = (over: Partial<EventFacts>): EventFacts => ({
  eventName: 'push',
  ref: 'refs/heads/main',
  payload: repo,
  ...over
})
const decide = (over: Partial<EventFacts>, defaultBranch = 'main'): boolean =>
  writeDecision(runContext(facts(over), defaultBranch)).allowed

// What GitHub writes to GITHUB_EVENT_PATH for a scheduled run: the cron line, nothing else.
const SCHEDULE_PAYLOAD = { schedule: '0 3 * * *' }

describe('knownDefaultBranch', () => {
  it('takes the input first, then the payload', () => {
    expect(knownDefaultBranch(facts({}), 'trunk')).toEqual({ name: 'trunk', source: { kind: 'input' } })
    expect(knownDefaultBranch(facts({}), '')).toEqual({ name: 'main', source: { kind: 'payload' } })
  })

  it("takes a schedule's ref, since GitHub runs schedules on the default branch and sends no repository", () => {
    const schedule = facts({ eventName: 'schedule', ref: 'refs/heads/trunk', payload: SCHEDULE_PAYLOAD })
    expect(knownDefaultBranch(schedule, '')).toEqual({ name: 'trunk', source: { kind: 'schedule-ref' } })
    expect(knownDefaultBranch(schedule, 'main')?.name).toBe('main')
  })

  it('knows nothing from a payload without a repository on other events', () => {
    expect(knownDefaultBranch(facts({ payload: {} }), '')).toBeUndefined()
    expect(knownDefaultBranch(facts({ eventName: 'workflow_dispatch', payload: { inputs: {} } }), '')).toBeUndefined()
    expect(
      knownDefaultBranch(facts({ eventName: 'schedule', ref: 'refs/tags/v1', payload: SCHEDULE_PAYLOAD }), '')
    ).toBeUndefined()
  })
})

describe('resolveDefaultBranch', () => {
  const stdout = captureStdout()

  const noPayload = facts({
    eventName: 'workflow_dispatch',
    ref: 'refs/heads/trunk',
    payload: {},
    repository: 'example/ci'
  })

  it('says where the answer came from, and asks no one when the run tells it', async () => {
    stdout.clear()
    const ask = jest.fn<AskDefaultBranch>(async () => 'other')
    const schedule = facts({ eventName: 'schedule', ref: 'refs/heads/trunk', payload: SCHEDULE_PAYLOAD })
    expect(await resolveDefaultBranch(schedule, '', 'token', ask)).toMatchObject({ name: 'trunk' })
    expect(stdout.text()).toContain('Default branch: trunk (a schedule runs on the default branch: from GITHUB_REF)')
    expect(ask).not.toHaveBeenCalled()
  })

  it('asks the REST API when the payload does not name it', async () => {
    const ask = jest.fn<AskDefaultBranch>(async () => 'trunk')
    expect(await resolveDefaultBranch(noPayload, '', 'token', ask)).toEqual({
      name: 'trunk',
      source: { kind: 'rest-api' }
    })
    expect(ask).toHaveBeenCalledWith(noPayload, 'token')
    expect(stdout.text()).toContain('Default branch: trunk (from the REST API')
  })

  it('falls back to master with a warning when the API does not answer, or there is no token', async () => {
    const failing = async (): Promise<string> => {
      throw new Error('HttpError: Not Found\nmore')
    }
    expect(await resolveDefaultBranch(noPayload, '', 'token', failing)).toMatchObject({
      name: 'master',
      source: { kind: 'fallback' }
    })
    expect(stdout.text()).toMatch(
      /::warning::Could not learn the repository's default branch \(.*did not answer: HttpError: Not Found\); assuming master/
    )
    stdout.clear()
    const ask = jest.fn<AskDefaultBranch>(async () => 'trunk')
    expect((await resolveDefaultBranch(noPayload, '', '', ask)).name).toBe('master')
    expect(ask).not.toHaveBeenCalled()
    expect(stdout.text()).toContain('no github-token')
  })
})

describe('askDefaultBranch', () => {
  // The REST API's repository route, as the real client calls it.
  let server: http.Server
  let apiUrl: string
  const seen: Array<{ url?: string; authorization?: string }> = []
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization })
      if (req.url === '/repos/example/ci') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ full_name: 'example/ci', default_branch: 'trunk' }))
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not Found' }))
      }
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise(resolve => server.close(resolve))
  })

  it('reads default_branch of GET /repos/{owner}/{repo} with the token', async () => {
    expect(await askDefaultBranch(facts({ repository: 'example/ci', apiUrl }), 'secret-token')).toBe('trunk')
    expect(seen.at(-1)).toEqual({ url: '/repos/example/ci', authorization: 'token secret-token' })
  })

  it('throws on a refusal or without a repository to ask about', async () => {
    await expect(askDefaultBranch(facts({ repository: 'example/gone', apiUrl }), 't')).rejects.toThrow(/Not Found/)
    await expect(askDefaultBranch(facts({ repository: undefined, apiUrl }), 't')).rejects.toThrow(/owner\/name/)
  })
})

describe('runContext', () => {
  it('reads a pull request as pull/<number> with its base branch, never as its head branch', () => {
    const ctx = runContext(
      facts({ eventName: 'pull_request', ref: 'refs/pull/3/merge', headRef: 'fix/x', baseRef: 'release' }),
      'main'
    )
    expect(ctx).toMatchObject({ branch: 'pull/3', baseBranch: 'release', defaultBranch: 'main' })
  })

  it("takes a pull_request_target's number from the payload: its ref is the base branch's", () => {
    const payload = { ...repo, number: 9, pull_request: { number: 9 } }
    const ctx = runContext(
      facts({ eventName: 'pull_request_target', ref: 'refs/heads/main', headRef: 'main', baseRef: 'main', payload }),
      'main'
    )
    expect(ctx).toMatchObject({ branch: 'pull/9', baseBranch: 'main' })
    const bare = runContext(
      facts({
        eventName: 'pull_request_target',
        ref: 'refs/heads/main',
        headRef: 'main',
        baseRef: 'main',
        payload: {}
      }),
      'main'
    )
    expect(bare.branch).toBe('refs/heads/main')
  })

  it('reads a merge queue run as its queue branch with its base branch', () => {
    const payload = { ...repo, merge_group: { base_ref: 'refs/heads/main' } }
    const ctx = runContext(
      facts({ eventName: 'merge_group', ref: 'refs/heads/gh-readonly-queue/main/pr-1-abc', payload }),
      'main'
    )
    expect(ctx).toMatchObject({ branch: 'gh-readonly-queue/main/pr-1-abc', baseBranch: 'main' })
  })

  it('keeps a tag ref whole so it cannot pass for a branch', () => {
    expect(runContext(facts({ ref: 'refs/tags/main' }), 'main').branch).toBe('refs/tags/main')
  })
})

describe('a fork pull request whose head branch is named like the default branch', () => {
  const hash = 'a'.repeat(64)
  const plan = (f: EventFacts) => keyPlan({ prefix: 'buildx', image: 'ci', ...runContext(f, 'main'), hash })
  const fork = facts({ eventName: 'pull_request', ref: 'refs/pull/8/merge', headRef: 'main', baseRef: 'main' })
  const masterEntry = `${plan(facts({})).content}/00000000a`

  it("builds a key of its own, not the default branch's", () => {
    expect(plan(fork).content).toBe(`buildx/ci/pull%2F8/${hash}`)
    expect(plan(fork).content).not.toBe(plan(facts({})).content)
  })

  it("restores the default branch's entry as its base branch's, never as an exact hit", () => {
    expect(cacheSourceOf(plan(fork), masterEntry)).toBe('base-branch')
    const target = facts({
      eventName: 'pull_request_target',
      ref: 'refs/heads/main',
      headRef: 'main',
      baseRef: 'main',
      payload: { number: 8 }
    })
    expect(cacheSourceOf(plan(target), masterEntry)).toBe('base-branch')
  })
})

describe('writeDecision', () => {
  it.each(
    [
      ['push to the default branch', { eventName: 'push', ref: 'refs/heads/main' }, true],
      ['workflow_dispatch on the default branch', { eventName: 'workflow_dispatch', ref: 'refs/heads/main' }, true],
      [
        'schedule on the default branch',
        { eventName: 'schedule', ref: 'refs/heads/main', payload: SCHEDULE_PAYLOAD },
        true
      ],
      ['push to another branch', { eventName: 'push', ref: 'refs/heads/feature' }, false],
      ['push of a tag named like the default branch', { eventName: 'push', ref: 'refs/tags/main' }, false],
      ['workflow_dispatch on another branch', { eventName: 'workflow_dispatch', ref: 'refs/heads/feature' }, false],
      [
        'pull_request',
        { eventName: 'pull_request', ref: 'refs/pull/1/merge', headRef: 'feature', baseRef: 'main' },
        false
      ],
      [
        'pull_request from a fork whose head is named main',
        { eventName: 'pull_request', ref: 'refs/pull/2/merge', headRef: 'main', baseRef: 'main' },
        false
      ],
      [
        'pull_request_target (runs on the default branch)',
        { eventName: 'pull_request_target', ref: 'refs/heads/main', headRef: 'main', baseRef: 'main' },
        false
      ],
      ['workflow_run on the default branch', { eventName: 'workflow_run', ref: 'refs/heads/main' }, false],
      ['merge_group', { eventName: 'merge_group', ref: 'refs/heads/gh-readonly-queue/main/pr-1-abc' }, false],
      ['issue_comment on the default branch', { eventName: 'issue_comment', ref: 'refs/heads/main' }, false]
    ].map(([name, over, allowed]) => [name, allowed, over]) as Array<[string, boolean, Partial<EventFacts>]>
  )('%s: allowed=%s', (_name, allowed, over) => {
    expect(decide(over)).toBe(allowed)
  })

  it('lets a schedule on a default branch other than master write, from the payload GitHub sends', () => {
    const schedule = facts({ eventName: 'schedule', ref: 'refs/heads/main', payload: SCHEDULE_PAYLOAD })
    const known = knownDefaultBranch(schedule, '')
    expect(writeDecision(runContext(schedule, known?.name ?? 'master')).allowed).toBe(true)
  })

  it('follows the default branch it is given, not the branch name alone', () => {
    expect(decide({ ref: 'refs/heads/main' }, 'trunk')).toBe(false)
    expect(decide({ ref: 'refs/heads/trunk' }, 'trunk')).toBe(true)
  })

  it('names why not as a typed denial', () => {
    const no = writeDecision(runContext(facts({ ref: 'refs/heads/feature' }), 'main'))
    expect(no).toEqual({ allowed: false, denial: { kind: 'branch', ref: 'refs/heads/feature', writers: ['main'] } })
    const pr = writeDecision(
      runContext(
        facts({ eventName: 'pull_request', ref: 'refs/pull/1/merge', headRef: 'main', baseRef: 'main' }),
        'main'
      )
    )
    expect(pr).toMatchObject({ allowed: false, denial: { kind: 'pull-request' } })
  })
})

describe('save-branches', () => {
  const decideWith = (ref: string, saveBranches: string[], eventName = 'push'): boolean =>
    writeDecision(runContext(facts({ eventName, ref }), 'main', saveBranches)).allowed

  it('lets push-like runs on the listed branches write, and only those', () => {
    const branches = ['master', 'beta', 'release/*']
    expect(decideWith('refs/heads/beta', branches)).toBe(true)
    expect(decideWith('refs/heads/release/1.80', branches)).toBe(true)
    expect(decideWith('refs/heads/schedule-me', branches, 'schedule')).toBe(false)
    expect(decideWith('refs/heads/beta', branches, 'workflow_dispatch')).toBe(true)
    expect(decideWith('refs/heads/feature', branches)).toBe(false)
    expect(decideWith('refs/heads/release/1.80/x', branches)).toBe(false)
  })

  it('replaces the default branch as the writer when set', () => {
    expect(decideWith('refs/heads/main', ['beta'])).toBe(false)
    expect(decideWith('refs/heads/main', [])).toBe(true)
  })

  it('never lets a pull request write, whatever its branches are named', () => {
    const pr = facts({ eventName: 'pull_request', ref: 'refs/pull/1/merge', headRef: 'beta', baseRef: 'beta' })
    expect(writeDecision(runContext(pr, 'main', ['beta', '*'])).allowed).toBe(false)
  })

  it('never matches a tag ref', () => {
    expect(decideWith('refs/tags/beta', ['beta', '*'])).toBe(false)
  })
})
