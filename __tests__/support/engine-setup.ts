// Jest global setup for the end-to-end tests: they run beside the engines that
// scripts/engine-up.sh brings up, in their network namespace, with the
// environment that reaches them; scripts/in-engine.sh (what `npm test` runs)
// provides both. Checked here once, so that a run started any other way says
// how to start it instead of failing in every test.
import { execFileSync } from 'node:child_process'

const NEEDED = [
  'DOCKER_CONFIG',
  'DOCKER_HOST',
  'CLASSIC_DOCKER_HOST',
  'BUSYBOX',
  'ENGINE_NETNS',
  'CACHE_SERVICE_BLOB_HOST'
]

export default function setup(): void {
  const missing = NEEDED.filter(name => !process.env[name])
  const netns = currentNetns()
  if (missing.length > 0 || netns !== process.env.ENGINE_NETNS) {
    throw new Error(
      `The end-to-end tests run beside their engines: start them with \`npm test\` (or \`bash scripts/in-engine.sh <command>\`), ` +
        `not ${missing.length > 0 ? `without ${missing.join(', ')}` : `in network namespace '${netns || 'of the host'}'`}.`
    )
  }
}

function currentNetns(): string {
  try {
    return execFileSync('ip', ['netns', 'identify'], { encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}
