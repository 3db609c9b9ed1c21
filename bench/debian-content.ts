// Real toolchain files for the realistic fixtures: the Debian packages their
// packages.txt names, fetched with `apt-get download` and unpacked with
// `dpkg-deb -x`. Random bytes don't compress, so a fixture made of them hides
// what layer compression costs and saves; real binaries, libraries and Perl
// modules show it.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { run } from './proc.js'

export const PACKAGE_LIST = 'packages.txt'
export const LOCK_FILE = 'packages.lock'
/** Debian's ccache 4.7 and the library it links that the toolchain fixture lacks. */
export const CCACHE_PACKAGES = ['ccache', 'libhiredis0.14']

export interface PackageGroup {
  /** Context folder: `rootfs/<name>` is unpacked for COPY, `debs/<name>` keeps the .deb files for a RUN step. */
  folder: string
  packages: string[]
}

/** Reads `folder: package package ...` lines; `#` starts a comment. */
export function parsePackageList(text: string): PackageGroup[] {
  const groups: PackageGroup[] = []
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim()
    if (!line) continue
    const m = /^((?:rootfs|debs)\/[\w.-]+):\s*(.*)$/.exec(line)
    if (!m)
      throw new Error(`${PACKAGE_LIST}: "${raw}" is not "rootfs/<name>: packages..." or "debs/<name>: packages...".`)
    const packages = m[2].split(/\s+/).filter(Boolean)
    if (packages.length === 0) throw new Error(`${PACKAGE_LIST}: ${m[1]} names no package.`)
    groups.push({ folder: m[1], packages })
  }
  return groups
}

/**
 * The .deb of each package, downloaded into `cacheDir` unless a copy is there
 * already: a rerun never fetches again, and keeps measuring the same bytes
 * even when the mirror moves on to a newer version.
 */
export async function fetchPackages(names: string[], cacheDir: string): Promise<Map<string, string>> {
  await fs.promises.mkdir(cacheDir, { recursive: true })
  const cached = async (): Promise<Map<string, string>> => {
    const found = new Map<string, string>()
    for (const file of (await fs.promises.readdir(cacheDir)).sort()) {
      const name = /^([^_]+)_[^_]+_[^_]+\.deb$/.exec(file)?.[1]
      if (name) found.set(name, path.join(cacheDir, file))
    }
    return found
  }
  const have = await cached()
  const toFetch = [...new Set(names)].filter(name => !have.has(name))
  if (toFetch.length > 0) {
    try {
      await run('apt-get', ['download', ...toFetch], { cwd: cacheDir })
    } catch (error) {
      throw new Error(
        `apt-get could not download ${toFetch.join(' ')} (${(error as Error).message.split('\n').at(-1)}). ` +
          `Run \`apt-get update\` first; if a package does not exist on this machine's Debian, change ${PACKAGE_LIST}.`
      )
    }
  }
  const debs = await cached()
  const absent = names.filter(name => !debs.has(name))
  if (absent.length > 0) throw new Error(`apt-get download left no .deb for ${absent.join(', ')} in ${cacheDir}.`)
  return new Map(names.map(name => [name, debs.get(name) as string]))
}

/**
 * Makes what a fixture's packages.txt asks for in `into`: rootfs/ groups
 * unpacked, debs/ groups copied, and packages.lock, the exact .deb files in
 * use, for the cache key to hash in place of the bulky trees.
 */
export async function debianContent(
  fixtureDir: string,
  into: string,
  cacheDir: string
): Promise<{ packages: number; bytes: number }> {
  const groups = parsePackageList(await fs.promises.readFile(path.join(fixtureDir, PACKAGE_LIST), 'utf8'))
  const debs = await fetchPackages(
    groups.flatMap(g => g.packages),
    cacheDir
  )
  const lock: string[] = []
  for (const group of groups) {
    const dest = path.join(into, group.folder)
    await fs.promises.mkdir(dest, { recursive: true })
    for (const name of group.packages) {
      const deb = debs.get(name) as string
      if (group.folder.startsWith('rootfs/')) await run('dpkg-deb', ['-x', deb, dest])
      else await fs.promises.copyFile(deb, path.join(dest, path.basename(deb)))
      lock.push(`${group.folder} ${path.basename(deb)}`)
    }
  }
  await fs.promises.writeFile(path.join(into, LOCK_FILE), `${lock.join('\n')}\n`)
  return { packages: lock.length, bytes: await treeBytes(into) }
}

async function treeBytes(dir: string): Promise<number> {
  const entries = await fs.promises.readdir(dir, { recursive: true, withFileTypes: true })
  const files = entries.filter(e => e.isFile())
  const sizes = await Promise.all(files.map(e => fs.promises.stat(path.join(e.parentPath, e.name)).then(s => s.size)))
  return sizes.reduce((a, b) => a + b, 0)
}
