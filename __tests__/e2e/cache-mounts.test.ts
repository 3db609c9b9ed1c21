// What `RUN --mount=type=cache` steps leave behind (a compiler's cache) is
// kept with the entry: restored into the builder before the build and
// exported after it on runs that may write, so that a step which reruns on a
// fresh runner (an earlier COPY changed) finds what the last run left. The
// real engine (containerd store, and the classic store through the
// docker-container builder the action creates), the real client, the cache
// service stand-in, a real registry and a local cache root.
import { afterAll, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { classicEngine, dockerConfig, workspaceFrom } from '../support/engine.js'
import { pullRequestInto } from '../support/events.js'
import { leftovers, defaultBranchJobs, type JobOutcome } from '../support/fresh-job.js'
import { engineRegistries, registryTags } from '../support/registry.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(300_000)

const service = cacheServiceForFile()

// Two mounts of two stages' worth of steps: the "compiler" cache keeps one
// object per source it has seen; the other mount, a file of `OTHER_BYTES`.
const OTHER_BYTES = 3 * 1024 * 1024
const DOCKERFILE = `FROM scratch
COPY nonce /nonce
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY src.txt /src.txt
RUN --mount=type=cache,target=/root/.ccache,id=ccache ls /root/.ccache | xargs echo "ccache held:" && cp /src.txt "/root/.ccache/obj-$(cat /src.txt).o" && [ "$(cat /src.txt)" != fail ]
RUN --mount=type=cache,target=/var/cache/other ls /var/cache/other | xargs echo "other held:" && head -c ${OTHER_BYTES} /dev/urandom > "/var/cache/other/other-$(cat /src.txt)"
`

function workspace(): string {
  const dir = workspaceFrom('ci-image')
  fs.writeFileSync(path.join(dir, 'nonce'), `${process.pid}-${Date.now()}-${Math.random()}\n`)
  fs.writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE)
  return dir
}

function source(dir: string, name: string): void {
  fs.writeFileSync(path.join(dir, 'src.txt'), name)
}

const job = defaultBranchJobs(service)

/** What each mount held when its step ran, as the step printed it. */
function held(r: JobOutcome): { ccache: string; other: string } {
  const line = (name: string): string => {
    const match = new RegExp(`^#\\d+ [\\d.]+ ${name} held:(.*)$`, 'm').exec(r.main.log)
    if (!match) throw new Error(`the build did not print what ${name} held`)
    return match[1].trim()
  }
  return { ccache: line('ccache'), other: line('other') }
}

function expectOk(r: JobOutcome): void {
  expect(r.main.exitCode).toBe(0)
  expect(r.post?.exitCode).toBe(0)
  expect(leftovers(r.runnerTemp)).toEqual([])
}

/** Seconds the log gives for a mount's restore or export. */
function mountSeconds(r: JobOutcome, what: 'restored' | 'exported', id: string): { mb: number; s: number } {
  const m = new RegExp(`Cache mount ${id} ${what} \\(([\\d.]+) MB in ([\\d.]+) s\\)`).exec(r.main.log)
  return { mb: Number(m?.[1] ?? Number.NaN), s: Number(m?.[2] ?? Number.NaN) }
}

const figures: string[] = []
afterAll(() => {
  if (figures.length > 0) console.log(`Cache mounts:\n${figures.join('\n')}`)
})

describe('a RUN with cache mounts (gha, containerd store)', () => {
  const image = 'mounts-gha'
  const ws = workspace()

  it('starts cold: the mounts are empty, then exported and saved with the entry', async () => {
    source(ws, 'a')
    const r = await job({ workspace: ws, image })
    expectOk(r)
    expect(held(r)).toEqual({ ccache: '', other: '' })
    expect(r.main.outputs['cache-mounts-restored']).toBe('0/2')
    expect(r.main.log).toContain(
      'Cache mounts the build uses: ccache (stage-0, line 6), /var/cache/other (stage-0, line 7).'
    )
    expect(r.main.log).toMatch(/Cache mount ccache exported \([\d.]+ MB in [\d.]+ s\)/)
    expect(r.saves).toBe(1)
    expect(r.summary).toMatch(
      /\| mounts-gha: cache mount \| <code>ccache<\/code> \| nothing: empty \| – \| – \| [\d.]+ MB, exported in [\d.]+ s \|/
    )
  })

  it('gives the next default-branch run on a fresh runner, whose steps rerun, what the last one left, each mount apart', async () => {
    source(ws, 'b')
    const r = await job({ workspace: ws, image })
    expectOk(r)
    expect(r.main.outputs['cache-source']).toBe('branch')
    expect(held(r)).toEqual({ ccache: 'obj-a.o', other: 'other-a' })
    expect(r.main.outputs['cache-mounts-restored']).toBe('2/2')
    expect(r.summary).toMatch(/\| <code>\/var\/cache\/other<\/code> \| 3\.\d MB \| [\d.]+ s \|/)
    const restored = mountSeconds(r, 'restored', '/var/cache/other')
    const exported = mountSeconds(r, 'exported', '/var/cache/other')
    figures.push(
      `gha, containerd: restore ${restored.mb} MB in ${restored.s} s, export ${exported.mb} MB in ${exported.s} s`
    )
    expect(r.saves).toBe(1)
  })

  it('gives a pull request its base branch’s mounts and writes nothing', async () => {
    source(ws, 'c')
    const r = await job({ workspace: ws, image, ...pullRequestInto('master', 19) })
    expectOk(r)
    expect(held(r)).toEqual({ ccache: 'obj-a.o obj-b.o', other: 'other-a other-b' })
    expect(r.writes).toBe(0)
    expect(r.main.log).not.toContain('::group::Export the cache mounts')
  })

  it('skips a mount over max-cache-mount-size with a warning, and saves the rest', async () => {
    source(ws, 'd')
    const r = await job({ workspace: ws, image, inputs: { 'max-cache-mount-size': '2MB' } })
    expectOk(r)
    // The other mount (over 2 MB) was not restored either; the build found it empty.
    expect(held(r)).toEqual({ ccache: 'obj-a.o obj-b.o', other: '' })
    expect(r.warnings.join('\n')).toMatch(
      /The cache mount \/var\/cache\/other could not be restored \(it is [\d.]+ MB, above max-cache-mount-size/
    )
    expect(r.warnings.join('\n')).toMatch(
      /The cache mount \/var\/cache\/other is not saved: it is [\d.]+ MB, above max-cache-mount-size \(2\.0 MB\)/
    )
    expect(r.saves).toBe(1)

    source(ws, 'e')
    const next = await job({ workspace: ws, image })
    expectOk(next)
    expect(held(next)).toEqual({ ccache: 'obj-a.o obj-b.o obj-d.o', other: '' })
    expect(next.main.outputs['cache-mounts-restored']).toBe('1/2')
  })

  it('with cache-mounts: false, neither restores nor exports them', async () => {
    source(ws, 'f')
    const r = await job({ workspace: ws, image, inputs: { 'cache-mounts': 'false' } })
    expectOk(r)
    expect(held(r)).toEqual({ ccache: '', other: '' })
    expect(r.main.outputs['cache-mounts-restored']).toBe('0/0')
    expect(r.main.log).not.toContain('::group::Export the cache mounts')
  })
})

describe('a default-branch build that fails in the step with the mount', () => {
  const image = 'mounts-failure'
  const ws = workspace()

  it('keeps what the failed step left in its mount with the partial entry, and the fix finds it', async () => {
    source(ws, 'fail')
    const failed = await job({ workspace: ws, image })
    expect(failed.main.exitCode).not.toBe(0)
    expect(failed.main.log).toContain('::group::Export the steps the failed build finished')
    // Only the mount the build reached: the other one's RUN comes after the failing line.
    expect(failed.main.log).toMatch(/Cache mount ccache exported/)
    expect(failed.main.log).not.toMatch(/Cache mount \/var\/cache\/other exported/)
    expect(failed.saves).toBe(1)
    expect(leftovers(failed.runnerTemp)).toEqual([])

    source(ws, 'fixed')
    const fixed = await job({ workspace: ws, image })
    expectOk(fixed)
    expect(fixed.main.outputs['matched-key']).toMatch(/\.partial\//)
    expect(held(fixed)).toEqual({ ccache: 'obj-fail.o', other: '' })
    expect(fixed.main.outputs['cache-mounts-restored']).toBe('1/2')
  })
})

describe('the local backend', () => {
  const image = 'mounts-local'
  const ws = workspace()
  const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-'))
  const inputs = { 'cache-backend': 'local', 'cache-root': cacheRoot }

  it('keeps the mounts inside the entry, and a damaged archive is a warning: the build goes on with the mount empty', async () => {
    source(ws, 'a')
    const first = await job({ workspace: ws, image, inputs })
    expectOk(first)
    const folder = path.join(cacheRoot, first.main.outputs.key, 'buildx-ci-cache-mounts')
    const index = JSON.parse(fs.readFileSync(path.join(folder, 'index.json'), 'utf8')) as {
      mounts: Array<{ id: string; file: string }>
    }
    expect(index.mounts.map(m => m.id).sort()).toEqual(['/var/cache/other', 'ccache'])

    source(ws, 'b')
    const second = await job({ workspace: ws, image, inputs })
    expectOk(second)
    expect(held(second)).toEqual({ ccache: 'obj-a.o', other: 'other-a' })

    // Damage the ccache archive of the newest entry: a few bytes changed in place.
    const newest = path.join(cacheRoot, second.main.outputs.key, 'buildx-ci-cache-mounts')
    const saved = JSON.parse(fs.readFileSync(path.join(newest, 'index.json'), 'utf8')) as {
      mounts: Array<{ id: string; file: string }>
    }
    const archive = path.join(newest, saved.mounts.find(m => m.id === 'ccache')?.file ?? '')
    const fd = fs.openSync(archive, 'r+')
    fs.writeSync(fd, Buffer.from('damaged'), 0, 7, 600)
    fs.closeSync(fd)

    source(ws, 'c')
    const third = await job({ workspace: ws, image, inputs })
    expectOk(third)
    expect(third.warnings.join('\n')).toContain(
      'The cache mount ccache could not be restored (its archive does not have the content saved (another digest)); the build starts with it empty.'
    )
    expect(held(third)).toEqual({ ccache: '', other: 'other-a other-b' })
    expect(third.main.outputs['cache-mounts-restored']).toBe('1/2')
  })
})

describe('the classic store, through the docker-container builder the action creates', () => {
  const image = 'mounts-classic'
  const ws = workspace()
  const classic = (): Record<string, string> => ({ DOCKER_HOST: classicEngine(), DOCKER_CONFIG: dockerConfig() })

  it('restores the mounts into that builder on the next fresh runner, and into the docker driver for a pull request', async () => {
    source(ws, 'a')
    const first = await job({ workspace: ws, image, env: classic() })
    expectOk(first)
    expect(first.main.log).toContain('Create the docker-container builder')
    expect(held(first)).toEqual({ ccache: '', other: '' })

    source(ws, 'b')
    const second = await job({ workspace: ws, image, env: classic() })
    expectOk(second)
    expect(held(second)).toEqual({ ccache: 'obj-a.o', other: 'other-a' })
    const restored = mountSeconds(second, 'restored', '/var/cache/other')
    const exported = mountSeconds(second, 'exported', '/var/cache/other')
    figures.push(
      `gha, classic store, docker-container builder: restore ${restored.mb} MB in ${restored.s} s, export ${exported.mb} MB in ${exported.s} s`
    )

    // A pull request builds on the classic store's own docker driver, which restores the mounts too.
    source(ws, 'c')
    const pr = await job({ workspace: ws, image, env: classic(), ...pullRequestInto('master', 19) })
    expectOk(pr)
    expect(pr.main.log).not.toContain('Create the docker-container builder')
    expect(held(pr)).toEqual({ ccache: 'obj-a.o obj-b.o', other: 'other-a other-b' })
    expect(pr.writes).toBe(0)
  })
})

describe('the registry backend', () => {
  const registries = engineRegistries()
  const image = 'mounts-registry'
  const repository = `mounts-${Date.now().toString(36)}`
  const cacheRef = `${registries.open}/${repository}`
  const ws = workspace()
  const inputs = { 'cache-backend': 'registry', 'cache-ref': cacheRef }
  const env = (): Record<string, string> => ({ DOCKER_CONFIG: dockerConfig() })

  it('pushes the mounts as an image tagged after the entry, and the next fresh runner pulls them', async () => {
    source(ws, 'a')
    const first = await job({ workspace: ws, image, inputs, env: env() })
    expectOk(first)
    expect(first.calls).toEqual([])
    const tags = Object.keys(registryTags(registries, cacheRef))
    expect(tags.filter(t => t.endsWith('-mounts'))).toHaveLength(1)

    source(ws, 'b')
    const second = await job({ workspace: ws, image, inputs, env: env() })
    expectOk(second)
    expect(held(second)).toEqual({ ccache: 'obj-a.o', other: 'other-a' })
    const restored = mountSeconds(second, 'restored', '/var/cache/other')
    figures.push(`registry, containerd: restore ${restored.mb} MB in ${restored.s} s`)

    source(ws, 'c')
    const pr = await job({ workspace: ws, image, inputs, env: env(), ...pullRequestInto('master', 19) })
    expectOk(pr)
    expect(held(pr)).toEqual({ ccache: 'obj-a.o obj-b.o', other: 'other-a other-b' })
    expect(Object.keys(registryTags(registries, cacheRef)).filter(t => t.endsWith('-mounts'))).toHaveLength(2)
  })
})
