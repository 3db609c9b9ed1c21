// Jest global setup for the end-to-end tests: bring up the real engine (a
// no-op when it already answers) and hand its socket to the test workers;
// then the classic-image-store engine beside it, whose socket goes to
// CLASSIC_DOCKER_HOST for the tests that build on it.
import { execFileSync } from 'node:child_process'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

export default function setup(): void {
  Object.assign(process.env, engineUp({}))
  process.env.CLASSIC_DOCKER_HOST = engineUp({ ENGINE_STORE: 'classic' }).DOCKER_HOST
}

function engineUp(env: Record<string, string>): Record<string, string> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
  const out = execFileSync('bash', [path.join(root, 'scripts', 'engine-up.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env }
  })
  return Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map(m => [m[1], m[2]]))
}
