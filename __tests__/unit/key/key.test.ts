import { describe, expect, it } from '@jest/globals'
import {
  branchScope,
  cacheSourceOf,
  generationKey,
  isPartialKey,
  keyComponent,
  keyPlan,
  partialKey,
  sameContent,
  type KeyParts
} from '../../../src/key/key.js'

const HASH = 'a'.repeat(64)
const parts = (over: Partial<KeyParts> = {}): KeyParts => ({
  prefix: 'buildx',
  image: 'dist-x86_64-linux',
  branch: 'master',
  defaultBranch: 'master',
  hash: HASH,
  ...over
})

describe('keyComponent', () => {
  it('keeps plain names readable', () => {
    expect(keyComponent('dist-x86_64-linux')).toBe('dist-x86_64-linux')
    expect(keyComponent('v1.2')).toBe('v1.2')
  })

  it('escapes the separator, commas, spaces, shell syntax and non-ASCII', () => {
    expect(keyComponent('feature/x')).toBe('feature%2Fx')
    expect(keyComponent('a,b')).toBe('a%2Cb')
    expect(keyComponent('$(rm -rf /)`x`')).toBe('%24%28rm%20-rf%20%2F%29%60x%60')
    expect(keyComponent('ümlaut')).toBe('%C3%BCmlaut')
    expect(keyComponent('100%')).toBe('100%25')
  })

  it('never yields a path segment that walks the tree', () => {
    expect(keyComponent('.')).toBe('%2E')
    expect(keyComponent('..')).toBe('%2E.')
    expect(keyComponent('')).toBe('~')
  })

  it('shortens long values to 100 characters and keeps them apart', () => {
    const a = keyComponent('x'.repeat(1000))
    const b = keyComponent(`${'x'.repeat(999)}y`)
    expect(a).toHaveLength(100)
    expect(b).toHaveLength(100)
    expect(a).not.toBe(b)
    expect(a).toMatch(/^x+~[0-9a-f]{20}$/)
  })

  it('does not cut an escape in half when shortening', () => {
    const c = keyComponent('é'.repeat(200))
    expect(c).toMatch(/^(%C3%A9)+(%C3)?~[0-9a-f]{20}$/)
    expect(c.split('~')[0]).toMatch(/^(%[0-9A-F]{2})+$/)
  })
})

describe('keyPlan', () => {
  it('puts prefix, image, branch and hash in the primary key', () => {
    expect(keyPlan(parts()).content).toBe(`buildx/dist-x86_64-linux/master/${HASH}`)
  })

  it("asks for this content on the base and default branches, then each branch's newest entry", () => {
    const plan = keyPlan(parts({ branch: 'feature/x', baseBranch: 'release', defaultBranch: 'master' }))
    expect(plan.restoreKeys).toEqual([
      { key: `buildx/dist-x86_64-linux/release/${HASH}/`, source: 'base-branch', sameContent: true },
      { key: `buildx/dist-x86_64-linux/master/${HASH}/`, source: 'default-branch', sameContent: true },
      { key: 'buildx/dist-x86_64-linux/feature%2Fx/', source: 'branch', sameContent: false },
      { key: 'buildx/dist-x86_64-linux/release/', source: 'base-branch', sameContent: false },
      { key: 'buildx/dist-x86_64-linux/master/', source: 'default-branch', sameContent: false }
    ])
    expect(plan.restoreKeys.length + 1).toBeLessThanOrEqual(10)
  })

  it('lists a branch once when roles coincide', () => {
    expect(keyPlan(parts()).restoreKeys).toEqual([
      { key: 'buildx/dist-x86_64-linux/master/', source: 'branch', sameContent: false }
    ])
    expect(keyPlan(parts({ branch: 'f', baseBranch: 'master' })).restoreKeys.map(r => r.source)).toEqual([
      'base-branch',
      'branch',
      'base-branch'
    ])
  })

  it('keeps image a-b on branch c apart from image a on branch b-c, whatever the separators', () => {
    const pairs: Array<[string, string, string, string]> = [
      ['a-b', 'c', 'a', 'b-c'],
      ['a/b', 'c', 'a', 'b/c'],
      ['a', 'b/c', 'a/b', 'c'],
      ['a', '', 'a/', ''],
      ['a%2Fb', 'c', 'a/b', 'c']
    ]
    for (const [image1, branch1, image2, branch2] of pairs) {
      const one = keyPlan(parts({ image: image1, branch: branch1, defaultBranch: branch1 }))
      const two = keyPlan(parts({ image: image2, branch: branch2, defaultBranch: branch2 }))
      expect(one.content).not.toBe(two.content)
      // The service matches restore keys as prefixes: none may reach the other image.
      for (const r of one.restoreKeys) expect(two.content.startsWith(r.key)).toBe(false)
      for (const r of two.restoreKeys) expect(one.content.startsWith(r.key)).toBe(false)
    }
  })

  it('never lets one image prefix-match another whose name extends it', () => {
    const short = keyPlan(parts({ image: 'ci' }))
    const long = keyPlan(parts({ image: 'ci-image' }))
    for (const r of short.restoreKeys) expect(long.content.startsWith(r.key)).toBe(false)
  })

  it('stays under the service limit of 512 characters with no comma, whatever the inputs', () => {
    const plan = keyPlan(
      parts({
        prefix: 'p,'.repeat(300),
        image: 'i\n'.repeat(500),
        branch: 'b,'.repeat(1000),
        baseBranch: 'é'.repeat(900)
      })
    )
    for (const key of [plan.content, generationKey(plan.content), ...plan.restoreKeys.map(r => r.key)]) {
      expect(key.length).toBeLessThanOrEqual(512)
      expect(key).not.toMatch(/[,\s]/)
    }
  })
})

describe('cacheSourceOf', () => {
  const plan = keyPlan(parts({ branch: 'feature', baseBranch: 'release' }))

  it('names where a matched key came from', () => {
    expect(cacheSourceOf(plan, undefined)).toBe('none')
    expect(cacheSourceOf(plan, plan.content)).toBe('exact')
    expect(cacheSourceOf(plan, generationKey(plan.content, 1))).toBe('exact')
    expect(cacheSourceOf(plan, `buildx/dist-x86_64-linux/feature/${'b'.repeat(64)}`)).toBe('branch')
    expect(cacheSourceOf(plan, `buildx/dist-x86_64-linux/release/${'b'.repeat(64)}`)).toBe('base-branch')
    expect(cacheSourceOf(plan, `buildx/dist-x86_64-linux/master/${'b'.repeat(64)}`)).toBe('default-branch')
  })
})

describe('generations', () => {
  const plan = keyPlan(parts())

  it('looks up every generation of the content key, and only those', () => {
    const entry = generationKey(plan.content, Date.UTC(2026, 10, 28))
    expect(entry.startsWith(plan.lookup)).toBe(true)
    expect(keyPlan(parts({ hash: 'b'.repeat(64) })).lookup.startsWith(plan.content)).toBe(false)
    expect(`${plan.content}0`.startsWith(plan.lookup)).toBe(false)
  })

  it('names later generations after earlier ones', () => {
    const times = [1, 35, 36, 1_700_000_000_000, 1_800_000_000_000]
    const keys = times.map(t => generationKey(plan.content, t))
    expect([...keys].sort()).toEqual(keys)
  })

  it('tells entries of the same content from others, on any branch and in any generation', () => {
    expect(sameContent(plan, generationKey(plan.content))).toBe(true)
    expect(sameContent(plan, `buildx/dist-x86_64-linux/release/${HASH}/0abc`)).toBe(true)
    expect(sameContent(plan, `buildx/dist-x86_64-linux/master/${'b'.repeat(64)}/0abc`)).toBe(false)
    expect(sameContent(plan, undefined)).toBe(false)
  })
})

describe('branchScope', () => {
  it("is the restore key of the key's own image and branch, escapes and all", () => {
    const plan = keyPlan(parts({ image: 'a/b', branch: 'feature/x', defaultBranch: 'master' }))
    expect(branchScope(plan.content)).toBe(plan.restoreKeys.find(r => r.source === 'branch')?.key)
    expect(branchScope(plan.content)).toBe('buildx/a%2Fb/feature%2Fx/')
    expect(branchScope(generationKey(plan.content))).toBe('buildx/a%2Fb/feature%2Fx/')
  })
})

describe('partial entries', () => {
  const plan = keyPlan(parts({ branch: 'feature', baseBranch: 'release' }))
  const partial = generationKey(partialKey(plan.content), Date.UTC(2026, 11, 3))

  it('are told from whole ones by their key alone, in any generation', () => {
    expect(isPartialKey(partialKey(plan.content))).toBe(true)
    expect(isPartialKey(partial)).toBe(true)
    expect(isPartialKey(plan.content)).toBe(false)
    expect(isPartialKey(generationKey(plan.content))).toBe(false)
    expect(isPartialKey(`${branchScope(plan.content)}packs/${'1'.repeat(64)}`)).toBe(false)
    // An image or branch named like the suffix is escaped, and is not the hash component anyway.
    expect(isPartialKey(keyPlan(parts({ image: 'x.partial', branch: '.partial' })).content)).toBe(false)
  })

  it('never match the exact lookup nor a same-content restore key, only a branch fallback', () => {
    expect(partial.startsWith(plan.lookup)).toBe(false)
    const matching = plan.restoreKeys.filter(r => partial.startsWith(r.key))
    expect(matching).toEqual([{ key: branchScope(plan.content), source: 'branch', sameContent: false }])
    expect(cacheSourceOf(plan, partial)).toBe('branch')
  })

  it('are never a cache hit, even of their own content', () => {
    expect(sameContent(plan, partial)).toBe(false)
    expect(sameContent(plan, partialKey(plan.content))).toBe(false)
  })

  it('keep their branch scope', () => {
    expect(branchScope(partial)).toBe(branchScope(plan.content))
  })
})
