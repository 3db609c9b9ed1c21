// Stale and broken entries heal: what a cache is worth is what the build
// reused. A base image republished under the same tag, or an entry missing a
// blob, must cost one rebuild on the next run that may write, not every run
// for ever. Real engine, real client, the local cache service.
import { describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as cache from '@actions/cache'
import { dropLargestBlob, withClient } from '../support/client.js'
import { docker, keepAcrossRunners, uniqueWorkspaceFrom } from '../support/engine.js'
import { pullRequestInto, pushTo, writer } from '../support/events.js'
import { defaultBranchJobs, expectBuilt, type JobOutcome } from '../support/fresh-job.js'
import { cacheServiceForFile } from '../support/suite.js'
import { indexEntries } from '../support/entries.js'

jest.setTimeout(300_000)

const service = cacheServiceForFile()

const job = defaultBranchJobs(service)

/**
 * A CI image built FROM a local base image, which the docker driver resolves
 * like a pulled one: rebuilding the base under the same tag is an upstream
 * image republished while nothing in the repository changed.
 */
function movingBaseWorkspace(base: string): { workspace: string; republish: (version: string) => void } {
  const workspace = uniqueWorkspaceFrom('ci-image')
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'base-'))
  fs.copyFileSync(path.join(workspace, 'busybox'), path.join(baseDir, 'busybox'))
  keepAcrossRunners(base)
  const republish = (version: string): void => {
    fs.writeFileSync(
      path.join(baseDir, 'Dockerfile'),
      `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN echo ${version} > /base-version\n`
    )
    docker('buildx', 'build', '--quiet', '--load', '--tag', base, baseDir)
  }
  fs.writeFileSync(
    path.join(workspace, 'Dockerfile'),
    `FROM ${base}\nCOPY scripts/setup.sh /tmp/setup.sh\nRUN sh /tmp/setup.sh\nCOPY data/ /data/\nRUN cat /base-version /data/version.txt > /stamp\n`
  )
  republish('one')
  return { workspace, republish }
}

describe.each(['gha', 'local'] as const)('a base image that moved upstream (%s backend)', backend => {
  const image = `heal-${backend}`
  const { workspace, republish } = movingBaseWorkspace(`heal-base-${backend}:latest`)
  const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'heal-root-'))
  const inputs: Record<string, string> =
    backend === 'local' ? { 'cache-backend': 'local', 'cache-root': cacheRoot } : {}
  const savedKeys = (r: JobOutcome): string[] =>
    [...(r.post?.log ?? '').matchAll(/^Cache saved with key: (\S+)/gm)].map(m => m[1])
  let key = ''

  it('saves after a cold build on master', async () => {
    const r = await job({ workspace, image, inputs })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'none', 'cache-stale': 'false', 'cached-steps': '0/4' })
    expect(savedKeys(r)).toHaveLength(1)
    key = r.main.outputs.key
  })

  it('is refreshed by the first master run after the base moved: the exact hit rebuilt steps, so it exports and saves', async () => {
    republish('two')
    const r = await job({ workspace, image, inputs })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ key, 'cache-hit': 'true', 'cache-source': 'exact', 'cache-stale': 'true' })
    // Every step sits on the base, so every one is rebuilt.
    expect(r.main.outputs['cached-steps']).toBe('0/4')
    expect(r.main.log).toContain(
      '::notice::The cache matched but 4 of 4 steps were rebuilt (a base image may have moved); refreshing the entry.'
    )
    expect(r.main.log).toContain('Export the refreshed cache')
    expect(r.post?.log).toContain(
      'Saving the cache: the entry of this content left 4 of 4 steps to rebuild; the new cache replaces it.'
    )
    expect(savedKeys(r)).toHaveLength(1)
    expect(savedKeys(r)[0].startsWith(key)).toBe(true)
    expect(r.summary).toContain(
      '**stale**: 4 of 4 steps were rebuilt (a base image may have moved); replaced by this run'
    )
  })

  it('then gives the next fresh runner every step cached, and it saves nothing', async () => {
    const r = await job({ workspace, image, inputs })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({
      key,
      'cache-hit': 'true',
      'cache-source': 'exact',
      'cache-stale': 'false',
      'cached-steps': '4/4'
    })
    expect(r.main.log).not.toContain('--cache-to')
    expect(r.post?.log).toContain(`Cache hit occurred on the primary key ${key}, not saving cache.`)
    expect(r.writes).toBe(0)
  })

  it('and a pull request after that, which writes nothing', async () => {
    const pr = pullRequestInto('master', 11)
    const r = await job({ workspace, image, inputs, ...pr })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({
      'cache-hit': 'true',
      'cache-source': 'base-branch',
      'cache-stale': 'false',
      'cached-steps': '4/4'
    })
    expect(r.post?.log).toContain('Not saving the cache: pull_request runs never write the cache')
    expect(r.writes).toBe(0)
  })

  it('is named stale by a pull request that cannot write, which leaves the refresh to master', async () => {
    republish('three')
    const pr = pullRequestInto('master', 12)
    const r = await job({ workspace, image, inputs, ...pr })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-stale': 'true', 'cached-steps': '0/4' })
    expect(r.main.log).toContain(
      '::notice::The cache matched but 4 of 4 steps were rebuilt (a base image may have moved); the next run that may write (push, schedule or workflow_dispatch on master) refreshes it.'
    )
    expect(r.writes).toBe(0)
    expect(r.summary).toContain('the next run that may write refreshes it')
  })
})

describe('a broken entry under the exact key', () => {
  const image = 'heal-broken'
  const workspace = uniqueWorkspaceFrom('ci-image')

  it('is replaced by the next master run, and the fresh runner after it has every step cached', async () => {
    const first = await job({ workspace, image })
    expectBuilt(first)
    const saved = indexEntries(service).find(e => e.key.startsWith(`${first.main.outputs.key}/`))
    expect(saved).toBeDefined()
    // A newer generation of the same content, complete as an archive but
    // missing a blob: the lookup prefers it.
    const planted = `${first.main.outputs.key}/zzzzzzzzz`
    await withClient(service, writer('master'), async dir => {
      expect(await cache.restoreCache([image], saved?.key ?? '')).toBe(saved?.key)
      dropLargestBlob(path.join(dir, image))
      expect(await cache.saveCache([image], planted)).toBeGreaterThan(0)
    })

    const healing = await job({ workspace, image })
    expectBuilt(healing)
    expect(healing.main.outputs).toMatchObject({
      'cache-hit': 'false',
      'cache-source': 'none',
      'matched-key': '',
      'cache-stale': 'true'
    })
    expect(healing.warnings.join('\n')).toMatch(
      /The entry .*zzzzzzzzz is not a complete buildx cache \(blob sha256:[a-f0-9]{64} is missing\)/
    )
    expect(healing.post?.log).toMatch(/Saving the cache: the entry of this content could not be imported/)
    expect(healing.saves).toBe(1)

    const after = await job({ workspace, image })
    expectBuilt(after)
    expect(after.main.outputs).toMatchObject({
      'cache-hit': 'true',
      'cache-source': 'exact',
      'cache-stale': 'false',
      'cached-steps': '7/7'
    })
    expect(after.main.outputs['matched-key']).not.toBe(planted)
    expect(after.writes).toBe(0)
  })
})

describe('save-branches', () => {
  const image = 'heal-channels'
  const workspace = uniqueWorkspaceFrom('ci-image')
  const inputs = { 'save-branches': 'master\nbeta' }

  it('lets a push to a listed branch write in its own scope', async () => {
    fs.writeFileSync(path.join(workspace, 'data', 'version.txt'), 'beta only\n')
    const r = await job({ workspace, image, inputs, event: pushTo('beta'), scopes: writer('beta') })
    expectBuilt(r)
    expect(r.main.outputs.key.startsWith(`buildx/${image}/beta/`)).toBe(true)
    expect(r.saves).toBe(1)
    expect(
      indexEntries(service)
        .filter(e => e.key.startsWith(`buildx/${image}/`))
        .map(e => e.scope)
    ).toEqual(['refs/heads/beta'])
  })

  it('gives a pull request into it that entry, with every step cached', async () => {
    const r = await job({ workspace, image, inputs, ...pullRequestInto('beta', 21) })
    expectBuilt(r)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'base-branch', 'cache-hit': 'true', 'cached-steps': '7/7' })
    expect(r.writes).toBe(0)
  })

  it('writes nothing from a branch that is not listed', async () => {
    const r = await job({ workspace, image, inputs, event: pushTo('feature'), scopes: writer('feature') })
    expectBuilt(r)
    expect(r.post?.log).toContain(
      'Not saving the cache: refs/heads/feature is not a branch that writes the cache (refs/heads/master, refs/heads/beta; see save-branches).'
    )
    expect(r.writes).toBe(0)
  })
})

describe('a pull request whose content master saved before its newest entry', () => {
  const image = 'heal-older-content'
  const workspace = uniqueWorkspaceFrom('ci-image')
  const version = path.join(workspace, 'data', 'version.txt')

  it("restores master's entry of that very content, not master's newest", async () => {
    const original = fs.readFileSync(version, 'utf8')
    const first = await job({ workspace, image })
    expectBuilt(first)
    fs.writeFileSync(version, 'newer on master\n')
    expectBuilt(await job({ workspace, image }))
    // The pull request still has the first content.
    fs.writeFileSync(version, original)
    const r = await job({ workspace, image, ...pullRequestInto('master', 31) })
    expectBuilt(r)
    expect(r.main.outputs['matched-key'].startsWith(`${first.main.outputs.key}/`)).toBe(true)
    expect(r.main.outputs).toMatchObject({ 'cache-source': 'base-branch', 'cache-hit': 'true', 'cached-steps': '7/7' })
    expect(r.writes).toBe(0)
  })
})
