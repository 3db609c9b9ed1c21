// What buildx prints while it builds (`--progress=plain`), read for what the
// step reports: how many steps the cache served, and why a build or its cache
// export failed.

export interface StepCounts {
  total: number
  cached: number
}

/**
 * Counts the Dockerfile's steps (`#5 [2/4] RUN ...`) and those reported
 * CACHED. A `FROM` step resolves a base image and is never reported CACHED,
 * warm or not: it is not a step the cache can serve, so it is not counted.
 * Nor is `#3 [auth] sharing credentials for ghcr.io`, which a build prints
 * after a `docker login` to a registry it reads, nor what loads a base image
 * from a named context (`#2 [context alpine] load metadata for ...`,
 * `#5 [context alpine] OCI load from client`, `#5 [context alpine] <ref>@<digest>`),
 * which a stage named `context` (`[context 1/3] RUN ...`) is not.
 */
export function stepCounts(progress: string): StepCounts {
  // Steps by name: an `ADD <url>` shows as two vertices of one name, the
  // fetch (which runs on every build, to check the source) and the copy,
  // CACHED when the content did not change.
  const nameOf = new Map<string, string>()
  const cachedIds = new Set<string>()
  for (const line of progress.split('\n')) {
    const step = /^#(\d+) (\[(?!internal\]|auth\]|context (?!\d+\/\d+\])\S+\] )[^\]]*\] (?!FROM ).*)$/.exec(line)
    if (step && !nameOf.has(step[1])) nameOf.set(step[1], step[2].trim())
    // A step a registry cache serves without its layer being local yet is
    // reported as the layer's download, not as CACHED; a step that runs
    // never downloads a layer.
    const hit = /^#(\d+) (?:CACHED\s*$|sha256:[a-f0-9]{64} )/.exec(line)
    if (hit) cachedIds.add(hit[1])
  }
  const names = new Set(nameOf.values())
  const cached = new Set([...cachedIds].flatMap(id => nameOf.get(id) ?? []))
  return { total: names.size, cached: cached.size }
}

/**
 * Why the cache export failed in a build that went on regardless
 * (ignore-error), as buildx 0.13 prints it under the export's own step:
 *   #11 exporting cache to registry
 *   #11 ERROR: error writing layer blob: ... 401 Unauthorized
 */
export function cacheExportError(progress: string): string | undefined {
  const exports = new Set<string>()
  let error: string | undefined
  for (const line of progress.split('\n')) {
    const step = /^#(\d+) exporting cache to /.exec(line)
    if (step) exports.add(step[1])
    const failed = /^#(\d+) ERROR: (.*)$/.exec(line)
    if (failed && exports.has(failed[1])) error = failed[2].trim()
  }
  return error
}
