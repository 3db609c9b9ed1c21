import { describe, expect, it } from '@jest/globals'
import { currentRunner } from '../../../src/github/runner.js'

describe('currentRunner', () => {
  it('reads what the step needs from the environment it is given, and keeps a copy of it', () => {
    const env = {
      RUNNER_TEMP: '/runner/tmp',
      GITHUB_WORKSPACE: '/ws',
      GITHUB_REPOSITORY: 'acme/ci',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_STEP_SUMMARY: '/runner/summary.md',
      NPM_TOKEN: 'x'
    }
    const runner = currentRunner(env, '/elsewhere')
    expect(runner).toMatchObject({
      temp: '/runner/tmp',
      workspace: '/ws',
      repository: 'acme/ci',
      ref: 'refs/heads/main',
      stepSummary: '/runner/summary.md'
    })
    env.NPM_TOKEN = 'changed later'
    expect(runner.env.NPM_TOKEN).toBe('x')
  })

  it('takes the working directory as the workspace when GITHUB_WORKSPACE is unset, and refuses to run without RUNNER_TEMP', () => {
    expect(currentRunner({ RUNNER_TEMP: '/t' }, '/cwd').workspace).toBe('/cwd')
    expect(() => currentRunner({}, '/cwd')).toThrow(/RUNNER_TEMP is not set/)
  })
})
