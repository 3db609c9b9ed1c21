import { afterAll, describe, expect, it } from '@jest/globals'

import * as fs from 'node:fs'

import * as os from 'node:os'

import * as path from 'node:path'

import { InputError, parseInputs } from '../../src/inputs.js'

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'inputs-'))

fs.mkdirSync(path.join(workspace, 'images', 'linux'), { recursive: true })

fs.writeFileSync(path.join(workspace, 'images', 'linux', 'Dockerfile'), 'FROM scratch\n')

fs.writeFileSync(path.join(workspace, 'Dockerfile'), 'FROM scratch\n')

afterAll(() => fs.rmSync(workspace, { recursive: true, force: true }))

const parse = (values: Record<string, string>) => parseInputs(name => values[name] ?? '', workspace)

const failure = (values: Record<string, string>): string => {
  try {
    parse(values)
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return (error as Error).message
  }
  throw new Error('expected an InputError')
}

describe('parseInputs', () => {
  it('fills the documented defaults', () => {
    expect(parse({ image: 'ci' })).toEqual({
      image: 'ci',
      context: workspace,
      file: path.join(workspace, 'Dockerfile'),
      hashFiles: [],
      keyPrefix: 'buildx',
      defaultBranch: '',
      saveBranches: [],
      tags: [],
      buildArgs: [],
      secrets: [],
      secretEnvs: [],
      secretFiles: [],
      target: '',
      platforms: [],
      load: true,
      push: false,
      pull: false,
      noCache: false,
      createBuilder: true,
      cacheBackend: 'gha',
      cacheRoot: '',
      cacheRef: '',
      cacheCompression: 'zstd',
      maxCacheSizeBytes: 0,
      deleteSuperseded: false,
      restoreTimeoutSeconds: undefined,
      saveTimeoutSeconds: undefined,
      stallTimeoutSeconds: 60,
      summary: true,
      saveOnFailure: true,
      cacheMounts: true,
      maxCacheMountSizeBytes: 2 * 1024 ** 3,
      baseImages: 'cache'
    })
  })

  it('takes base-images as cache or registry, and refuses anything else', () => {
    expect(parse({ image: 'ci', 'base-images': 'registry' }).baseImages).toBe('registry')
    expect(() => parse({ image: 'ci', 'base-images': 'pull' })).toThrow(
      'Input `base-images` must be one of cache, registry, not "pull".'
    )
  })

  it('resolves the Dockerfile inside the context by default', () => {
    expect(parse({ image: 'ci', context: 'images/linux' }).file).toBe(
      path.join(workspace, 'images', 'linux', 'Dockerfile')
    )
  })

  it('splits lists and build args, keeping = and commas inside values', () => {
    const inputs = parse({
      image: 'ci',
      tags: 'ghcr.io/o/ci:1, ghcr.io/o/ci:latest\nci:x',
      'build-args': 'A=1\nURL=https://x/?a=b,c\n\n',
      platforms: 'linux/amd64,linux/arm64',
      'hash-files': 'images/**\n# a comment\nscripts/*.sh'
    })
    expect(inputs.tags).toEqual(['ghcr.io/o/ci:1', 'ghcr.io/o/ci:latest', 'ci:x'])
    expect(inputs.buildArgs).toEqual([
      { name: 'A', value: '1' },
      { name: 'URL', value: 'https://x/?a=b,c' }
    ])
    expect(inputs.platforms).toEqual(['linux/amd64', 'linux/arm64'])
    expect(inputs.hashFiles).toEqual(['images/**', 'scripts/*.sh'])
  })

  it('asks for an image name', () => {
    expect(failure({})).toMatch(/`image` is required/)
  })

  it('asks for tags when the image name cannot be a tag', () => {
    expect(failure({ image: 'Dist Linux' })).toMatch(/set `tags`/)
    expect(parse({ image: 'Dist Linux', tags: 'dist-linux' }).image).toBe('Dist Linux')
  })

  it('refuses paths that leave the workspace', () => {
    expect(failure({ image: 'ci', file: '../../etc/passwd' })).toMatch(
      /`file` \(..\/..\/etc\/passwd\) resolves outside the workspace/
    )
    expect(failure({ image: 'ci', context: '..' })).toMatch(/`context` \(..\) resolves outside the workspace/)
  })

  it('says where the Dockerfile was looked for', () => {
    expect(failure({ image: 'ci', file: 'nope/Dockerfile' })).toBe(
      `No Dockerfile at ${path.join(workspace, 'nope', 'Dockerfile')}. Set \`file\` to the Dockerfile's path (relative to the workspace).`
    )
  })

  it('checks the backend, its root and the timeouts', () => {
    expect(failure({ image: 'ci', 'cache-backend': 's3' })).toBe(
      'Input `cache-backend` must be one of gha, local, registry, not "s3".'
    )
    expect(failure({ image: 'ci', 'cache-backend': 'local' })).toMatch(/needs `cache-root`/)
    expect(failure({ image: 'ci', 'cache-backend': 'local', 'cache-root': 'cache' })).toMatch(
      /must be an absolute path/
    )
    expect(parse({ image: 'ci', 'cache-backend': 'local', 'cache-root': '/cache/docker/../ci' }).cacheRoot).toBe(
      '/cache/ci'
    )
    expect(failure({ image: 'ci', 'restore-timeout': '-1' })).toMatch(/positive number of seconds/)
    expect(failure({ image: 'ci', load: 'yes' })).toBe('Input `load` must be true or false, not "yes".')
  })

  it('takes a registry repository as cache-ref with the registry backend, and says what to set without one', () => {
    const registry = { image: 'ci', 'cache-backend': 'registry' }
    expect(parse({ ...registry, 'cache-ref': 'ghcr.io/acme/ci-cache' })).toMatchObject({
      cacheBackend: 'registry',
      cacheRef: 'ghcr.io/acme/ci-cache',
      cacheRoot: ''
    })
    expect(parse({ ...registry, 'cache-ref': '127.0.0.1:5000/team/cache' }).cacheRef).toBe('127.0.0.1:5000/team/cache')
    expect(parse({ image: 'ci', 'cache-ref': 'ghcr.io/acme/ci-cache' }).cacheRef).toBe('')
    expect(failure(registry)).toMatch(
      /^`cache-backend: registry` needs `cache-ref`: .*e\.g\. `cache-ref: ghcr\.io\/acme\/ci-cache`/
    )
    expect(failure({ ...registry, 'cache-ref': 'ghcr.io/acme/ci-cache:latest' })).toMatch(
      /names a tag or digest; give the repository alone/
    )
    expect(failure({ ...registry, 'cache-ref': `localhost:5000/cache@sha256:${'a'.repeat(64)}` })).toMatch(
      /names a tag or digest/
    )
    expect(failure({ ...registry, 'cache-ref': 'ghcr.io/Acme/ci-cache' })).toMatch(
      /not a repository of the form <registry>\/<name>; use lowercase/
    )
    expect(failure({ ...registry, 'cache-ref': 'ci-cache' })).toMatch(/not a repository of the form/)
    expect(failure({ ...registry, 'cache-ref': 'ghcr.io/acme/c\nx' })).toMatch(/single line/)
  })

  it('refuses the inputs a registry cannot honour, saying what to do instead', () => {
    const registry = { image: 'ci', 'cache-backend': 'registry', 'cache-ref': 'ghcr.io/acme/ci-cache' }
    expect(failure({ ...registry, 'max-cache-size': '2GB' })).toMatch(
      /^`max-cache-size` does not apply to `cache-backend: registry`.*Remove it/
    )
    expect(failure({ ...registry, 'delete-superseded': 'true' })).toMatch(
      /^`delete-superseded` deletes Actions cache entries.*registry's retention/
    )
  })

  it('refuses malformed build args and multi-line single values', () => {
    expect(failure({ image: 'ci', 'build-args': 'NOEQUALS' })).toMatch(/NAME=value/)
    expect(failure({ image: 'ci', 'build-args': '$(id)=1' })).toMatch(/NAME=value/)
    expect(failure({ image: 'ci', target: 'a\nb' })).toBe('Input `target` must be a single line.')
  })
})

describe('max-cache-size', () => {
  it('reads sizes in powers of 1024 and refuses what it cannot read', () => {
    expect(parse({ image: 'ci', 'max-cache-size': '2GB' }).maxCacheSizeBytes).toBe(2 * 1024 ** 3)
    expect(parse({ image: 'ci', 'max-cache-size': '1.5 GiB' }).maxCacheSizeBytes).toBe(1.5 * 1024 ** 3)
    expect(parse({ image: 'ci', 'max-cache-size': '500m' }).maxCacheSizeBytes).toBe(500 * 1024 ** 2)
    expect(parse({ image: 'ci', 'max-cache-size': '1048576' }).maxCacheSizeBytes).toBe(1048576)
    expect(failure({ image: 'ci', 'max-cache-size': 'lots' })).toMatch(/must be a size such as 2GB/)
  })
})

describe('the pull and no-cache inputs', () => {
  it('are off unless set', () => {
    expect(parse({ image: 'ci' })).toMatchObject({ pull: false, noCache: false })
    expect(parse({ image: 'ci', pull: 'true', 'no-cache': 'TRUE' })).toMatchObject({ pull: true, noCache: true })
  })

  it('refuse anything but true or false, naming the input', () => {
    expect(() => parse({ image: 'ci', 'no-cache': 'yes' })).toThrow(InputError)
    expect(() => parse({ image: 'ci', 'no-cache': 'yes' })).toThrow(
      'Input `no-cache` must be true or false, not "yes".'
    )
    expect(() => parse({ image: 'ci', pull: '1' })).toThrow('Input `pull` must be true or false')
  })
})

describe('cache-root', () => {
  it('refuses a cache-root on two lines', () => {
    expect(failure({ image: 'ci', 'cache-backend': 'local', 'cache-root': '/mnt/a\n/mnt/b' })).toBe(
      'Input `cache-root` must be a single line.'
    )
  })
})
