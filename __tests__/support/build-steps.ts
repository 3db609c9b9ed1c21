// The Dockerfile steps that builds printed (`--progress=plain`), and which of
// them the cache served, read as a user reads the log.
//
// A served step is reported CACHED, unless BuildKit had to fetch its layers
// from a remote cache for the next step to run on: then the step shows as
// those downloads (`#12 sha256:<digest> 8.39MB / 8.39MB 0.4s done`), and
// whether a CACHED line comes first depends on when the progress was printed.
// A step that runs never downloads a layer. `FROM` steps resolve a base image
// and are not steps a cache serves.

export interface BuiltSteps {
  /** Every step, by its instruction (`RUN ...`), in the order first printed. */
  all: string[]
  /** Those the cache served. */
  cached: string[]
}

/** The steps of every build in `log`: vertex numbers start again at each `#0 building with`. */
export function builtSteps(log: string): BuiltSteps {
  const all = new Set<string>()
  const cached = new Set<string>()
  for (const build of log.split(/^#0 building with .*$/m)) {
    const names = new Map<string, string>()
    const served = new Set<string>()
    for (const line of build.split('\n')) {
      const step = /^#(\d+) \[(?!internal\])[^\]]*\] (?!FROM )(.*)$/.exec(line)
      if (step && !names.has(step[1])) names.set(step[1], step[2].trim())
      const hit = /^#(\d+) (?:CACHED\s*$|sha256:[a-f0-9]{64} )/.exec(line)
      if (hit) served.add(hit[1])
    }
    for (const name of names.values()) all.add(name)
    for (const id of served) {
      const name = names.get(id)
      if (name !== undefined) cached.add(name)
    }
  }
  return { all: [...all], cached: [...cached] }
}

/** The steps that ran rather than came from the cache. */
export function rebuiltSteps(log: string): string[] {
  const { all, cached } = builtSteps(log)
  return all.filter(name => !cached.includes(name))
}
