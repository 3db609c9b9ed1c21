// What the registry backend needs from the buildx command line and its output.
import { describe, expect, it } from '@jest/globals'
import { cacheExportError, stepCounts } from '../../../src/docker/build-output.js'
import { buildxArgs } from '../../../src/docker/buildx-args.js'
import { failedOnCacheImport } from '../../../src/docker/import-failures.js'
import type { Inputs } from '../../../src/inputs.js'
import { ciInputs } from '../../support/inputs.js'

const inputs: Inputs = { ...ciInputs, cacheCompression: 'gzip' }
const files = { iidFile: '/t/iid', metadataFile: '/t/meta.json', output: 'image' as const }
const to = { type: 'registry' as const, ref: 'ghcr.io/acme/c:ci.master.abc.0123' }

describe('buildxArgs with a registry', () => {
  it('pushes in max mode as an OCI image manifest, and never fails the build on the push', () => {
    expect(buildxArgs(inputs, { from: [], to }, files)).toContain(
      'type=registry,ref=ghcr.io/acme/c:ci.master.abc.0123,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true,compression=gzip,force-compression=true'
    )
  })

  it('forces the chosen layer compression, as for a local cache', () => {
    expect(buildxArgs({ ...inputs, cacheCompression: 'zstd' }, { from: [], to }, files)).toContain(
      'type=registry,ref=ghcr.io/acme/c:ci.master.abc.0123,mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true,compression=zstd,force-compression=true'
    )
  })

  it('imports by tag or by digest', () => {
    const byDigest = { type: 'registry' as const, ref: `ghcr.io/acme/c@sha256:${'d'.repeat(64)}` }
    const args = buildxArgs(inputs, { from: [byDigest] }, files)
    expect(args).toContain(`type=registry,ref=ghcr.io/acme/c@sha256:${'d'.repeat(64)}`)
    expect(args).not.toContain('--cache-to')
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

describe('failedOnCacheImport with a registry cache', () => {
  it('knows a layer the registry no longer has, fetched while the image is exported', () => {
    const d = '7ecf8f01addff76d27feaad5f42bae2c1b33a45cc00fa3659c09736c177e4dad'
    const output = `#11 exporting to image\nERROR: failed to solve: failed to copy: httpReadSeeker: failed open: could not fetch content descriptor sha256:${d} (application/vnd.oci.image.layer.v1.tar+gzip) from remote: not found\n`
    expect(failedOnCacheImport(output)).toBe(true)
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
