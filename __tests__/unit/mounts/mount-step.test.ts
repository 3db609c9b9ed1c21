import { describe, expect, it, jest } from '@jest/globals'
import type { CacheMount } from '../../../src/key/dockerfile-stages.js'
import type { MountReport } from '../../../src/mounts/report.js'
import { ciInputs } from '../../support/inputs.js'

// What the failure path hands the save: only the mounts the failed build reached.
const saved: CacheMount[][] = []
jest.unstable_mockModule('../../../src/mounts/save-mounts.js', () => ({
  saveMounts: async (context: { mounts: CacheMount[] }, reports: MountReport[]) => {
    saved.push(context.mounts)
    return reports.map(r => (context.mounts.some(m => m.id === r.id) ? { ...r, savedBytes: 10, saveSeconds: 1 } : r))
  }
}))
jest.unstable_mockModule('@actions/core', () => ({
  group: async <T>(_name: string, fn: () => Promise<T>) => await fn(),
  info: () => undefined,
  warning: () => undefined
}))

const { BuildError } = await import('../../../src/docker/build.js')
const { mountsAfterFailure } = await import('../../../src/mounts/mount-step.js')

const mount = (id: string, line: number): CacheMount => ({
  id,
  target: `/${id}`,
  sharing: 'shared',
  stage: 'stage-0',
  stageIndex: 0,
  line
})

// buildx's output of a build that failed at line 6 (the error names the Dockerfile line).
const OUTPUT = `#7 [stage-0 4/5] RUN --mount=type=cache,target=/ccache make
#7 ERROR: process "/bin/sh -c make" did not complete successfully: exit code: 2
------
 > [stage-0 4/5] RUN --mount=type=cache,target=/ccache make:
------
Dockerfile:6
--------------------
   5 |     COPY src /src
   6 | >>> RUN --mount=type=cache,target=/ccache make
   7 |     RUN --mount=type=cache,target=/later true
--------------------
ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2
`

describe('the mounts kept after a failed build', () => {
  it('are those first used at or before the failing line: the later ones were never reached', async () => {
    const of = { mounts: [mount('/early', 3), mount('/ccache', 6), mount('/later', 7)], dockerfile: '' }
    const reports = of.mounts.map(m => ({ id: m.id }))
    const failure = new BuildError('failed', { output: OUTPUT, withoutCache: false })
    const kept = await mountsAfterFailure(
      of,
      reports,
      failure,
      { location: { type: 'local', dir: '/tmp/x' }, contentKey: 'k', from: [] },
      { inputs: ciInputs, temp: '/tmp', env: {} }
    )
    expect(saved.at(-1)?.map(m => m.id)).toEqual(['/early', '/ccache'])
    expect(kept.map(r => [r.id, r.savedBytes])).toEqual([
      ['/early', 10],
      ['/ccache', 10],
      ['/later', undefined]
    ])
  })

  it('are none when buildx named no failing step', async () => {
    const of = { mounts: [mount('/ccache', 6)], dockerfile: '' }
    const before = saved.length
    await mountsAfterFailure(
      of,
      [{ id: '/ccache' }],
      new BuildError('failed', { output: 'ERROR: failed to read dockerfile', withoutCache: false }),
      { location: { type: 'local', dir: '/tmp/x' }, contentKey: 'k', from: [] },
      { inputs: ciInputs, temp: '/tmp', env: {} }
    )
    expect(saved.length).toBe(before)
  })
})
