// What the runner tells a step through its environment, read once when the
// step starts and handed to what needs it: nothing else in the action reads
// the process environment, and nothing rewrites it. (The toolkit's own
// modules read theirs: @actions/core its inputs, state and output files,
// @actions/github the event, and the cache client process its service.)
export interface Runner {
  /** RUNNER_TEMP: emptied after the job; our files live in a folder of ours below it. */
  temp: string
  /** GITHUB_WORKSPACE: the checkout that relative inputs are resolved against. */
  workspace: string
  /** GITHUB_REPOSITORY (owner/name) and GITHUB_API_URL: where the REST API is asked. */
  repository?: string
  apiUrl?: string
  /** GITHUB_REF: the ref whose superseded entries the post step deletes. */
  ref?: string
  /** GITHUB_HEAD_REF and GITHUB_BASE_REF, set for pull request events. */
  headRef?: string
  baseRef?: string
  /** GITHUB_STEP_SUMMARY: the job summary's file. */
  stepSummary?: string
  /** The whole environment, as the step got it: what docker and the cache client start from, and where secret-envs' variables are looked up. */
  env: Record<string, string>
}

export function currentRunner(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Runner {
  if (!env.RUNNER_TEMP) throw new Error('RUNNER_TEMP is not set; the action must run in a GitHub Actions job.')
  return {
    temp: env.RUNNER_TEMP,
    workspace: env.GITHUB_WORKSPACE || cwd,
    repository: env.GITHUB_REPOSITORY,
    apiUrl: env.GITHUB_API_URL,
    ref: env.GITHUB_REF,
    headRef: env.GITHUB_HEAD_REF,
    baseRef: env.GITHUB_BASE_REF,
    stepSummary: env.GITHUB_STEP_SUMMARY,
    env: Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined))
  }
}
