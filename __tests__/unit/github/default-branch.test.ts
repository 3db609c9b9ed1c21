// The repository's default branch: from the run when it says, else from the
// REST API (a real HTTP server standing in for it), else master with a warning.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  askDefaultBranch,
  knownDefaultBranch,
  resolveDefaultBranch,
  type AskDefaultBranch
} from '../../../src/github/default-branch.js'
import { captureStdout } from '../../support/stdout.js'
import { facts } from '../../support/event-facts.js'

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
