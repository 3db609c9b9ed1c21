// The real Docker Engine the end-to-end tests build with (see scripts/engine-up.sh).
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

export function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** What an ephemeral runner starts with: no build cache and none of our images. */
export function freshRunner(...images: string[]): void {
  docker('buildx', 'prune', '-af')
  for (const image of images) {
    try {
      docker('image', 'rm', '-f', image)
    } catch {
      // Not there: already fresh.
    }
  }
}

/**
 * A workspace holding a copy of a fixture folder plus the static busybox the
 * fixture Dockerfiles start from (nothing can be pulled here).
 */
export function workspaceFrom(fixture: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-'))
  fs.cpSync(path.join(ROOT, '__fixtures__', fixture), dir, { recursive: true })
  const busybox = process.env.BUSYBOX
  if (!busybox) throw new Error('BUSYBOX is not set: run the tests through `npm test`, whose setup starts the engine.')
  fs.copyFileSync(busybox, path.join(dir, 'busybox'))
  fs.chmodSync(path.join(dir, 'busybox'), 0o755)
  return dir
}

/**
 * A workspace of the fixture whose image starts with a step of its own, so
 * that no other suite's images or cache share its layers: with the
 * containerd image store, layers of images left by earlier tests can serve a
 * build even after the build cache is pruned.
 */
export function uniqueWorkspaceFrom(fixture: string): string {
  const dir = workspaceFrom(fixture)
  fs.writeFileSync(path.join(dir, 'nonce'), `${process.pid}-${Date.now()}-${Math.random()}\n`)
  const dockerfile = path.join(dir, 'Dockerfile')
  fs.writeFileSync(dockerfile, fs.readFileSync(dockerfile, 'utf8').replace(/^FROM scratch$/m, 'FROM scratch\nCOPY nonce /nonce'))
  return dir
}
