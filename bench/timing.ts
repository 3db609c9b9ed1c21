// Clocks, medians, and the timing lines the action and buildx print.

/** Seconds since the call, read when the returned function is called. */
export function stopwatch(): () => number {
  const started = process.hrtime.bigint()
  return () => Number(process.hrtime.bigint() - started) / 1e9
}

export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const elapsed = stopwatch()
  const value = await work()
  return { value, seconds: elapsed() }
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * Seconds buildx spent writing the cache, from its plain progress:
 * `#16 exporting cache to client directory` (or `to registry`, a push, or
 * BuildKit's own type=gha: `exporting to GitHub Actions Cache`) ... `#16 DONE 5.5s`.
 * 0 when the build exported no cache.
 */
export function cacheExportSeconds(progress: string): number {
  return (
    vertexSeconds(progress, 'exporting cache to client directory') +
    vertexSeconds(progress, 'exporting cache to registry') +
    vertexSeconds(progress, 'exporting to GitHub Actions Cache')
  )
}

/**
 * Seconds of handing the image to the engine: `exporting to image` on the
 * docker driver (layers, manifest, unpacking into the containerd store); on a
 * docker-container builder (`--load`), `exporting to docker image format`
 * (the image made into a tarball and sent) and then `importing to docker`
 * (the engine loading it). 0 without any.
 */
export function imageExportSeconds(progress: string): number {
  return (
    vertexSeconds(progress, 'exporting to image') +
    vertexSeconds(progress, 'exporting to docker image format') +
    vertexSeconds(progress, 'importing to docker')
  )
}

/** Seconds buildx took to start a docker-container builder (`[internal] booting buildkit`); 0 when it started none. */
export function bootstrapSeconds(progress: string): number {
  return vertexSeconds(progress, '[internal] booting buildkit')
}

/** Seconds buildx spent reading the build context (`[internal] load build context`); 0 when it read none. */
export function contextSeconds(progress: string): number {
  return vertexSeconds(progress, '[internal] load build context')
}

function vertexSeconds(progress: string, title: string): number {
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const vertex = new RegExp(`^#(\\d+) ${escaped}\\s*$`, 'm').exec(progress)?.[1]
  if (vertex === undefined) return 0
  const done = new RegExp(`^#${vertex} DONE ([\\d.]+)s\\s*$`, 'm').exec(progress)
  if (!done) throw new Error(`buildx started "${title}" (#${vertex}) but never reported it done.`)
  return Number(done[1])
}

/** The build's seconds and step counts from the job summary's Build cell ("12.3 s, 11/11 steps cached"). */
export function buildFromSummary(summary: string): { seconds: number; cached: number; steps: number } {
  const m = /([\d.]+) s, (\d+)\/(\d+) steps cached/.exec(summary)
  if (!m) throw new Error(`The job summary has no build figures: ${summary.slice(0, 300)}`)
  return { seconds: Number(m[1]), cached: Number(m[2]), steps: Number(m[3]) }
}

/** Seconds of the save from the post step's "Cache saved with key: K (X MB in Y s[; Z uploaded])"; 0 when nothing was saved. */
export function saveSeconds(postLog: string): number {
  const m = /Cache saved with key: \S+ \([\d.]+ MB in ([\d.]+) s[;)]/.exec(postLog)
  return m ? Number(m[1]) : 0
}
