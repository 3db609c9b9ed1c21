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
