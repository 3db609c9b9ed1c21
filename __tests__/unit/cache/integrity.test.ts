// The check a restored or exported directory must pass before buildx imports
// it or the post step saves it.
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { cacheProblem } from '../../../src/cache/integrity.js'
import { writeLayeredCache } from '../../support/local-cache.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'integrity-'))

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

describe('cacheProblem', () => {
  let dir: string
  let files: ReturnType<typeof writeLayeredCache>
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(tmp, 'cache-'))
    files = writeLayeredCache(dir)
  })

  it('passes a complete cache', async () => {
    expect(await cacheProblem(dir)).toBeUndefined()
  })

  it.each<[string, () => void, RegExp]>([
    ['no index.json', () => fs.rmSync(path.join(dir, 'index.json')), /^no index\.json$/],
    [
      'an index that is not JSON',
      () => fs.writeFileSync(path.join(dir, 'index.json'), '{"schemaVer'),
      /^index\.json is not valid JSON$/
    ],
    [
      'an index naming nothing',
      () => fs.writeFileSync(path.join(dir, 'index.json'), '{"manifests":[]}'),
      /names no manifest/
    ],
    ['a missing manifest', () => fs.rmSync(files.manifest), /^blob sha256:[a-f0-9]{64} is missing$/],
    [
      'a manifest that is not JSON',
      () => fs.writeFileSync(files.manifest, 'x'.repeat(fs.statSync(files.manifest).size)),
      /^manifest sha256:[a-f0-9]{64} is not valid JSON$/
    ],
    ['a missing layer', () => fs.rmSync(files.layer), /^blob sha256:[a-f0-9]{64} is missing$/],
    ['a layer cut short', () => fs.truncateSync(files.layer, 10), /^blob sha256:[a-f0-9]{64} has 10 bytes, not 4096$/],
    [
      'a directory in place of a layer',
      () => {
        fs.rmSync(files.layer)
        fs.mkdirSync(files.layer)
      },
      /is missing/
    ]
  ])('names %s', async (_, damage, problem) => {
    damage()
    expect(await cacheProblem(dir)).toMatch(problem)
  })

  it('refuses a digest that would lead out of the cache', async () => {
    fs.writeFileSync(path.join(tmp, 'outside'), 'x')
    fs.writeFileSync(
      path.join(dir, 'index.json'),
      JSON.stringify({
        manifests: [
          { mediaType: 'application/vnd.oci.image.index.v1+json', digest: 'sha256:../../../outside', size: 1 }
        ]
      })
    )
    expect(await cacheProblem(dir)).toMatch(/malformed/)
  })

  it('does not hash: a same-size corruption passes, and is left to the build and its retry', async () => {
    const bytes = fs.readFileSync(files.layer)
    bytes[10] ^= 0xff
    fs.writeFileSync(files.layer, bytes)
    expect(await cacheProblem(dir)).toBeUndefined()
  })
})
