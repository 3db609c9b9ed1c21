// The benchmarks' own parsing: a wrong reading here would put a wrong figure
// in docs/benchmarks.md without any run failing.
import { describe, expect, it } from '@jest/globals'
import { parsePackageList } from '../../bench/debian-content.js'
import { benchEngine } from '../../bench/engine.js'
import { isGhaEntry } from '../../bench/gha.js'
import { bootstrapSeconds, cacheExportSeconds, contextSeconds, imageExportSeconds } from '../../bench/timing.js'
import { inTurn } from '../../bench/turns.js'

describe('parsePackageList', () => {
  it('reads groups by context folder, skipping comments and blank lines', () => {
    const text = '# comment\n\nrootfs/base: libc6 zlib1g  # trailing\ndebs/gcc:  gcc-12\tg++-12\n'
    expect(parsePackageList(text)).toEqual([
      { folder: 'rootfs/base', packages: ['libc6', 'zlib1g'] },
      { folder: 'debs/gcc', packages: ['gcc-12', 'g++-12'] }
    ])
  })

  it('refuses a folder outside rootfs/ and debs/, or a group without packages', () => {
    expect(() => parsePackageList('opt/x: libc6')).toThrow(/not "rootfs\/<name>: packages/)
    expect(() => parsePackageList('rootfs/base:')).toThrow(/names no package/)
  })
})

describe('buildx progress', () => {
  const progress = [
    '#3 [internal] load build context',
    '#3 transferring context: 220.1MB 3.9s done',
    '#3 DONE 4.2s',
    '#15 exporting cache to client directory',
    '#15 preparing build cache for export 1.0s done',
    '#15 DONE 1.3s'
  ].join('\n')

  it('finds the seconds of reading the context and of exporting the cache', () => {
    expect(contextSeconds(progress)).toBe(4.2)
    expect(cacheExportSeconds(progress)).toBe(1.3)
  })

  it('times a registry cache export, the push the registry backend makes during the build', () => {
    const push = [
      '#8 exporting cache to registry',
      '#8 preparing build cache for export',
      '#8 writing layer sha256:0123 2.1s done',
      '#8 DONE 2.4s'
    ].join('\n')
    expect(cacheExportSeconds(push)).toBe(2.4)
  })

  it("times BuildKit's own type=gha export", () => {
    const gha = [
      '#12 exporting to GitHub Actions Cache',
      '#12 preparing build cache for export',
      '#12 writing layer sha256:0f4f94f055e5',
      '#12 writing layer sha256:0f4f94f055e5 0.4s done',
      '#12 DONE 1.1s'
    ].join('\n')
    expect(cacheExportSeconds(gha)).toBe(1.1)
  })

  it('times handing the image to the engine, on the docker driver and as the tarball of a docker-container builder', () => {
    const docker = [
      '#11 exporting to image',
      '#11 exporting layers 0.8s done',
      '#11 unpacking to docker.io/library/ci-image:latest 0.4s done',
      '#11 DONE 1.4s'
    ].join('\n')
    const tarball = [
      '#10 exporting to docker image format',
      '#10 exporting layers 0.5s done',
      '#10 sending tarball',
      '#10 sending tarball 0.6s done',
      '#10 DONE 1.1s',
      '',
      '#11 importing to docker',
      '#11 loading layer 692f392947fa 1.12MB / 1.12MB 0.4s done',
      '#11 DONE 0.4s'
    ].join('\n')
    expect(imageExportSeconds(docker)).toBe(1.4)
    expect(imageExportSeconds(tarball)).toBeCloseTo(1.5)
  })

  it("times the docker-container builder's start", () => {
    const create = [
      '#1 [internal] booting buildkit',
      '#1 pulling image moby/buildkit:buildx-stable-1 0.0s done',
      '#1 pulling failed, using local image moby/buildkit:buildx-stable-1 done',
      '#1 creating container buildx_buildkit_buildx-ci-cache0',
      '#1 creating container buildx_buildkit_buildx-ci-cache0 1.5s done',
      '#1 DONE 2.7s',
      'buildx-ci-cache'
    ].join('\n')
    expect(bootstrapSeconds(create)).toBe(2.7)
    expect(bootstrapSeconds('#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s')).toBe(0)
  })

  it('gives 0 for a vertex the build never started', () => {
    expect(cacheExportSeconds('#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s')).toBe(0)
  })
})

describe('inTurn', () => {
  it('starts at the shifted job and returns the results in the order given', async () => {
    const order: string[] = []
    const job = (name: string) => async (): Promise<string> => {
      order.push(name)
      return name
    }
    expect(await inTurn<[string, string, string]>(1, [job('a'), job('b'), job('c')])).toEqual(['a', 'b', 'c'])
    expect(order).toEqual(['b', 'c', 'a'])
  })
})

describe('type=gha entries', () => {
  it("are the layers of any scope and the index of the image's own", () => {
    expect(isGhaEntry('buildkit-blob-1-sha256:0123', 'ci-toolchain')).toBe(true)
    expect(isGhaEntry('index-ci-toolchain-1-49c8f7d5#2', 'ci-toolchain')).toBe(true)
    expect(isGhaEntry('index-other-1-49c8f7d5#1', 'ci-toolchain')).toBe(false)
    expect(isGhaEntry('bench/ci-toolchain/master/abc/0001', 'ci-toolchain')).toBe(false)
  })
})

describe('benchEngine', () => {
  const env = {
    DOCKER_HOST: 'unix:///opt/engine-bench/run/docker.sock',
    CLASSIC_DOCKER_HOST: 'unix:///opt/engine-bench/run/docker-classic.sock',
    BUSYBOX: '/opt/engine-bench/bin/busybox',
    ENGINE_REGISTRY: '127.0.0.1:5000',
    ENGINE_ROOT: '/opt/engine-bench',
    ENGINE_NETNS: 'engine-bench'
  }

  it('says how to start the benchmarks when the engine is not described', () => {
    const { CLASSIC_DOCKER_HOST: _, ...partial } = env
    expect(() => benchEngine(partial)).toThrow(/npm run bench.*CLASSIC_DOCKER_HOST/)
  })

  it("refuses the tests' engines, which every benchmark job would prune", () => {
    expect(() => benchEngine({ ...env, ENGINE_ROOT: '/opt/engine-forky' })).toThrow(/the tests use/)
    expect(() => benchEngine({ ...env, ENGINE_ROOT: '/opt/engine-trixie/' })).toThrow(/the tests use/)
  })
})
