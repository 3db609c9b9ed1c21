import * as fs from 'node:fs'
import * as path from 'node:path'

export async function removeDir(dir: string): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

/**
 * Removes each directory, then its parent if that is left empty, unless the
 * parent is `keep` (RUNNER_TEMP): later steps of the job still use it.
 */
export async function removeDirs(dirs: string[], keep: string | undefined): Promise<void> {
  for (const dir of dirs) await removeDir(dir)
  for (const parent of new Set(dirs.map(d => path.dirname(d)))) {
    if (keep !== undefined && path.resolve(parent) === path.resolve(keep)) continue
    await fs.promises.rmdir(parent).catch(() => undefined)
  }
}

export function isFile(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false
}

export function isDirectory(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false
}

export async function exists(p: string): Promise<boolean> {
  return (await fs.promises.lstat(p).catch(() => undefined)) !== undefined
}

/** Bytes held by the regular files below dir (0 when it does not exist). */
export async function dirSize(dir: string): Promise<number> {
  const entries = await fs.promises.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  const sizes = await Promise.all(
    entries.filter(e => e.isFile()).map(e => fs.promises.stat(path.join(e.parentPath, e.name)).then(s => s.size))
  )
  return sizes.reduce((a, b) => a + b, 0)
}
