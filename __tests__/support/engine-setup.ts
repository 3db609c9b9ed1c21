// Jest global setup for the end-to-end tests: bring up the real engine (a
// no-op when it already answers) and hand its socket to the test workers.
import { execFileSync } from 'node:child_process'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
  const out = execFileSync('bash', [path.join(root, 'scripts', 'engine-up.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  for (const line of out.split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line)
    if (m) process.env[m[1]] = m[2]
  }
}
