import { describe, expect, it } from '@jest/globals'
import { stepCounts } from '../../src/docker/build-output.js'
import { errorLine } from '../../src/docker/error-line.js'
import { secretEnv } from '../../src/docker/build-secrets.js'
import { buildxArgs } from '../../src/docker/buildx-args.js'
import { failedOnCacheImport } from '../../src/docker/import-failures.js'
import type { Inputs } from '../../src/inputs.js'
import { ciInputs } from '../support/inputs.js'

const inputs: Inputs = { ...ciInputs, buildArgs: [{ name: 'A', value: 'x y; $(id)' }], cacheCompression: 'gzip' }
const files = { iidFile: '/t/iid', metadataFile: '/t/meta.json', output: 'image' as const }
const local = (dir: string) => ({ type: 'local' as const, dir })

describe('buildxArgs', () => {
  it('imports a restored cache and exports a new one in max mode', () => {
    expect(buildxArgs(inputs, { from: [local('/c/old')], to: local('/c/new') }, files)).toEqual([
      'buildx',
      'build',
      '--progress=plain',
      '--file',
      '/ws/Dockerfile',
      '--tag',
      'ci',
      '--build-arg',
      'A=x y; $(id)',
      '--load',
      '--cache-from',
      'type=local,src=/c/old',
      '--cache-to',
      'type=local,dest=/c/new,mode=max,ignore-error=true,compression=gzip,force-compression=true',
      '--iidfile',
      '/t/iid',
      '--metadata-file',
      '/t/meta.json',
      '/ws'
    ])
  })

  it('forces the layer compression asked for on the export, gzip too: a restored entry may have another', () => {
    for (const choice of ['zstd', 'gzip', 'uncompressed'] as const) {
      const args = buildxArgs({ ...inputs, cacheCompression: choice }, { from: [], to: local('/c/new') }, files)
      expect(args).toContain(
        `type=local,dest=/c/new,mode=max,ignore-error=true,compression=${choice},force-compression=true`
      )
    }
  })

  it('leaves out what is not asked for', () => {
    const args = buildxArgs(
      {
        ...inputs,
        buildArgs: [],
        load: false,
        push: true,
        tags: ['a', 'b'],
        target: 't',
        platforms: ['linux/amd64', 'linux/arm64']
      },
      { from: [] },
      files
    )
    expect(args).not.toContain('--cache-from')
    expect(args).not.toContain('--cache-to')
    expect(args).not.toContain('--load')
    expect(args.join(' ')).toContain('--tag a --tag b --target t --platform linux/amd64,linux/arm64 --push')
  })

  it('neither loads nor pushes when the build only exports its cache', () => {
    const args = buildxArgs({ ...inputs, push: true }, { from: [], to: local('/c/new') }, { ...files, output: 'cache' })
    expect(args).not.toContain('--load')
    expect(args).not.toContain('--push')
    expect(args).toContain('type=local,dest=/c/new,mode=max,ignore-error=true,compression=gzip,force-compression=true')
  })

  it('reads and writes a registry cache with OCI media types', () => {
    const ref = 'ghcr.io/acme/cache:img'
    const args = buildxArgs(inputs, { from: [{ type: 'registry', ref }], to: { type: 'registry', ref } }, files)
    expect(args).toContain(`type=registry,ref=${ref}`)
    expect(args).toContain(
      `type=registry,ref=${ref},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true,compression=gzip,force-compression=true`
    )
  })
})

const progress = `#0 building with "default" instance using docker driver
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#5 [1/4] COPY busybox /bin/busybox
#5 CACHED
#6 [2/4] RUN ["/bin/busybox", "--install", "-s", "/bin"]
#6 CACHED
#7 [3/4] COPY data/ /data/
#7 DONE 0.1s
#8 [4/4] RUN ls /data
#8 0.120 something
#8 DONE 0.2s
#9 exporting to image
`

describe('stepCounts', () => {
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

describe('errorLine', () => {
  it('takes the last ERROR line of a failed build', () => {
    const out = `${progress}#8 ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n------\nERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n`
    expect(errorLine(out)).toBe(
      'failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    )
  })
})

describe('failedOnCacheImport', () => {
  it('does not blame the cache for a failing RUN or a missing COPY source', () => {
    expect(
      failedOnCacheImport(
        'ERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
      )
    ).toBe(false)
    expect(
      failedOnCacheImport(
        'ERROR: failed to solve: failed to compute cache key: failed to calculate checksum of ref abc::def: "/missing.sh": not found'
      )
    ).toBe(false)
  })
})

describe('secrets', () => {
  it('pass by variable name only: values never reach the argument list', () => {
    const withSecrets = { ...inputs, secrets: [{ id: 'token', value: 's3cr3t' }] }
    const args = buildxArgs(withSecrets, { from: [] }, { ...files, builder: 'b' })
    expect(args).toContain('id=token,env=BUILDX_CI_CACHE_SECRET_0')
    expect(args.join(' ')).not.toContain('s3cr3t')
    expect(args.slice(3, 7)).toEqual(['--file', '/ws/Dockerfile', '--builder', 'b'])
    expect(secretEnv(withSecrets.secrets)).toEqual({ BUILDX_CI_CACHE_SECRET_0: 's3cr3t' })
  })
})
