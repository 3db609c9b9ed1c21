import * as exec from '@actions/exec'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { CacheLocation } from '../cache/store.js'
import { attributes } from '../docker/attributes.js'
import { secretEnv, secretVariable } from '../docker/build-secrets.js'
import { docker } from '../docker/docker-cli.js'
import { errorLine } from '../docker/error-line.js'
import type { Inputs } from '../inputs.js'

// The helper builds of cache mounts: the user's build settings (build args,
// secrets, platform), so that the stages kept by the cut are the very steps
// the build runs, with the restored cache imported, on the build's builder.

export interface MountBuild {
  /** The generated Dockerfile's text. */
  dockerfile: string
  /** Where it is written; the build context stays the user's. */
  file: string
  /** `--output` value. */
  output: string
  contexts?: Record<string, string>
  /** The user's context, or another folder for builds of ours alone. */
  context?: string
}

export interface MountBuildSetup {
  inputs: Inputs
  builder?: string
  from: CacheLocation[]
  env: Record<string, string>
}

export type MountBuildResult = { ok: true; output: string } | { ok: false; error: string }

export async function runMountBuild(build: MountBuild, setup: MountBuildSetup): Promise<MountBuildResult> {
  const { inputs } = setup
  await fs.promises.mkdir(path.dirname(build.file), { recursive: true })
  await fs.promises.writeFile(build.file, build.dockerfile)
  const args = ['buildx', 'build', '--progress=plain', '--file', build.file]
  if (setup.builder) args.push('--builder', setup.builder)
  for (const { name, value } of inputs.buildArgs) args.push('--build-arg', `${name}=${value}`)
  for (const [i, { id }] of inputs.secrets.entries())
    args.push('--secret', attributes(['id', id], ['env', secretVariable(i)]))
  for (const { id, env } of inputs.secretEnvs) args.push('--secret', attributes(['id', id], ['env', env]))
  for (const { id, path: src } of inputs.secretFiles) args.push('--secret', attributes(['id', id], ['src', src]))
  // One platform: a cache mount is one folder whatever the platform, and the first is the one built first.
  if (inputs.platforms.length > 0) args.push('--platform', inputs.platforms[0] as string)
  if (!inputs.noCache)
    for (const location of setup.from)
      args.push(
        '--cache-from',
        location.type === 'local'
          ? attributes(['type', 'local'], ['src', location.dir])
          : attributes(['type', 'registry'], ['ref', location.ref])
      )
  for (const [name, dir] of Object.entries(build.contexts ?? {})) args.push('--build-context', `${name}=${dir}`)
  args.push('--output', build.output)
  args.push(build.context ?? inputs.context)
  const run = await docker(args, { log: true, env: { ...setup.env, ...secretEnv(inputs.secrets) } })
  if (run.exitCode === 0) return { ok: true, output: run.output }
  return { ok: false, error: errorLine(run.output, `docker buildx exit code ${run.exitCode}`) }
}

/** Unpacks a mount's archive with the runner's tar, owned by the runner's user; rejects with tar's last line. */
export async function extract(archive: string, dir: string): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true })
  let stderr = ''
  const code = await exec.exec('tar', ['-xpf', archive, '-C', dir, '--no-same-owner'], {
    ignoreReturnCode: true,
    silent: true,
    listeners: { stderr: data => (stderr += data.toString()) }
  })
  if (code !== 0) throw new Error(`tar could not unpack it: ${errorLine(stderr, `exit code ${code}`)}`)
}
