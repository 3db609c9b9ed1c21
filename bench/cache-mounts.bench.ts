// `npm run bench:mounts`: what keeping `RUN --mount=type=cache` costs and
// gains. The toolchain image (gcc and binutils from Debian's packages) gets
// Debian's ccache and a step that compiles C++ translation units through it
// into a cache mount, plus a mount of real toolchain files (about 0.9 GB) for
// the seconds per GB a mount's restore and export take. A first default-branch
// run compiles cold and saves; a second, on a fresh runner, with one source
// changed (its COPY reruns the compile step), restores the mounts; a third,
// the same change with cache-mounts: false, compiles cold again. Printed,
// never asserted: slowness is a figure, not a failure.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { startCacheService, type CacheService } from '../__tests__/support/cache-service.js'
import { ROOT } from '../__tests__/support/engine.js'
import { freshJob, type JobOutcome } from '../__tests__/support/fresh-job.js'
import { CCACHE_PACKAGES, debianContent, fetchPackages } from './debian-content.js'
import { benchEngine } from './engine.js'
import { run } from './proc.js'

jest.setTimeout(60 * 60 * 1000)

const IMAGE = 'mounts-bench'
const MASTER = 'refs/heads/master'
const UNITS = 12

let service: CacheService
let workspace = ''
const rows: string[] = []

function unit(i: number, version: number): string {
  return `#include <bits/stdc++.h>
namespace unit${i} {
template <typename K, typename V> std::map<K, std::vector<V>> group(const std::vector<std::pair<K, V>> &in) {
  std::map<K, std::vector<V>> out;
  for (const auto &[k, v] : in) out[k].push_back(v);
  return out;
}
std::string run(int n) {
  std::vector<std::pair<std::string, double>> items;
  for (int j = 0; j < n; ++j) items.emplace_back(std::to_string(j % ${i + 3}), j * ${version}.5);
  std::ostringstream s;
  for (const auto &[k, v] : group(items)) s << k << ':' << std::accumulate(v.begin(), v.end(), 0.0) << '\\n';
  std::regex r("[0-9]+");
  return std::regex_replace(s.str(), r, "#");
}
}
`
}

function writeSources(version: number, changed: number): void {
  const dir = path.join(workspace, 'src')
  fs.mkdirSync(dir, { recursive: true })
  for (let i = 0; i < UNITS; i++) fs.writeFileSync(path.join(dir, `unit${i}.cpp`), unit(i, i === changed ? version : 1))
}

beforeAll(async () => {
  // Refuses an engine the tests use: every job here prunes its engine.
  benchEngine()
  service = await startCacheService()
  workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'mounts-bench-'))
  const fixture = path.join(ROOT, '__fixtures__', 'ci-image-toolchain')
  fs.cpSync(fixture, workspace, { recursive: true })
  fs.copyFileSync(process.env.BUSYBOX ?? '', path.join(workspace, 'busybox'))
  const debs = path.join(ROOT, '.bench-work', 'debs')
  await debianContent(fixture, workspace, debs)
  const ccache = path.join(workspace, 'rootfs', 'ccache')
  fs.mkdirSync(ccache, { recursive: true })
  for (const deb of (await fetchPackages(CCACHE_PACKAGES, debs)).values()) await run('dpkg-deb', ['-x', deb, ccache])
  const toolchain = fs
    .readFileSync(path.join(fixture, 'Dockerfile'), 'utf8')
    .split('\n')
    .filter(line => !line.startsWith('#'))
  const kept = toolchain.slice(
    0,
    toolchain.findIndex(line => line.startsWith('COPY rootfs/perl'))
  )
  fs.writeFileSync(
    path.join(workspace, 'Dockerfile'),
    [
      ...kept,
      'COPY rootfs/ccache/ /',
      // About 0.9 GB of real files: the toolchain's own, copied twice into a mount of its own.
      'RUN --mount=type=cache,id=files,target=/files [ -e /files/1 ] || { cp -a /usr /files/1 && cp -a /usr /files/2; }; du -sm /files',
      'COPY src/ /src/',
      'RUN --mount=type=cache,id=ccache,target=/root/.ccache mkdir -p /out && cd /src && CCACHE_DIR=/root/.ccache ccache -z && ' +
        'ls *.cpp | CCACHE_DIR=/root/.ccache xargs -P 2 -I{} ccache g++-12 -std=c++17 -O2 -c {} -o /out/{}.o && ' +
        'CCACHE_DIR=/root/.ccache ccache -s',
      ''
    ].join('\n')
  )
})

afterAll(async () => {
  await service?.close()
  process.stdout.write(
    `\n| Run | Compile step | Mounts restored | Restore (files / ccache) | Export (files / ccache) |\n| --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`
  )
})

/** Seconds the compile step took, as buildx printed its DONE line. */
function compileSeconds(log: string): number {
  const step = /^#(\d+) \[[^\]]*\] RUN --mount=type=cache,id=ccache/m.exec(log)?.[1]
  const done = step ? new RegExp(`^#${step} DONE ([\\d.]+)s`, 'm').exec(log) : null
  return Number(done?.[1] ?? Number.NaN)
}

function mountFigure(log: string, what: 'restored' | 'exported', id: string): string {
  const m = new RegExp(`Cache mount ${id} ${what} \\(([\\d.]+) MB in ([\\d.]+) s\\)`).exec(log)
  if (!m) return '–'
  const mb = Number(m[1])
  const s = Number(m[2])
  return `${mb} MB in ${s} s (${((s * 1024) / mb).toFixed(1)} s/GB)`
}

async function masterRun(name: string, inputs: Record<string, string> = {}): Promise<JobOutcome> {
  const r = await freshJob(service, {
    workspace,
    image: IMAGE,
    inputs: { image: IMAGE, ...inputs },
    event: { name: 'push', ref: MASTER, payload: { repository: { default_branch: 'master' } } },
    scopes: [{ scope: MASTER, permission: 3 }]
  })
  if (r.main.exitCode !== 0) throw new Error(`${name}: the main step failed:\n${r.main.log.slice(-3000)}`)
  const log = r.main.log
  rows.push(
    `| ${name} | ${compileSeconds(log)} s | ${r.main.outputs['cache-mounts-restored']} | ${mountFigure(log, 'restored', 'files')} / ${mountFigure(log, 'restored', 'ccache')} | ${mountFigure(log, 'exported', 'files')} / ${mountFigure(log, 'exported', 'ccache')} |`
  )
  return r
}

describe('a compiler cache in a cache mount', () => {
  it('is restored on a fresh runner, and the compile step that reruns hits it', async () => {
    writeSources(1, -1)
    await masterRun('cold, saved')
    writeSources(2, 0)
    const warm = await masterRun('one source changed, mounts restored')
    expect(warm.main.outputs['cache-mounts-restored']).toBe('2/2')
    writeSources(3, 0)
    await masterRun('one source changed, cache-mounts: false', { 'cache-mounts': 'false' })
  })
})
