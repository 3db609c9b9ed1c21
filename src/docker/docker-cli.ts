import * as exec from '@actions/exec'
import { StringDecoder } from 'node:string_decoder'

// Every docker CLI call of the build goes through here: the arguments as an
// array, never a shell, and a failure as an exit code, never an exception.
// (The registry's imagetools calls run bounded in time, which needs a process
// this can kill: registry-client.ts runs those itself.)

export interface DockerRun {
  exitCode: number
  stdout: string
  stderr: string
  /** Both, in the order docker printed them. */
  output: string
}

export interface DockerOptions {
  /** Stream the command and its output into the step's log; otherwise it runs silent. */
  log?: boolean
  /** The whole environment docker runs in; unset: the step's own. */
  env?: Record<string, string>
}

/** Rejects only when docker cannot be started at all (no docker CLI on PATH). */
export async function docker(args: string[], options: DockerOptions = {}): Promise<DockerRun> {
  const out = new StringDecoder('utf8')
  const err = new StringDecoder('utf8')
  let stdout = ''
  let stderr = ''
  let output = ''
  const exitCode = await exec.exec('docker', args, {
    ignoreReturnCode: true,
    silent: !options.log,
    env: options.env,
    listeners: {
      stdout: data => {
        const text = out.write(data)
        stdout += text
        output += text
      },
      stderr: data => {
        const text = err.write(data)
        stderr += text
        output += text
      }
    }
  })
  const restOut = out.end()
  const restErr = err.end()
  return { exitCode, stdout: stdout + restOut, stderr: stderr + restErr, output: output + restOut + restErr }
}
