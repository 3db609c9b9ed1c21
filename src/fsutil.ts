import * as fs from 'node:fs'
import * as path from 'node:path'

export async function removeDir(dir: string): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** Removes each directory, then its parent if that is left empty. */
export async function removeDirs(dirs: string[]): Promise<void> {
  for (const dir of dirs) await removeDir(dir)
  for (const parent of new Set(dirs.map(d => path.dirname(d)))) {
    await fs.promises.rmdir(parent).catch(() => undefined)
  }
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

/**
 * A buildx local cache is usable only with its index: a directory without one
 * (a half-extracted archive, an interrupted copy) would fail the build.
 */
export async function looksLikeBuildxCache(dir: string): Promise<boolean> {
  return exists(path.join(dir, 'index.json'))
}
