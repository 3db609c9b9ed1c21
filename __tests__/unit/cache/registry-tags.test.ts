import { describe, expect, it } from '@jest/globals'
import { branchTag, contentTag, isValidTag, MAX_TAG } from '../../../src/cache/registry-tags.js'
import { keyComponent, keyPlan } from '../../../src/key/key.js'

const HASH = 'a'.repeat(64)
const plan = (image: string, branch: string, prefix = 'buildx') =>
  keyPlan({ prefix, image, branch, defaultBranch: 'master', hash: HASH })
/** The restore key of the plan's own branch: `<prefix>/<image>/<branch>/`. */
const scopeOf = (p: ReturnType<typeof plan>): string =>
  p.restoreKeys.find(r => !r.sameContent && r.source === 'branch')?.key ?? ''

describe('registry tags', () => {
  it('are readable: image, branch and the start of the hash, then a digest of the key', () => {
    const p = plan('dist-x86_64-linux', 'master')
    expect(contentTag(p.content)).toMatch(/^dist-x86_64-linux\.master\.aaaaaaaaaaaa\.[0-9a-f]{32}$/)
    expect(branchTag(scopeOf(p))).toMatch(/^dist-x86_64-linux\.master\.newest\.[0-9a-f]{32}$/)
  })

  it('keep image a-b on branch c apart from image a on branch b-c', () => {
    const one = plan('a-b', 'c')
    const two = plan('a', 'b-c')
    expect(contentTag(one.content)).not.toBe(contentTag(two.content))
    expect(branchTag(scopeOf(one))).not.toBe(branchTag(scopeOf(two)))
  })

  it('are apart whenever the keys are, even where the readable parts agree', () => {
    const names = ['feature/x', 'feature_x', 'feature%2Fx', 'feature.x', 'feature-x', '.hidden', '%2Ehidden', '', '~']
    const contents = names.map(n => contentTag(plan('ci', n).content))
    const branches = names.map(n => branchTag(scopeOf(plan('ci', n))))
    expect(new Set(contents).size).toBe(names.length)
    expect(new Set(branches).size).toBe(names.length)
    // A content tag never equals a branch tag.
    expect(contents.filter(t => branches.includes(t))).toEqual([])
    expect(contentTag(plan('ci', 'master', 'v2').content)).not.toBe(contentTag(plan('ci', 'master').content))
  })

  it('follow the registry rules for any names: at most 128 characters of [A-Za-z0-9_.-], never starting with . or -', () => {
    const awkward = [
      '-leading',
      '.dot',
      'UPPER/case',
      'ünïcödé/ブランチ',
      'x'.repeat(300),
      'a:b@c d\te',
      '..',
      '%',
      '-'.repeat(150)
    ]
    for (const image of awkward) {
      for (const branch of awkward) {
        const p = plan(image, branch)
        for (const tag of [
          contentTag(p.content),
          ...p.restoreKeys.map(r => (r.sameContent ? contentTag(r.key.slice(0, -1)) : branchTag(r.key)))
        ]) {
          expect(tag.length).toBeLessThanOrEqual(MAX_TAG)
          expect(isValidTag(tag)).toBe(true)
        }
      }
    }
  })

  it('name each content key and each branch scope by one tag, the same on every runner', () => {
    const key = `buildx/${keyComponent('ci')}/master/${HASH}`
    expect(contentTag(key)).toBe(contentTag(plan('ci', 'master').content))
    expect(branchTag('buildx/ci/master/')).toBe(branchTag(scopeOf(plan('ci', 'master'))))
  })

  it('refuse what is not a key', () => {
    expect(() => contentTag('no-slashes')).toThrow(/not a cache key/)
  })
})
