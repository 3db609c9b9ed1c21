// Plain tar + zstd, as a workflow script would archive a directory: the
// baseline our restore and save are measured against, and the transport of
// the documented recipe.
import * as fs from 'node:fs'
import { pipeline } from './proc.js'

/** `tar -c -C dir . | zstd -T0 -o file`; returns the archive's size in bytes. */
export async function packDir(dir: string, file: string): Promise<number> {
  await pipeline(['tar', ['-c', '-C', dir, '.']], ['zstd', ['-T0', '-q', '-f', '-o', file]])
  return (await fs.promises.stat(file)).size
}

/**
 * `zstd -d -c file | tar -x -C dir`. `long` also reads archives made with
 * `--long=30`, as @actions/cache makes them with some zstd versions: zstd
 * refuses their window size otherwise.
 */
export async function unpackInto(file: string, dir: string, long = false): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true })
  const zstdArgs = ['-d', '-q', '-c', ...(long ? ['--long=30'] : []), file]
  await pipeline(['zstd', zstdArgs], ['tar', ['-x', '-C', dir]])
}
