// `npm run bench:heal`: what refreshing a stale entry costs. A CI image built
// FROM a local base image saves its cache on master; the base is then
// republished under the same tag (an upstream image that moved). The next
// master run finds an exact hit that rebuilds every step on the new base, and
// refreshes the entry; the run after it is an ordinary exact hit. Printed,
// never asserted: slowness is a figure, not a failure.
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { startCacheService, type CacheService } from '../__tests__/support/cache-service.js'
import { docker, keepAcrossRunners, ROOT } from '../__tests__/support/engine.js'
import { freshJob, type JobOutcome } from '../__tests__/support/fresh-job.js'
import { benchEngine } from './engine.js'
import { cacheExportSeconds } from './timing.js'

jest.setTimeout(60 * 60 * 1000)

const BASE = 'heal-bench-base:latest'
const IMAGE = 'heal-bench'
const MASTER = 'refs/heads/master'

let service: CacheService
let workspace = ''
const rows: string[] = []

beforeAll(async () => {
  // The benchmarks' engine, never the tests': `npm run bench:heal` starts it
  // and exports DOCKER_HOST and BUSYBOX, which the support helpers read.
  benchEngine()
  service = await startCacheService()
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'heal-bench-'))
  fs.cpSync(path.join(ROOT, '__fixtures__', 'ci-image-heavy'), workspace, { recursive: true })
  fs.copyFileSync(process.env.BUSYBOX ?? '', path.join(workspace, 'busybox'))
  const dockerfile = path.join(workspace, 'Dockerfile')
  const steps = fs
    .readFileSync(dockerfile, 'utf8')
    .split('\n')
    .filter(line => !/^(FROM|COPY busybox|RUN \["\/bin\/busybox")/.test(line))
  fs.writeFileSync(dockerfile, [`FROM ${BASE}`, ...steps].join('\n'))
  keepAcrossRunners(BASE)
  publishBase('one')
})

afterAll(async () => {
  await service?.close()
  process.stdout.write(
    `\n| Run | Total | Build | Cache export | Cached steps | Saved |\n| --- | --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`
  )
})

function publishBase(version: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heal-bench-base-'))
  fs.copyFileSync(path.join(workspace, 'busybox'), path.join(dir, 'busybox'))
  fs.writeFileSync(
    path.join(dir, 'Dockerfile'),
    `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN echo ${version} > /base-version\n`
  )
  docker('buildx', 'build', '--quiet', '--load', '--tag', BASE, dir)
}

async function masterRun(name: string): Promise<JobOutcome> {
  const r = await freshJob(service, {
    workspace,
    image: IMAGE,
    inputs: { image: IMAGE },
    event: { name: 'push', ref: MASTER, payload: { repository: { default_branch: 'master' } } },
    scopes: [{ scope: MASTER, permission: 3 }]
  })
  if (r.main.exitCode !== 0) throw new Error(`${name}: the main step failed:\n${r.main.log.slice(-2000)}`)
  const saved = /^Cache saved with key: \S+ \(([\d.]+ MB) in ([\d.]+ s)\)/m.exec(r.post?.log ?? '')
  rows.push(
    `| ${name} | ${r.seconds.toFixed(1)} s | ${r.main.outputs['build-time']} s | ${cacheExportSeconds(r.main.log).toFixed(1)} s | ${r.main.outputs['cached-steps']} | ${saved ? `${saved[1]} in ${saved[2]}` : 'nothing'} |`
  )
  return r
}

describe('refreshing a stale entry', () => {
  it('costs one rebuild of the steps on the moved base and one export, once', async () => {
    await masterRun('cold build, saved')
    await masterRun('exact hit, every step cached')
    publishBase('two')
    await masterRun('exact hit after the base moved: stale, refreshed')
    await masterRun('exact hit after the refresh')
  })
})
