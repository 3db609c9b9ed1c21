// What buildx prints, as buildx 0.13 printed it: the steps and those the
// cache served, and the error of a cache export that failed.
import { describe, expect, it } from '@jest/globals'
import { cacheExportError, stepCounts } from '../../../src/docker/build-output.js'
import { progress } from '../../support/buildx-progress.js'

describe('stepCounts', () => {
  it('counts an ADD of a URL whose content did not change as one cached step, though its fetch runs', () => {
    const addUrl = [
      '#4 [1/2] ADD http://files.example/tool.tar.gz /opt/tool.tar.gz',
      '#4 DONE 0.1s',
      '#5 [1/2] ADD http://files.example/tool.tar.gz /opt/tool.tar.gz',
      '#5 CACHED',
      '#6 [2/2] RUN tar -xf /opt/tool.tar.gz',
      '#6 CACHED'
    ].join('\n')
    expect(stepCounts(addUrl)).toEqual({ total: 2, cached: 2 })
  })

  it('counts the Dockerfile steps and those reported CACHED, not internal ones', () => {
    expect(stepCounts(progress)).toEqual({ total: 4, cached: 2 })
  })

  it('counts a step a registry cache served by downloading its layer', () => {
    const remote = [
      '#7 [2/3] COPY scripts/setup.sh /tmp/setup.sh',
      '#7 CACHED',
      '#9 [3/3] RUN sh /tmp/setup.sh',
      '#9 sha256:2f0a5fd7b0edc6a87f172b21e1a1dcae09f62b17e3262d0a2ee6a5881be13032 1.05MB / 1.05MB 0.0s done',
      '#9 DONE 0.1s',
      '#10 [4/4] RUN make',
      '#10 0.512 cc -o x x.c',
      '#10 DONE 2.0s'
    ].join('\n')
    expect(stepCounts(remote)).toEqual({ total: 3, cached: 2 })
  })

  it('leaves out FROM steps, which resolve a base image and are never reported CACHED', () => {
    const warm = [
      '#4 [1/3] FROM docker.io/library/base:latest@sha256:117ad54118df0497334dd8bc9c76ae826d44512b4a9854e24520d5a034f33dc3',
      '#4 DONE 0.0s',
      '#5 [2/3] RUN echo a > /a',
      '#5 CACHED',
      '#6 [builder 3/3] RUN echo b > /b',
      '#6 CACHED'
    ].join('\n')
    expect(stepCounts(warm)).toEqual({ total: 2, cached: 2 })
  })
})

describe('stepCounts after a registry login', () => {
  it('does not count the step that shares credentials as a Dockerfile step', () => {
    const progress = [
      '#3 [auth] sharing credentials for 127.0.0.1:5001',
      '#3 DONE 0.0s',
      '#5 [1/2] COPY busybox /bin/busybox',
      '#5 CACHED',
      '#6 [2/2] RUN x',
      '#6 CACHED'
    ].join('\n')
    expect(stepCounts(progress)).toEqual({ total: 2, cached: 2 })
  })
})

describe('stepCounts with a base image from a named context', () => {
  it('counts neither the context loading its metadata nor its load, as buildx 0.29 prints them', () => {
    const progress = [
      '#2 [context 127.0.0.1:5093/acme/base:1] load metadata for 127.0.0.1:5093/acme/base:1@sha256:f355213a6a431c7a9eba68c11cdc7c87597bf8e29cfa7223e4f12cfc1389eb8d',
      '#2 DONE 0.1s',
      '#5 [context 127.0.0.1:5093/acme/base:1] OCI load from client',
      '#5 DONE 0.0s',
      '#8 [context 127.0.0.1:5093/acme/base:1] 127.0.0.1:5000/cache@sha256:ea3d3746bb7aaf71e13b16676fd90f7cb65216dd2fb53899a1ea09268aac9cfc',
      '#8 DONE 0.0s',
      '#6 [1/3] RUN cat /base-version > /stamp',
      '#6 CACHED',
      '#7 [context 2/3] RUN echo hi >> /stamp',
      '#7 CACHED'
    ].join('\n')
    expect(stepCounts(progress)).toEqual({ total: 2, cached: 2 })
  })
})

// As buildx 0.13 printed them against a distribution registry.
const refusedPush = `#10 exporting to image
#10 DONE 1.2s

#11 exporting cache to registry
#11 preparing build cache for export
#11 writing layer sha256:034bc24978070e0bc938fb59ba299ad30822e895e656c94f2107e4c7a1d1aa9f
#11 preparing build cache for export 0.1s done
#11 ERROR: error writing layer blob: unexpected status from HEAD request to http://localhost:5001/v2/cache/blobs/sha256:034b: 401 Unauthorized
------
 > exporting cache to registry:
------
`

describe('cacheExportError', () => {
  it("gives the error of the cache export's own step", () => {
    expect(cacheExportError(refusedPush)).toBe(
      'error writing layer blob: unexpected status from HEAD request to http://localhost:5001/v2/cache/blobs/sha256:034b: 401 Unauthorized'
    )
  })

  it('ignores the errors of other steps and a clean export', () => {
    expect(
      cacheExportError('#5 [2/3] RUN false\n#5 ERROR: process "/bin/sh -c false" did not complete successfully\n')
    ).toBeUndefined()
    expect(
      cacheExportError(
        '#11 exporting cache to registry\n#11 writing cache image manifest sha256:4ddc 0.0s done\n#11 DONE 0.8s\n'
      )
    ).toBeUndefined()
  })
})
