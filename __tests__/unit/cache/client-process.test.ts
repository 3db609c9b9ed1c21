// The action's side of the cache client process, with stand-in clients (small
// scripts speaking the same IPC protocol) in place of @actions/cache: what is
// forwarded and kept, when a client is given up on, and that nothing it
// started outlives it or changes this process.
import { afterAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { coreMock, freshRecord, type CoreRecord } from '../../support/core-mock.js'

let record: CoreRecord = freshRecord()
jest.unstable_mockModule('@actions/core', () =>
  coreMock(new Proxy({} as CoreRecord, { get: (_t, p) => record[p as keyof CoreRecord] }))
)

const { runClient, clientScript } = await import('../../../src/cache/client-process.js')
const { boundsFor } = await import('../../../src/cache/deadline.js')
const { TimeoutError } = await import('../../../src/time-limit.js')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-process-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
beforeEach(() => {
  record = freshRecord()
})

const place = { workRoot: dir, temp: path.join(dir, 'tmp'), env: { ...process.env, KEPT: 'yes' } }
const request = { op: 'restore' as const, paths: ['c'], key: 'k', restoreKeys: [], blobs: 'fetch' as const }

/** A stand-in client: `body` runs once the request has arrived, with `send`, `report` and `request` in scope. */
function client(name: string, body: string): string {
  const file = path.join(dir, `${name}.mjs`)
  fs.writeFileSync(
    file,
    `const send = m => new Promise(r => process.send(m, undefined, {}, r))
const report = pending => send({ type: 'activity', pending })
process.once('message', async request => { ${body} })
`
  )
  return file
}

// A killed process may linger as a zombie until it is reaped: that is gone too.
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise(resolve => setTimeout(resolve, 20))
  return !alive(pid)
}

describe('runClient', () => {
  it('runs the client where it is told, forwards its log and keeps its warnings for the caller', async () => {
    const script = client(
      'replies',
      `console.log('Cache hit for: k')
console.log('::warning::Failed to restore: one%0Atwo')
console.log('::error::Failed to restore: 503')
await send({ type: 'done', reply: { kind: 'restored', found: process.cwd(), matchedKey: [process.env.RUNNER_TEMP, process.env.GITHUB_WORKSPACE, process.env.KEPT].join('|') } })
process.exit(0)`
    )
    const cwd = process.cwd()
    const env = { ...process.env }
    const outcome = await runClient(request, place, boundsFor(4), undefined, script)
    expect(outcome.reply).toEqual({ kind: 'restored', found: dir, matchedKey: `${place.temp}|${dir}|yes` })
    expect(outcome.warnings).toEqual(['Failed to restore: one\ntwo', 'Failed to restore: 503'])
    expect(record.log).toEqual(['Cache hit for: k'])
    expect(process.cwd()).toBe(cwd)
    expect(process.env).toEqual(env)
  })

  it('gives up on a call left unanswered, and kills the client with everything it started', async () => {
    const pidFile = path.join(dir, 'archiver.pid')
    const script = client(
      'hangs',
      `const { spawn } = await import('node:child_process')
const { writeFileSync } = await import('node:fs')
writeFileSync(${JSON.stringify(pidFile)}, String(spawn('sleep', ['60'], { stdio: 'ignore' }).pid))
let idle = 0
setInterval(() => report([{ kind: 'call', method: 'GetCacheEntryDownloadURL', idleSeconds: (idle += 0.25), bytes: 400 }]), 250)`
    )
    const started = Date.now()
    const failure = await runClient(request, place, boundsFor(2), undefined, script).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(TimeoutError)
    expect((failure as Error).message).toBe('The cache service did not answer the lookup of the cache entry within 1 s')
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(await gone(Number(fs.readFileSync(pidFile, 'utf8')))).toBe(true)
  })

  it('gives up on a client that stops reporting', async () => {
    const script = client('silent', `setInterval(() => undefined, 1000)`)
    const failure = await runClient(request, place, boundsFor(1), undefined, script).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(TimeoutError)
    expect((failure as Error).message).toBe('The cache client stopped responding for 1 s')
  })

  it("ends at the caller's hard limit with the caller's words", async () => {
    const script = client(
      'moving',
      `let bytes = 0
setInterval(() => report([{ kind: 'download', method: '', idleSeconds: 0, bytes: (bytes += 1000) }]), 100)`
    )
    const controller = new AbortController()
    setTimeout(
      () => controller.abort(new TimeoutError('The cache restore did not finish within 0.5 s (restore-timeout)')),
      500
    )
    const failure = await runClient(request, place, boundsFor(60), controller.signal, script).catch((e: unknown) => e)
    expect((failure as Error).message).toBe('The cache restore did not finish within 0.5 s (restore-timeout)')
  })

  it('says how a client that died without answering ended', async () => {
    const script = client('crashes', `console.error('Error: something broke'); process.exit(3)`)
    const outcome = await runClient(request, place, boundsFor(4), undefined, script)
    expect(outcome.reply).toEqual({
      kind: 'refused',
      message: 'the cache client exited with code 3: Error: something broke'
    })
  })

  it('says so when the client bundle is missing, without starting anything', async () => {
    const outcome = await runClient(request, place, boundsFor(4), undefined, path.join(dir, 'no-such-client.js'))
    expect(outcome.reply).toEqual({
      kind: 'refused',
      message: `the cache client ${path.join(dir, 'no-such-client.js')} is missing: the action's dist/ is incomplete`
    })
  })
})

describe('clientScript', () => {
  it('is the cache-client bundle beside the running step bundle', () => {
    expect(clientScript('/a/dist/main/index.js')).toBe('/a/dist/cache-client/index.js')
    expect(clientScript('/a/dist/post/index.js')).toBe('/a/dist/cache-client/index.js')
  })
})
