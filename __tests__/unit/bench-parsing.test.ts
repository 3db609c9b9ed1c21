// The benchmarks' own parsing: a wrong reading here would put a wrong figure
// in docs/benchmarks.md without any run failing.
import { describe, expect, it } from '@jest/globals'
import { parsePackageList } from '../../bench/debian-content.js'
import { cacheExportSeconds, contextSeconds } from '../../bench/timing.js'
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
