// What a save uploads, given what the restored entry's packs hold.
import { describe, expect, it } from '@jest/globals'
import type { PackManifest } from '../../../../src/cache/packs/manifest.js'
import { MAX_DEAD_SHARE, packKey, planSave } from '../../../../src/cache/packs/plan.js'

const SCOPE = 'buildx/img/master/'
const blob = (c: string, size: number) => ({ digest: `sha256:${c.repeat(64)}`, size })
const base = blob('a', 1000)
const tools = blob('b', 8000)
const config = blob('c', 10)
const index = blob('d', 5)

describe('planSave', () => {
  it('uploads every blob in one pack, in layout order, when nothing is held', () => {
    const plan = planSave([index, base, tools, config], undefined, SCOPE)
    expect(plan.upload?.blobs).toEqual([index, base, tools, config])
    expect(plan.upload?.sizeBytes).toBe(9015)
    expect(plan.upload?.key.startsWith(`${SCOPE}packs/`)).toBe(true)
    expect(plan.reusedBytes).toBe(0)
    expect(plan.manifest.packs).toEqual([{ key: plan.upload?.key, sizeBytes: 9015 }])
    expect(plan.manifest.blobs.map(b => b.offset)).toEqual([0, 5, 1005, 9005])
  })

  it('uploads only the blobs no held pack has, and names the others where they are', () => {
    const held = planSave([index, base, tools, config], undefined, SCOPE).manifest
    const newConfig = blob('e', 12)
    const newIndex = blob('f', 6)
    const plan = planSave([newIndex, base, tools, newConfig], held, SCOPE)
    expect(plan.upload?.blobs).toEqual([newIndex, newConfig])
    expect(plan.reusedBytes).toBe(9000)
    const oldPack = held.packs[0]?.key
    expect(plan.manifest.packs.map(p => p.key)).toEqual([oldPack, plan.upload?.key])
    const where = Object.fromEntries(plan.manifest.blobs.map(b => [b.digest, [b.pack, b.offset]]))
    expect(where[base.digest]).toEqual([0, 5])
    expect(where[tools.digest]).toEqual([0, 1005])
    expect(where[newIndex.digest]).toEqual([1, 0])
    expect(where[newConfig.digest]).toEqual([1, 6])
  })

  it('uploads nothing when every blob is held, and names no pack it does not need', () => {
    const first = planSave([index, base], undefined, SCOPE).manifest
    const second = planSave([index, base, tools], first, SCOPE).manifest
    const plan = planSave([index, base], second, SCOPE)
    expect(plan.upload).toBeUndefined()
    expect(plan.manifest.packs).toEqual([first.packs[0]])
  })

  it(`writes again the live blobs of a pack that is more than ${MAX_DEAD_SHARE * 100}% dead`, () => {
    const held = planSave([index, base, tools], undefined, SCOPE).manifest
    // The 8000-byte layer is gone: the pack is 89% dead.
    const plan = planSave([index, base, blob('g', 20)], held, SCOPE)
    expect(plan.rewritten).toEqual([held.packs[0]?.key])
    expect(plan.upload?.blobs.map(b => b.digest)).toEqual([index.digest, base.digest, blob('g', 20).digest])
    expect(plan.manifest.packs).toHaveLength(1)
  })

  it('keeps a pack whose dead share stays within the bound', () => {
    const held = planSave([index, base, tools, config], undefined, SCOPE).manifest
    const plan = planSave([index, base, tools], held, SCOPE)
    expect(plan.rewritten).toEqual([])
    expect(plan.upload).toBeUndefined()
  })

  it('does not trust a held blob of another size', () => {
    const held = planSave([base], undefined, SCOPE).manifest
    const plan = planSave([{ ...base, size: 999 }], held, SCOPE)
    expect(plan.upload?.blobs).toEqual([{ ...base, size: 999 }])
  })

  it('names a pack by what it holds, so two runs with the same blobs name the same pack', () => {
    expect(packKey(SCOPE, [base, tools])).toBe(packKey(SCOPE, [base, tools]))
    expect(packKey(SCOPE, [base, tools])).not.toBe(packKey(SCOPE, [tools, base]))
    expect(packKey(SCOPE, [base])).not.toBe(packKey('buildx/img/feature/', [base]))
  })
})

// Ten saves of an image whose last layer changes each time: what the
// manifests name stays within a tenth of one save's distinct blobs.
describe('growth over saves', () => {
  it('names at most 1.1 times the bytes of the newest layout after ten saves', () => {
    let held: PackManifest | undefined
    let stored = new Map<string, number>()
    let newest = 0
    for (let save = 0; save < 10; save++) {
      const late = blob(String.fromCharCode(0x68 + save), 300)
      const layout = [blob(String(save % 10), 5), base, tools, late]
      const plan = planSave(layout, held, SCOPE)
      held = plan.manifest
      // What the clean-up keeps: the packs the newest entry names.
      stored = new Map(plan.manifest.packs.map(p => [p.key, p.sizeBytes]))
      newest = layout.reduce((sum, b) => sum + b.size, 0)
    }
    const total = [...stored.values()].reduce((a, b) => a + b, 0)
    expect(total).toBeLessThanOrEqual(1.1 * newest)
  })
})
