// Child processes for the benchmarks: arguments always as arrays, output
// collected, a non-zero exit turned into an error that quotes stderr.
import { spawn, type ChildProcess } from 'node:child_process'

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export interface RunResult {
  stdout: string
  stderr: string
}

/** Runs a command to completion; rejects on a non-zero exit. */
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout = collect(child, 'stdout')
  const stderr = collect(child, 'stderr')
  const code = await exitOf(child)
  const result = { stdout: await stdout, stderr: await stderr }
  if (code !== 0)
    throw new Error(
      `${command} ${args.join(' ')} exited with ${code}: ${lastLines(result.stderr || result.stdout, 20)}`
    )
  return result
}

/**
 * Runs `producer | consumer`, as a shell pipeline would, without a shell:
 * the producer's stdout is handed to the consumer as its stdin.
 */
export async function pipeline(
  producer: [string, string[]],
  consumer: [string, string[]],
  options: RunOptions = {}
): Promise<void> {
  const first = spawn(producer[0], producer[1], { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  const second = spawn(consumer[0], consumer[1], { ...options, stdio: [first.stdout ?? 'ignore', 'ignore', 'pipe'] })
  // The consumer holds its own copy of the pipe. Ours would never see its end
  // (nothing reads it), and the producer's 'close' waits for that.
  first.stdout?.destroy()
  const errors = [collect(first, 'stderr'), collect(second, 'stderr')]
  const codes = await Promise.all([exitOf(first), exitOf(second)])
  const texts = await Promise.all(errors)
  codes.forEach((code, i) => {
    const [command, args] = i === 0 ? producer : consumer
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${lastLines(texts[i])}`)
  })
}

function collect(child: ChildProcess, stream: 'stdout' | 'stderr'): Promise<string> {
  return new Promise(resolve => {
    let text = ''
    const source = child[stream]
    if (!source) return resolve('')
    source.on('data', (d: Buffer) => (text += d.toString()))
    source.on('close', () => resolve(text))
  })
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code => resolve(code ?? 1))
  })
}

export function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join('\n')
}
