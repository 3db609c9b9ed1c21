import { describe, expect, it } from '@jest/globals'
import { hardLimit, TimeoutError, untilAborted } from '../../src/time-limit.js'

describe('hardLimit', () => {
  it('is no signal without a limit, and aborts with the TimeoutError it was given', async () => {
    expect(hardLimit(undefined, 'x')).toBeUndefined()
    const signal = hardLimit(0.01, 'The cache restore did not finish within 0.01 s (restore-timeout)')
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBeInstanceOf(TimeoutError)
    expect(signal?.reason).toHaveProperty('message', 'The cache restore did not finish within 0.01 s (restore-timeout)')
  })
})

describe('untilAborted', () => {
  it('settles as the work does while the bound holds', async () => {
    expect(await untilAborted(Promise.resolve('done'), hardLimit(60, 'never'))).toBe('done')
    expect(await untilAborted(Promise.resolve('done'), undefined)).toBe('done')
  })

  it('rejects with the bound once it is reached, though the work ignores the signal', async () => {
    const never = new Promise<string>(() => undefined)
    await expect(untilAborted(never, hardLimit(0.01, 'The cache save did not finish within 0.01 s'))).rejects.toThrow(
      new TimeoutError('The cache save did not finish within 0.01 s')
    )
  })
})
