import { afterEach, describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { StepState, SaveOutcome } from '../../../src/steps/step-state.js'
import { summaryRow, writeSummary } from '../../../src/steps/summary.js'

const report = (over: Partial<StepState> = {}): StepState => ({
  image: 'dist-x86_64-linux',
  key: 'buildx/dist-x86_64-linux/master/abc',
  matchedKey: 'buildx/dist-x86_64-linux/master/old',
  source: 'branch',
  cacheHit: false,
  stale: false,
  store: { backend: 'gha', image: 'dist-x86_64-linux', cacheRoot: '', cacheRef: '', jobId: 'j' },
  save: { save: true, why: { kind: 'new-content' } },
  restore: { sizeBytes: 200 * 1024 * 1024, seconds: 2 },
  build: { seconds: 31.25, steps: { total: 12, cached: 9 }, retriedWithoutCache: false, succeeded: true },
  saveTimeoutSeconds: 600,
  deleteSuperseded: false,
  summary: true,
  ...over
})
const saved: SaveOutcome = {
  result: { saved: true, key: 'buildx/dist-x86_64-linux/master/abc/0', sizeBytes: 210 * 1024 * 1024 },
  seconds: 3
}

describe('summaryRow', () => {
  it('says what was restored, how fast, what the build reused and what was saved', () => {
    expect(summaryRow(report(), saved)).toBe(
      '| dist-x86_64-linux | <code>buildx/dist-x86_64-linux/master/abc</code> | this branch: <code>buildx/dist-x86_64-linux/master/old</code> | 200.0 MB in 2.0 s (100 MB/s) | 31.3 s, 9/12 steps cached | 210.0 MB in 3.0 s (70 MB/s) |'
    )
  })

  it('says what the builder read of an entry served to it during the build, apart from the index restore', () => {
    const row = summaryRow(
      report({ restore: { sizeBytes: 200 * 1024 * 1024, seconds: 0.4, movedBytes: 150 * 1024 * 1024, served: true } }),
      saved
    )
    expect(row).toContain('| index in 0.4 s; 150.0 MB of 200.0 MB read by the builder during the build |')
  })

  it('says what the kept base images gained a run, and what keeping them adds to the entry', () => {
    const used = summaryRow(report({ bases: { fromCache: 2, fellBack: '127.0.0.1:5003 answered 429' } }), saved)
    expect(used).toContain(
      '| 31.3 s, 9/12 steps cached; 2 base image(s) from the entry, 2 registry lookup(s) avoided (the registry: 127.0.0.1:5003 answered 429) |'
    )
    const kept = summaryRow(report({ bases: { fromCache: 0, kept: { count: 1, addedBytes: 1738 } } }), saved)
    expect(kept).toContain('(70 MB/s); keeps 1 base image(s), adding 0.002 MB |')
    const inRepository = summaryRow(report({ bases: { fromCache: 0, kept: { count: 1 } } }), saved)
    expect(inRepository).toContain('; keeps 1 base image(s) in the cache repository |')
  })

  it("says a build took its steps from the engine's own cache, with no restore", () => {
    const row = summaryRow(
      report({
        matchedKey: 'buildx/dist-x86_64-linux/master/abc',
        source: 'engine',
        cacheHit: true,
        restore: undefined
      }),
      saved
    )
    expect(row).toContain("| the engine's own cache: <code>buildx/dist-x86_64-linux/master/abc</code> | – |")
  })

  it('says why nothing was saved, and a cold build', () => {
    const row = summaryRow(report({ matchedKey: '', source: 'none', restore: undefined }), {
      result: {
        saved: false,
        reason:
          'refs/heads/feature is not the default branch (refs/heads/master); only the default branch writes the cache.'
      },
      seconds: 0
    })
    expect(row).toContain('| nothing: cold build | – |')
    expect(row).toContain('| no: refs/heads/feature is not the default branch')
  })

  it('says that an entry of this content was stale, and who refreshes it', () => {
    const stale = {
      matchedKey: 'buildx/dist-x86_64-linux/master/abc/0',
      source: 'exact' as const,
      cacheHit: true,
      stale: true
    }
    const ours = summaryRow(report(stale), saved)
    expect(ours).toContain(
      'exact match: <code>buildx/dist-x86_64-linux/master/abc/0</code>, **stale**: 3 of 12 steps were rebuilt (a base image may have moved); replaced by this run'
    )
    const theirs = summaryRow(report({ ...stale, save: { save: false, skip: { kind: 'exact-hit', key: 'k' } } }), {
      result: { saved: false, reason: 'r' },
      seconds: 0
    })
    expect(theirs).toContain(
      '3 of 12 steps were rebuilt (a base image may have moved); the next run that may write refreshes it'
    )
  })

  it('says a failed build saved the steps it finished, and which step failed', () => {
    const key = 'buildx/dist-x86_64-linux/master/abc.partial'
    const row = summaryRow(
      report({
        build: { seconds: 3600, steps: { total: 0, cached: 0 }, retriedWithoutCache: false, succeeded: false },
        save: { save: true, why: { kind: 'progress', key, steps: 7, failedStep: 'RUN ./build-gcc.sh' } },
        progress: { steps: 7, rerun: 0, failedStep: 'RUN ./build-gcc.sh', cutSeconds: 4.2 }
      }),
      { result: { saved: true, key: `${key}/0`, sizeBytes: 1.2 * 1024 ** 3 }, seconds: 10 }
    )
    expect(row).toContain('| failed after 3600.0 s; the steps it finished exported in 4.2 s |')
    expect(row).toContain(
      '| **partial**: saved the 7 steps that finished (1228.8 MB); the failing step was <code>RUN ./build-gcc.sh</code>; 1228.8 MB in 10.0 s'
    )
  })

  it('says a restored entry was partial', () => {
    const row = summaryRow(report({ matchedKey: 'buildx/dist-x86_64-linux/master/old.partial/0mx' }), saved)
    expect(row).toContain(
      'this branch: <code>buildx/dist-x86_64-linux/master/old.partial/0mx</code> (**partial**: what a failed build finished)'
    )
  })

  it('keeps hostile text from breaking the table or adding markup', () => {
    const row = summaryRow(report({ image: 'a|b\n<script>' }), saved)
    expect(row.split('\n')).toHaveLength(1)
    expect(row).toContain('a\\|b &lt;script&gt;')
  })
})

describe('writeSummary', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'summary-')), 'summary.md')
  afterEach(() => fs.rmSync(file, { force: true }))

  it('puts the images of one job in one table', async () => {
    process.env.GITHUB_STEP_SUMMARY = file
    fs.writeFileSync(file, '')
    await writeSummary(report({ image: 'one' }), saved, file)
    await writeSummary(report({ image: 'two' }), saved, file)
    const text = fs.readFileSync(file, 'utf8')
    expect(text.match(/### Build cache/g)).toHaveLength(1)
    expect(text).toMatch(/\| one \|.*\n\| two \|/)
  })

  it('starts a new table when something else came after the last one', async () => {
    process.env.GITHUB_STEP_SUMMARY = file
    fs.writeFileSync(file, '')
    await writeSummary(report({ image: 'one' }), saved, file)
    fs.appendFileSync(file, '\nTests passed.\n')
    await writeSummary(report({ image: 'two' }), saved, file)
    expect(fs.readFileSync(file, 'utf8').match(/### Build cache/g)).toHaveLength(2)
  })
})
