// The machine the figures come from: they mean little without it.
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { ROOT } from '../__tests__/support/engine.js'
import { engineVersions, type Engine } from './engine.js'

export interface Machine {
  date: string
  cpu: string
  cores: number
  memoryGiB: number
  os: string
  kernel: string
  engine: string
  buildx: string
  node: string
  tar: string
  zstd: string
  /** Which bundle ran, since dist/ changes under the benchmarks' feet. */
  bundle: string
  /** Its entry files' sizes: what each step's Node loads before it does anything, and the cache client's, loaded in a process of its own when a step talks to the service (0 for a bundle without one). */
  bundleBytes: { main: number; post: number; cacheClient: number }
  /** 1-minute load average when the run started and ended: others may share the machine. */
  load: { start: number; end?: number }
}

export function describeMachine(engine: Engine): Machine {
  const versions = engineVersions(engine)
  return {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: os.totalmem() / 1024 ** 3,
    os: osName(),
    kernel: `${os.type()} ${os.release()}`,
    engine: versions.engine,
    buildx: versions.buildx,
    node: process.version,
    tar: firstLine('tar', ['--version']),
    zstd: firstLine('zstd', ['--version']).replace(/^\*+\s*|\s*\*+$/g, ''),
    bundle: bundleId(),
    bundleBytes: {
      main: bundleFile('main').length,
      post: bundleFile('post').length,
      cacheClient: bundleFile('cache-client')?.length ?? 0
    },
    load: { start: os.loadavg()[0] }
  }
}

function osName(): string {
  const release = fs.readFileSync('/etc/os-release', 'utf8')
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1] ?? os.platform()
}

function firstLine(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).split('\n')[0].trim()
  } catch {
    return 'unknown'
  }
}

function bundleDir(): string {
  return process.env.ACTION_DIST ?? path.join(ROOT, 'dist')
}

function bundleFile(part: 'main' | 'post'): Buffer
function bundleFile(part: 'cache-client'): Buffer | undefined
function bundleFile(part: string): Buffer | undefined {
  const file = path.join(bundleDir(), part, 'index.js')
  if (part === 'cache-client' && !fs.existsSync(file)) return undefined
  return fs.readFileSync(file)
}

function bundleId(): string {
  const dist = bundleDir()
  const digest = createHash('sha256')
  for (const part of ['main', 'post'] as const) digest.update(bundleFile(part))
  digest.update(bundleFile('cache-client') ?? '')
  return `${path.relative(ROOT, dist).startsWith('..') ? dist : path.relative(ROOT, dist)} (sha256 ${digest.digest('hex').slice(0, 12)})`
}
