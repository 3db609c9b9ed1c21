// A `docker` first on PATH that notes how the action ran it (working
// directory, the runner's variables, what the action had under RUNNER_TEMP at
// that moment), then runs the real CLI with the same arguments and streams.
// It shows what the build saw: the job's environment, or one a cache call
// left behind.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

export interface DockerCall {
  /** The first two arguments, e.g. ['buildx', 'build']. */
  command: string[]
  cwd: string
  runnerTemp?: string
  workspace?: string
  /** The names in RUNNER_TEMP/buildx-ci-cache when docker started. */
  actionFiles: string[]
}

export interface DockerSpy {
  /** Put first on the job's PATH. */
  dir: string
  calls(): DockerCall[]
}

export function dockerSpy(): DockerSpy {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-spy-'))
  const log = path.join(dir, 'calls.jsonl')
  const real = execFileSync('which', ['docker'], { encoding: 'utf8' }).trim()
  // Values enter the script as JSON literals, never as code.
  const script = `#!${process.execPath}
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const temp = process.env.RUNNER_TEMP
const ours = temp ? path.join(temp, 'buildx-ci-cache') : ''
const call = {
  command: process.argv.slice(2, 4),
  cwd: process.cwd(),
  runnerTemp: temp,
  workspace: process.env.GITHUB_WORKSPACE,
  actionFiles: ours && fs.existsSync(ours) ? fs.readdirSync(ours).sort() : []
}
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(call) + '\\n')
const run = spawnSync(${JSON.stringify(real)}, process.argv.slice(2), { stdio: 'inherit' })
process.exit(run.status === null ? 1 : run.status)
`
  fs.writeFileSync(path.join(dir, 'docker'), script, { mode: 0o755 })
  return {
    dir,
    calls: () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map(line => JSON.parse(line) as DockerCall)
        : []
  }
}
