// The reader of build logs the end-to-end tests judge reuse by, on progress
// as BuildKit printed it on the docker-container builder.

import { describe, expect, it } from '@jest/globals'
import { builtSteps, rebuiltSteps } from '../../support/build-steps.js'

// A step served from a remote cache whose layers the next step needed: its
// downloads, and no CACHED line.
const servedByDownload = `#0 building with "buildx-ci-cache" instance using docker-container driver
#11 [2/3] COPY busybox /bin/busybox
#11 CACHED

#12 [3/3] RUN head -c 8388608 /dev/urandom > /heavy.bin
#12 sha256:2bb8c16b1ed2bdabf6601243d341f96de5f13ee78da6ecfc336bf5ba84d01dde 0B / 8.39MB 0.2s
#12 sha256:2bb8c16b1ed2bdabf6601243d341f96de5f13ee78da6ecfc336bf5ba84d01dde 8.39MB / 8.39MB 0.4s done
#12 extracting sha256:2bb8c16b1ed2bdabf6601243d341f96de5f13ee78da6ecfc336bf5ba84d01dde 0.0s done
#12 DONE 0.7s

#13 [4/4] RUN echo the tests pass > /tests.log
#13 0.104 the tests pass
#13 DONE 0.1s
`

describe('builtSteps', () => {
  it('counts a step whose layers were downloaded from the cache as served, and one that ran as not', () => {
    expect(builtSteps(servedByDownload)).toEqual({
      all: [
        'COPY busybox /bin/busybox',
        'RUN head -c 8388608 /dev/urandom > /heavy.bin',
        'RUN echo the tests pass > /tests.log'
      ],
      cached: ['COPY busybox /bin/busybox', 'RUN head -c 8388608 /dev/urandom > /heavy.bin']
    })
    expect(rebuiltSteps(servedByDownload)).toEqual(['RUN echo the tests pass > /tests.log'])
  })

  it('reads each build of a log on its own, vertex numbers starting again', () => {
    const second = `#0 building with "default" instance using docker driver
#11 [1/2] RUN make mounts
#11 DONE 2.0s
#12 [2/2] COPY out /out
#12 CACHED
`
    const { cached } = builtSteps(`${servedByDownload}${second}`)
    expect(cached).toContain('COPY out /out')
    expect(cached).not.toContain('RUN make mounts')
  })

  it('leaves out the internal steps and FROM', () => {
    const log = `#0 building with "default" instance using docker driver
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#4 [1/2] FROM docker.io/library/alpine:3.20@sha256:${'a'.repeat(64)}
#4 sha256:${'b'.repeat(64)} 3.6MB / 3.6MB 0.3s done
#5 [2/2] RUN true
#5 DONE 0.1s
`
    expect(builtSteps(log)).toEqual({ all: ['RUN true'], cached: [] })
  })
})
