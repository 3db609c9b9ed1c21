// The sides of a comparison run one after another; which one goes first
// changes from run to run, so that no side always runs right after a cold
// build's write-back, or always on a warmer page cache.

/** Runs the jobs one after another, the first one `shift` places in; returns their results in the order given. */
export async function inTurn<T extends unknown[]>(
  shift: number,
  jobs: { [K in keyof T]: () => Promise<T[K]> }
): Promise<T> {
  const results = new Array<unknown>(jobs.length)
  for (let i = 0; i < jobs.length; i++) {
    const j = (i + shift) % jobs.length
    results[j] = await jobs[j]()
  }
  return results as T
}
