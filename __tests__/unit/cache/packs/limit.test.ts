// How many transfers and checks run at once, and that a failure leaves
// nothing running behind the caller.
import { describe, expect, it } from '@jest/globals'
import { setTimeout as sleep } from 'node:timers/promises'
import { eachLimited, limiter } from '../../../../src/cache/packs/limit.js'

/** Work that records how many of its kind run at once. */
function tracked(): { work: (ms: number) => Promise<number>; peak: () => number; running: () => number } {
  let running = 0
  let peak = 0
  return {
    work: async ms => {
      running++
      peak = Math.max(peak, running)
      await sleep(ms)
      running--
      return ms
    },
    peak: () => peak,
    running: () => running
  }
}

describe('eachLimited', () => {
  it('runs at most `width` items at once and every item once', async () => {
    const t = tracked()
    const done: number[] = []
    await eachLimited([5, 1, 3, 2, 4, 1], 2, async ms => {
      done.push(await t.work(ms))
    })
    expect(t.peak()).toBe(2)
    expect(done.sort()).toEqual([1, 1, 2, 3, 4, 5])
  })

  it('rejects with the first failure only once the started items have settled, and starts no more', async () => {
    const t = tracked()
    const started: number[] = []
    const run = eachLimited([1, 20, 1, 1, 1], 2, async ms => {
      started.push(ms)
      if (ms === 1 && started.length === 1) throw new Error('first')
      await t.work(ms)
    })
    await expect(run).rejects.toThrow('first')
    expect(t.running()).toBe(0)
    expect(started).toEqual([1, 20])
  })
})

describe('limiter', () => {
  it('lets `width` calls run at once, hands a freed slot to the next in line, and returns what each gave', async () => {
    const t = tracked()
    const gate = limiter(2)
    const results = await Promise.all([30, 10, 10, 10, 10].map(ms => gate(() => t.work(ms))))
    expect(t.peak()).toBe(2)
    expect(results).toEqual([30, 10, 10, 10, 10])
  })

  it('frees the slot of a call that fails', async () => {
    const gate = limiter(1)
    await expect(gate(() => Promise.reject(new Error('no')))).rejects.toThrow('no')
    await expect(gate(async () => 'next')).resolves.toBe('next')
  })
})
