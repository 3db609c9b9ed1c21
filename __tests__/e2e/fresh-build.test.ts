// Forcing a fresh image without touching key-prefix: `no-cache` builds with no
// cache at all (restored or the engine's) and a run that may write saves the
// result in place of the entry of its content; `pull` asks buildx to pull the
// images the Dockerfile names. The bundled action, a real engine, the real
// @actions/cache client and the local cache service.
import { beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runtimeToken } from '../support/cache-service.js'
import { uniqueWorkspaceFrom } from '../support/engine.js'
import { pullRequestInto, pushTo, writer } from '../support/events.js'
import { freshJob, leftovers, type JobOutcome } from '../support/fresh-job.js'
import { runJob } from '../support/run-action.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(300_000)

const IMAGE = 'fresh-build'
const pushToMaster = pushTo('master')
const masterToken = writer('master')
const { event: pullRequest, scopes: prToken } = pullRequestInto('master', 5)

const service = cacheServiceForFile()

const job = (
  workspace: string,
  inputs: Record<string, string> = {},
  event = pushToMaster,
  scopes = masterToken
): Promise<JobOutcome> => freshJob(service, { workspace, image: IMAGE, inputs, event, scopes })

const restores = (r: JobOutcome): number => r.calls.filter(q => q.method === 'GetCacheEntryDownloadURL').length
/** The `cached-steps` output as numbers. */
const steps = (r: { main: { outputs: Record<string, string> } }): { cached: number; total: number } => {
  const [cached, total] = (r.main.outputs['cached-steps'] ?? '').split('/').map(Number)
  return { cached, total }
}
const none = (r: { main: { outputs: Record<string, string> } }): boolean => steps(r).cached === 0 && steps(r).total > 0
const all = (r: { main: { outputs: Record<string, string> } }): boolean =>
  steps(r).total > 0 && steps(r).cached === steps(r).total
const buildCommand = (log: string): string => log.split('\n').find(line => line.includes('docker buildx build')) ?? ''

describe('no-cache', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')
  let firstKey = ''

  beforeAll(async () => {
    const warm = await job(workspace)
    expect(warm.post?.log).toContain('Cache saved with key:')
    firstKey = warm.post?.log.match(/Cache saved with key: (\S+)/)?.[1] ?? ''
  })

  it('on master: restores nothing, builds every step, and saves the result as the newest entry of its content', async () => {
    const r = await job(workspace, { 'no-cache': 'true' })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.log).toContain('no-cache is set: nothing is restored')
    expect(restores(r)).toBe(0)
    expect(buildCommand(r.main.log)).toContain('--no-cache')
    expect(buildCommand(r.main.log)).not.toContain('--cache-from')
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'false', 'cache-source': 'none', 'matched-key': '' })
    expect(none(r)).toBe(true)
    expect(r.post?.log).toContain(
      'Saving the cache: no-cache is set: the cache of this fresh build replaces any entry of this content.'
    )
    const saved = r.post?.log.match(/Cache saved with key: (\S+)/)?.[1] ?? ''
    expect(saved.startsWith(`${r.main.outputs.key}/`)).toBe(true)
    expect(saved).not.toBe(firstKey)
    expect(leftovers(r.runnerTemp)).toEqual([])

    // The next run of the same content restores the fresh entry, not the one it replaced.
    const next = await job(workspace)
    expect(next.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-source': 'exact', 'matched-key': saved })
    expect(all(next)).toBe(true)
  })

  it("ignores the engine's own cache too, as on a runner that keeps its engine between jobs", async () => {
    // No prune between the two jobs: the engine holds every step of this image.
    const runnerTemp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'runner-temp-'))
    const env = service.env(runtimeToken(masterToken))
    const warmEngine = await runJob({
      inputs: { image: IMAGE },
      event: pushToMaster,
      workspace,
      runnerTemp: runnerTemp(),
      env
    })
    expect(all(warmEngine)).toBe(true)
    const r = await runJob({
      inputs: { image: IMAGE, 'no-cache': 'true' },
      event: pushToMaster,
      workspace,
      runnerTemp: runnerTemp(),
      env
    })
    expect(r.main.exitCode).toBe(0)
    expect(none(r)).toBe(true)
  })

  it('on a pull request: builds afresh and saves nothing', async () => {
    const r = await job(workspace, { 'no-cache': 'true' }, pullRequest, prToken)
    expect(r.main.exitCode).toBe(0)
    expect(restores(r)).toBe(0)
    expect(none(r)).toBe(true)
    expect(r.post?.log).toContain('Not saving the cache: pull_request runs never write the cache')
    expect(r.writes).toBe(0)
  })
})

describe('pull', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')

  it('passes --pull to buildx and still builds from the restored cache', async () => {
    // An entry of this content exists: saved now, or by the tests above.
    const warm = await job(workspace)
    expect(warm.post?.log).toMatch(/Cache saved with key:|Cache hit occurred on the primary key/)
    const r = await job(workspace, { pull: 'true' })
    expect(r.main.exitCode).toBe(0)
    expect(buildCommand(r.main.log)).toContain('--pull')
    // The fixture starts FROM scratch: nothing to pull, and every step comes from the cache.
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-source': 'exact' })
    expect(all(r)).toBe(true)
  })
})
