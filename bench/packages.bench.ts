// `npm run bench:packages` (the first part of `npm run bench`): the Debian
// packages the realistic fixtures are made of, fetched into the work root's
// debs/ unless they are there already. It runs outside the engine's network
// namespace, which has no route out; the benchmarks then find every package
// in place.
import { it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ROOT } from '../__tests__/support/engine.js'
import { CCACHE_PACKAGES, fetchPackages, PACKAGE_LIST, parsePackageList } from './debian-content.js'
import { readSettings, type Fixture } from './settings.js'

jest.setTimeout(30 * 60 * 1000)

it("fetches the realistic fixtures' Debian packages", async () => {
  const settings = readSettings()
  const fixtures = [settings.fixture, settings.multiStage, settings.incompressible].filter(
    (f): f is Fixture => f?.debianPackages === true
  )
  const names = new Set<string>()
  for (const fixture of fixtures) {
    const list = await fs.promises.readFile(path.join(ROOT, '__fixtures__', fixture.name, PACKAGE_LIST), 'utf8')
    for (const group of parsePackageList(list)) for (const name of group.packages) names.add(name)
  }
  // The compiler cache of `npm run bench:mounts` (bench/cache-mounts.bench.ts).
  for (const name of CCACHE_PACKAGES) names.add(name)
  if (names.size === 0) return
  const debs = await fetchPackages([...names], path.join(settings.workRoot, 'debs'))
  process.stdout.write(`${debs.size} Debian packages in ${path.join(settings.workRoot, 'debs')}\n`)
})
