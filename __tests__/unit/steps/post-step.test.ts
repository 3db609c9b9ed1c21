// The post step with the toolkit and the store replaced by typed stand-ins:
// it saves exactly what the main step decided, says why not otherwise, and
// never fails the job.
import { describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { coreMock, freshRecord, type CoreRecord } from '../../support/core-mock.js'
import type { CacheStore, SaveResult } from '../../../src/cache/store.js'
import type { StepState } from '../../../src/steps/step-state.js'

let record: CoreRecord = freshRecord()
let saveResult: SaveResult | Error = { saved: true, key: 'k/1', sizeBytes: 1 }
const saves: string[] = []

const store: CacheStore = {
  backend: 'gha',
  restore: async () => undefined,
  exportTo: async () => ({ type: 'local', dir: '/x' }),
  exported: async () => ({ sizeBytes: 0 }),
  save: async plan => {
    saves.push(plan.content)
    if (saveResult instanceof Error) throw saveResult
    return saveResult
  },
  temporaryPaths: () => []
}

jest.unstable_mockModule('@actions/core', () => ({
  ...coreMock(new Proxy({} as CoreRecord, { get: (_t, p) => record[p as keyof CoreRecord] })),
  summary: { addRaw: () => ({ write: async () => undefined }) }
}))
jest.unstable_mockModule('../../../src/cache/create.js', () => ({ createStore: () => store }))

const { runPost } = await import('../../../src/steps/post-step.js')

process.env.RUNNER_TEMP = fs.mkdtempSync(path.join(os.tmpdir(), 'post-step-'))

const base: StepState = {
  image: 'ci',
  key: 'buildx/ci/master/h',
  matchedKey: '',
  source: 'none',
  cacheHit: false,
  stale: false,
  store: { backend: 'gha', image: 'ci', cacheRoot: '', cacheRef: '', jobId: 'j' },
  save: { save: true, why: { kind: 'new-content' } },
  saveTimeoutSeconds: 5,
  deleteSuperseded: false,
  summary: false
}

async function post(report: StepState | undefined): Promise<void> {
  record = freshRecord()
  if (report) record.state.report = JSON.stringify(report)
  saves.length = 0
  await runPost()
  expect(record.failed).toBeUndefined()
}

describe('the post step', () => {
  it('saves under the content key when the main step decided so, and says why', async () => {
    saveResult = { saved: true, key: 'buildx/ci/master/h/0001', sizeBytes: 2 * 1024 * 1024 }
    await post({ ...base, save: { save: true, why: { kind: 'stale', cached: 1, total: 3 } } })
    expect(saves).toEqual(['buildx/ci/master/h'])
    expect(record.log).toContain(
      'Saving the cache: the entry of this content left 2 of 3 steps to rebuild; the new cache replaces it.'
    )
    expect(record.log.some(l => l.startsWith('Cache saved with key: buildx/ci/master/h/0001 (2.0 MB in'))).toBe(true)
  })

  it("saves a failed build's progress under its partial key, and says what was kept and which step failed", async () => {
    const key = 'buildx/ci/master/h.partial'
    saveResult = { saved: true, key: `${key}/0001`, sizeBytes: 12 * 1024 * 1024 }
    await post({
      ...base,
      build: { seconds: 60, steps: { total: 0, cached: 0 }, retriedWithoutCache: false, succeeded: false },
      save: { save: true, why: { kind: 'progress', key, steps: 8, failedStep: 'RUN ./build-gcc.sh' } },
      progress: { steps: 8, rerun: 0, failedStep: 'RUN ./build-gcc.sh', cutSeconds: 3 }
    })
    expect(saves).toEqual([key])
    expect(record.log).toContain(
      'Saving the cache: the build failed, but 8 steps finished before `RUN ./build-gcc.sh`: they are saved as a partial entry, which the next run of this branch restores.'
    )
    expect(record.log).toContain(
      'The build failed: saved the 8 steps that finished (12.0 MB); the failing step was `RUN ./build-gcc.sh`.'
    )
  })

  it('saves nothing and says why when the main step decided not to', async () => {
    await post({
      ...base,
      save: { save: false, skip: { kind: 'denied', denial: { kind: 'untrusted-trigger', event: 'workflow_run' } } }
    })
    expect(saves).toEqual([])
    expect(record.log).toContain(
      'Not saving the cache: workflow_run runs never write the cache: they may be triggered by a fork.'
    )
  })

  it('keeps the actions/cache wording for an exact hit', async () => {
    await post({ ...base, save: { save: false, skip: { kind: 'exact-hit', key: 'buildx/ci/master/h' } } })
    expect(record.log).toContain('Cache hit occurred on the primary key buildx/ci/master/h, not saving cache.')
  })

  it('turns a failed save into a warning, never a failed job', async () => {
    saveResult = { saved: false, reason: 'the service said no' }
    await post(base)
    expect(record.log).toContain('::warning::Cache not saved with key buildx/ci/master/h: the service said no')
    saveResult = new Error('disk on fire')
    await post(base)
    expect(record.log).toContain('::warning::The cache could not be saved: disk on fire')
  })

  it('has nothing to do when the main step stopped before the build', async () => {
    await post(undefined)
    expect(saves).toEqual([])
    expect(record.log).toContain('The main step did not get as far as the build; nothing to save.')
  })
})
