// The runner's directories, read once when a step starts and handed to what
// needs them: nothing later reads or rewrites the process environment.
export interface Runner {
  /** RUNNER_TEMP: emptied after the job; our files live in a folder of ours below it. */
  temp: string
  /** GITHUB_WORKSPACE: the checkout that relative inputs are resolved against. */
  workspace: string
}

export function currentRunner(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Runner {
  if (!env.RUNNER_TEMP) throw new Error('RUNNER_TEMP is not set; the action must run in a GitHub Actions job.')
  return { temp: env.RUNNER_TEMP, workspace: env.GITHUB_WORKSPACE || cwd }
}
