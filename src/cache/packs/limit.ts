/**
 * Runs `work` on every item, at most `width` at once, and waits for all; the
 * first failure rejects once every started item has settled, so no transfer
 * is left running behind the caller's back.
 */
export async function eachLimited<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<void>
): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T
      try {
        await work(item)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane))
  if (failure !== undefined) throw failure.error
}

/**
 * A gate that lets at most `width` calls run at once, in the order they come;
 * the others wait for a slot, which a finished call hands straight on.
 */
export function limiter(width: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0
  const waiting: Array<() => void> = []
  return async work => {
    if (running < width) running++
    else await new Promise<void>(resolve => waiting.push(resolve))
    try {
      return await work()
    } finally {
      const next = waiting.shift()
      if (next) next()
      else running--
    }
  }
}
