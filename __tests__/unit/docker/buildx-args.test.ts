// The buildx command line: what the inputs, the caches to import and export,
// and the builder become. Values reach buildx as whole arguments, secrets by
// variable name only, and a directory with a comma stays one attribute.
import { afterAll, describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { secretEnv } from '../../../src/docker/build-secrets.js'
import { buildxArgs } from '../../../src/docker/buildx-args.js'
import { parseInputs, type Inputs } from '../../../src/inputs.js'
import { ciInputs } from '../../support/inputs.js'

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'buildx-args-'))
fs.writeFileSync(path.join(workspace, 'Dockerfile'), 'FROM scratch\n')
afterAll(() => fs.rmSync(workspace, { recursive: true, force: true }))
const parse = (values: Record<string, string>): Inputs => parseInputs(name => values[name] ?? '', workspace)

const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n'

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
      '--output',
      'type=docker,compression=gzip,force-compression=true',
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

  it('loads the image with its layers compressed as the cache keeps them, so that the cache export reuses them', () => {
    for (const choice of ['zstd', 'gzip', 'uncompressed'] as const) {
      const args = buildxArgs({ ...inputs, cacheCompression: choice }, { from: [], to: local('/c/new') }, files)
      expect(args[args.indexOf('--output') + 1]).toBe(`type=docker,compression=${choice},force-compression=true`)
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
    expect(args).not.toContain('--output')
    expect(args.join(' ')).toContain('--tag a --tag b --target t --platform linux/amd64,linux/arm64 --push')
  })

  it('neither loads nor pushes when the build only exports its cache', () => {
    const args = buildxArgs({ ...inputs, push: true }, { from: [], to: local('/c/new') }, { ...files, output: 'cache' })
    expect(args).not.toContain('--output')
    expect(args).not.toContain('--push')
    expect(args).toContain('type=local,dest=/c/new,mode=max,ignore-error=true,compression=gzip,force-compression=true')
  })

  it('makes no image and names none when the build of a cut Dockerfile exports only its cache', () => {
    const args = buildxArgs(
      { ...inputs, tags: ['ghcr.io/acme/ci:latest'], push: true },
      { from: [], to: local('/c/new') },
      { ...files, output: 'cache-only', origin: { key: 'buildx/ci/master/abc', builder: 'default' } }
    )
    expect(args.join(' ')).toContain('--output type=cacheonly')
    for (const flag of ['--tag', '--load', '--push', '--label']) expect(args).not.toContain(flag)
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

describe('buildxArgs with pull and no-cache', () => {
  const run = { iidFile: '/t/iid', metadataFile: '/t/meta.json', output: 'image' as const }

  const restored = [{ type: 'local' as const, dir: '/t/restored' }]

  const exportTo = { type: 'local' as const, dir: '/t/new' }

  it('passes --pull, and keeps the restored cache', () => {
    const args = buildxArgs(parse({ image: 'ci', pull: 'true' }), { from: restored }, run)
    expect(args).toContain('--pull')
    expect(args).not.toContain('--no-cache')
    expect(args.join(' ')).toContain('--cache-from type=local,src=/t/restored')
  })

  it("with no-cache, imports nothing and ignores the engine's cache, but still exports for a save", () => {
    const args = buildxArgs(parse({ image: 'ci', 'no-cache': 'true' }), { from: restored, to: exportTo }, run)
    expect(args).toContain('--no-cache')
    expect(args).not.toContain('--cache-from')
    expect(args.join(' ')).toContain('--cache-to type=local,dest=/t/new,mode=max')
  })

  it('passes neither by default', () => {
    const args = buildxArgs(parse({ image: 'ci' }), { from: restored }, run)
    expect(args).not.toContain('--pull')
    expect(args).not.toContain('--no-cache')
  })
})

describe('buildxArgs for the retry after a damaged cache', () => {
  const inputs: Inputs = { ...ciInputs, cacheCompression: 'gzip' }

  const run = { iidFile: '/t/iid', metadataFile: '/t/meta.json', output: 'image' as const }

  it('ignores the engine cache too, and still exports', () => {
    const args = buildxArgs(inputs, { from: [], to: { type: 'local', dir: '/c/new' }, noCache: true }, run)
    expect(args).toContain('--no-cache')
    expect(args).not.toContain('--cache-from')
    expect(args).toContain('type=local,dest=/c/new,mode=max,ignore-error=true,compression=gzip,force-compression=true')
  })

  it('keeps the engine cache otherwise', () => {
    expect(buildxArgs(inputs, { from: [{ type: 'local', dir: '/c/old' }] }, run)).not.toContain('--no-cache')
  })
})

describe('buildxArgs with a registry', () => {
  const inputs: Inputs = { ...ciInputs, cacheCompression: 'gzip' }

  const files = { iidFile: '/t/iid', metadataFile: '/t/meta.json', output: 'image' as const }

  const to = { type: 'registry' as const, ref: 'ghcr.io/acme/c:ci.master.abc.0123' }

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

describe('secrets on the buildx command line', () => {
  it('pass by variable name only: values never reach the argument list', () => {
    const withSecrets = { ...inputs, secrets: [{ id: 'token', value: 's3cr3t' }] }
    const args = buildxArgs(withSecrets, { from: [] }, { ...files, builder: 'b' })
    expect(args).toContain('id=token,env=BUILDX_CI_CACHE_SECRET_0')
    expect(args.join(' ')).not.toContain('s3cr3t')
    expect(args.slice(3, 7)).toEqual(['--file', '/ws/Dockerfile', '--builder', 'b'])
    expect(secretEnv(withSecrets.secrets)).toEqual({ BUILDX_CI_CACHE_SECRET_0: 's3cr3t' })
  })

  const base = parse({ image: 'ci' })

  it('name values by variable, and variables and files as given', () => {
    const inputs: Inputs = {
      ...base,
      secrets: [{ id: 'key', value: PEM }],
      secretEnvs: [{ id: 'npm', env: 'NPM_TOKEN' }],
      secretFiles: [{ id: 'deploy', path: '/home/runner/keys, "old"/deploy.pem' }]
    }
    const args = buildxArgs(inputs, { from: [] }, { iidFile: '/t/iid', metadataFile: '/t/m.json', output: 'image' })
    const secrets = args.flatMap((arg, i) => (args[i - 1] === '--secret' ? [arg] : []))
    expect(secrets).toEqual([
      'id=key,env=BUILDX_CI_CACHE_SECRET_0',
      'id=npm,env=NPM_TOKEN',
      'id=deploy,"src=/home/runner/keys, ""old""/deploy.pem"'
    ])
    expect(args.join(' ')).not.toContain('OPENSSH')
    expect(secretEnv(inputs.secrets)).toEqual({ BUILDX_CI_CACHE_SECRET_0: PEM })
  })
})

describe('a cache-root with a comma', () => {
  it('keeps a cache-root with a comma one directory on the command line', () => {
    const inputs = parse({ image: 'ci', 'cache-backend': 'local', 'cache-root': '/mnt/cache,2024' })
    expect(inputs.cacheRoot).toBe('/mnt/cache,2024')
    const args = buildxArgs(
      inputs,
      {
        from: [{ type: 'local', dir: '/mnt/cache,2024/k' }],
        to: { type: 'local', dir: '/mnt/cache,2024/.incoming/j' }
      },
      { iidFile: '/t/iid', metadataFile: '/t/m.json', output: 'image' }
    )
    expect(args).toContain('type=local,"src=/mnt/cache,2024/k"')
    expect(args).toContain(
      'type=local,"dest=/mnt/cache,2024/.incoming/j",mode=max,ignore-error=true,compression=zstd,force-compression=true'
    )
  })

  it('labels the image with the key it was built for, and an export-only build not at all', () => {
    const origin = { key: 'buildx/ci/master/abc', builder: 'default' }
    const image = buildxArgs(inputs, { from: [] }, { ...files, origin })
    expect(image.slice(image.indexOf('--label'), image.indexOf('--label') + 6)).toEqual([
      '--label',
      'io.github.buildx-ci-cache.key=buildx/ci/master/abc',
      '--label',
      expect.stringMatching(/^io\.github\.buildx-ci-cache\.hash-version=v\d+$/),
      '--label',
      'io.github.buildx-ci-cache.builder=default'
    ])
    expect(buildxArgs(inputs, { from: [] }, { ...files, output: 'cache', origin })).not.toContain('--label')
    expect(buildxArgs(inputs, { from: [] }, files)).not.toContain('--label')
  })
})
