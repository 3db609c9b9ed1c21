// A persistent runner: one engine for several jobs, nothing pruned between
// them unless a test says so. When the engine still holds the image this very
// key built, the job restores nothing and builds from the builder's own cache.
import { describe, expect, it, jest } from '@jest/globals'
import { docker, uniqueWorkspaceFrom } from '../support/engine.js'
import { pushTo, writer } from '../support/events.js'
import { freshJob, leftovers, type JobOutcome } from '../support/fresh-job.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(300_000)

const service = cacheServiceForFile()
const IMAGE = 'ci-persistent'

const job = (workspace: string, keepEngine: boolean): Promise<JobOutcome> =>
  freshJob(service, { workspace, image: IMAGE, event: pushTo('master'), scopes: writer('master'), keepEngine })

const downloads = (r: JobOutcome): string[] =>
  r.calls.map(c => c.method).filter(m => m === 'GetCacheEntryDownloadURL' || m === 'GetBlob')

function steps(r: JobOutcome): { cached: number; total: number } {
  const [cached, total] = r.main.outputs['cached-steps'].split('/').map(Number)
  return { cached, total }
}

describe('a persistent runner', () => {
  const workspace = uniqueWorkspaceFrom('ci-image')
  let key = ''

  it('saves after a cold build on its first job, as any runner', async () => {
    const r = await job(workspace, false)
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs['cache-source']).toBe('none')
    expect(r.saves).toBe(1)
    key = r.main.outputs.key
  })

  it("downloads nothing on the next job: every step comes from the engine's own cache", async () => {
    const r = await job(workspace, true)
    expect(r.main.exitCode).toBe(0)
    expect(downloads(r)).toEqual([])
    expect(r.writes).toBe(0)
    expect(r.main.outputs).toMatchObject({
      key,
      'matched-key': key,
      'cache-hit': 'true',
      'cache-source': 'engine',
      'cache-stale': 'false'
    })
    const { cached, total } = steps(r)
    expect(total).toBeGreaterThan(0)
    expect(cached).toBe(total)
    expect(r.main.log).toContain(`The engine holds ${IMAGE}, built for this key (${key})`)
    expect(r.main.log).not.toContain('--cache-from')
    expect(r.post?.log).toContain(`Cache hit occurred on the primary key ${key}, not saving cache.`)
    expect(r.summary).toContain(`the engine's own cache: <code>${key}</code>`)
    expect(leftovers(r.runnerTemp)).toEqual([])
  })

  it('judges the entry stale when the build cache was pruned but the image kept, and a writer refreshes it', async () => {
    docker('buildx', 'prune', '-af')
    const r = await job(workspace, true)
    expect(r.main.exitCode).toBe(0)
    expect(downloads(r)).toEqual([])
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'engine', 'cache-hit': 'true' })
    const { cached, total } = steps(r)
    expect(cached).toBeLessThan(total)
    expect(r.main.outputs['cache-stale']).toBe('true')
    expect(r.main.log).toMatch(
      /::notice::The cache matched but \d+ of \d+ steps were rebuilt .*; refreshing the entry\./
    )
    expect(r.saves).toBe(1)
    expect(r.summary).toContain('**stale**')
  })

  it('restores as usual once the image is gone, with every step cached', async () => {
    docker('image', 'rm', '-f', IMAGE)
    docker('buildx', 'prune', '-af')
    const r = await job(workspace, true)
    expect(r.main.exitCode).toBe(0)
    expect(r.main.log).toContain(`The engine holds no image ${IMAGE}: restoring.`)
    expect(downloads(r)).toContain('GetCacheEntryDownloadURL')
    expect(downloads(r)).toContain('GetBlob')
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'exact', 'cache-hit': 'true', 'cache-stale': 'false' })
    expect(r.main.outputs['matched-key'].startsWith(`${key}/`)).toBe(true)
    const { cached, total } = steps(r)
    expect(cached).toBe(total)
    expect(r.writes).toBe(0)
  })
})
