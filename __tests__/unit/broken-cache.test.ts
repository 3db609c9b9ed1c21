// A damaged cache, told apart from everything else: the lines buildx prints
// for one (each seen on Docker Engine 26.1 with buildx 0.13, by breaking real
// caches), the check a restored directory must pass, and who may write.
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { buildxArgs } from '../../src/docker/buildx-args.js'
import { failedOnCacheImport } from '../../src/docker/import-failures.js'
import { cacheProblem } from '../../src/cache/integrity.js'
import { tokenScopes, writeDenied } from '../../src/cache/gha.js'
import type { Inputs } from '../../src/inputs.js'
import { ciInputs } from '../support/inputs.js'
import { captureStdout } from '../support/stdout.js'
import { LocalCacheStore } from '../../src/cache/local.js'
import type { KeyPlan } from '../../src/key/key.js'

const D = '66552503172b167973695d4793a2115d7dd12f8372534475260c35577a6472d0'
const X = '7ef2e4752c1b05ea0098800eec2b5ff9415411f32707cdf25295e5f4a01b52e6'
const CHAIN = '27d256b5a932588458c3aa826707844ff48c79cf5ddadc5b2e104d99a567b166'

describe('failedOnCacheImport', () => {
  it.each([
    // A blob is missing.
    `failed to solve: failed to compute cache key: NotFound: rpc error: code = NotFound desc = content sha256:${D}: not found`,
    `failed to solve: NotFound: rpc error: code = NotFound desc = content sha256:${D}: not found`,
    `failed to solve: error writing layer blob: NotFound: rpc error: code = NotFound desc = content sha256:${D}: not found`,
    // A blob's bytes are wrong (same size, or another size).
    `failed to solve: failed commit on ref "layer-sha256:${D}": commit failed: unexpected commit digest sha256:${X}, expected sha256:${D}: failed precondition`,
    `failed to solve: failed to compute cache key: failed commit on ref "layer-sha256:${D}": commit failed: unexpected commit digest sha256:${X}, expected sha256:${D}: failed precondition`,
    `failed to solve: failed to compute cache key: failed commit on ref "layer-sha256:${D}": commit failed: "layer-sha256:${D}" failed size validation: 1101959 != 1049287: failed precondition`,
    `failed to solve: failed commit on ref "layer-sha256:${D}": commit failed: "layer-sha256:${D}" failed size validation: 1101959 != 1049287: failed precondition`,
    `failed to solve: error writing layer blob: failed commit on ref "layer-sha256:${D}": commit failed: rpc error: code = FailedPrecondition desc = unexpected commit size 1101959, expected 1049229: failed precondition`,
    `failed to solve: error writing layer blob: failed commit on ref "layer-sha256:${D}": commit failed: rpc error: code = FailedPrecondition desc = unexpected commit digest sha256:${X}, expected sha256:${D}: failed precondition`,
    // A blob is cut short.
    'failed to solve: failed to read expected number of bytes: unexpected EOF',
    'failed to solve: error writing layer blob: failed to read expected number of bytes: unexpected EOF',
    // What an earlier damaged import leaves behind in a persistent engine.
    `failed to solve: failed to prepare sha256:${CHAIN} as kdqpumqnbjzbhl8ntsirppzjm: parent snapshot sha256:${CHAIN} does not exist: not found`,
    `failed to solve: failed to compute cache key: parent snapshot sha256:${CHAIN} does not exist: not found`,
    `failed to solve: failed to extract layer sha256:${CHAIN}: failed to get reader from content store: content digest sha256:${D}: not found`
  ])('blames the cache for: %s', line => {
    expect(
      failedOnCacheImport(
        `#12 ERROR: whatever\n------\nERROR: (*service).Write failed: rpc error: code = Canceled desc = context canceled\nERROR: ${line}\n`
      )
    ).toBe(true)
  })

  it.each([
    'failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3',
    'failed to solve: failed to compute cache key: failed to calculate checksum of ref u7hqc22lbs1udxawb6gms1db8::wwupl35qay984l2x5d8n4k0je: "/missing.sh": not found',
    'failed to solve: nosuchimage-xyz:1: failed to resolve source metadata for docker.io/library/nosuchimage-xyz:1: failed to do request: Head "https://registry-1.docker.io/v2/library/nosuchimage-xyz/manifests/1": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host',
    'failed to solve: secret tok: not found',
    'failed to solve: dockerfile parse error on line 4: unknown instruction: FROOM (did you mean FROM?)',
    'failed to solve: target stage "nope" could not be found',
    'failed to solve: failed to load cache key: Get "http://127.0.0.1:9/x": dial tcp 127.0.0.1:9: connect: connection refused',
    // A RUN whose own command quotes the very words: its line starts with `process "`.
    `failed to solve: process "/bin/sh -c echo \\"content sha256:${D}: not found unexpected EOF\\"; exit 1" did not complete successfully: exit code: 1`,
    `failed to solve: process "/bin/sh -c echo failed to solve: failed to read expected number of bytes: unexpected EOF; exit 1" did not complete successfully: exit code: 1`
  ])('does not blame the cache for: %s', line => {
    expect(failedOnCacheImport(`ERROR: ${line}\n`)).toBe(false)
  })

  it('reads only the last error: an import step that errored and was passed over is not the failure', () => {
    const output = [
      '#3 importing cache manifest from local:742545718624080419',
      "#3 ERROR: invalid character '\\x11' looking for beginning of value",
      '#9 [4/4] RUN exit 3',
      'ERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    ].join('\n')
    expect(failedOnCacheImport(output)).toBe(false)
  })
})

describe('buildxArgs for the retry after a damaged cache', () => {
  const inputs: Inputs = { ...ciInputs, cacheCompression: 'gzip' }
  const run = { iidFile: '/t/iid', metadataFile: '/t/meta.json', output: 'image' as const }

  it('ignores the engine cache too, and still exports', () => {
    const args = buildxArgs(inputs, { from: [], to: { type: 'local', dir: '/c/new' }, noCache: true }, run)
    expect(args).toContain('--no-cache')
    expect(args).not.toContain('--cache-from')
    expect(args).toContain('type=local,dest=/c/new,mode=max,ignore-error=true,compression=gzip,force-compression=true')
  })

  it('keeps the engine cache otherwise', () => {
    expect(buildxArgs(inputs, { from: [{ type: 'local', dir: '/c/old' }] }, run)).not.toContain('--no-cache')
  })
})

/** A plan whose content key is `key` and whose one fallback is its branch's scope. */
function plan(key: string): KeyPlan {
  const scope = key.slice(0, key.lastIndexOf('/') + 1)
  return {
    content: key,
    hash: key.slice(scope.length),
    lookup: `${key}/`,
    restoreKeys: [{ key: scope, source: 'branch', sameContent: false }]
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-cache-'))
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** A buildx-shaped local cache: index.json → an OCI index → two layers and a cache config. */
function writeCache(dir: string): { layer: string; manifest: string } {
  const blobs = path.join(dir, 'blobs', 'sha256')
  fs.mkdirSync(blobs, { recursive: true })
  const blob = (content: string | Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(content).digest('hex')
    fs.writeFileSync(path.join(blobs, hex), content)
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(content) }
  }
  const layer = blob(Buffer.alloc(4096, 1))
  const other = blob(Buffer.alloc(100, 2))
  const config = blob(JSON.stringify({ layers: [{ blob: layer.digest, parent: -1 }, { blob: other.digest }] }))
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...other },
        { mediaType: 'application/vnd.buildkit.cacheconfig.v0', ...config }
      ]
    })
  )
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...manifest }]
    })
  )
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  return { layer: path.join(blobs, layer.digest.slice(7)), manifest: path.join(blobs, manifest.digest.slice(7)) }
}

describe('cacheProblem', () => {
  let dir: string
  let files: ReturnType<typeof writeCache>
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(tmp, 'cache-'))
    files = writeCache(dir)
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

describe('writeDenied', () => {
  const token = (ac: unknown): string =>
    ['{"alg":"none"}', JSON.stringify({ ac: JSON.stringify(ac) }), 'sig']
      .map(p => Buffer.from(p).toString('base64url'))
      .join('.')

  it('lets a token with a writable scope save', () => {
    expect(
      writeDenied({ ACTIONS_RUNTIME_TOKEN: token([{ Scope: 'refs/heads/master', Permission: 3 }]) })
    ).toBeUndefined()
  })

  it('says plainly when every scope is read-only', () => {
    const reason = writeDenied({ ACTIONS_RUNTIME_TOKEN: token([{ Scope: 'refs/heads/master', Permission: 1 }]) })
    expect(reason).toMatch(/may read but not write \(cache write denied; its scopes: refs\/heads\/master\)/)
  })

  it("honours the runner's cache mode", () => {
    expect(writeDenied({ ACTIONS_CACHE_MODE: 'read' })).toMatch(/ACTIONS_CACHE_MODE=read/)
    expect(writeDenied({ ACTIONS_CACHE_MODE: 'none' })).toMatch(/ACTIONS_CACHE_MODE=none/)
    expect(writeDenied({ ACTIONS_CACHE_MODE: 'write-only' })).toBeUndefined()
  })

  it('tries anyway when the token cannot be read: the service has the last word', () => {
    expect(writeDenied({})).toBeUndefined()
    expect(writeDenied({ ACTIONS_RUNTIME_TOKEN: 'not-a-jwt' })).toBeUndefined()
    expect(tokenScopes(token('not a list'))).toBeUndefined()
  })
})

describe('LocalCacheStore with damaged entries', () => {
  let root: string
  const stdout = captureStdout()
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(tmp, 'root-'))
  })

  const warnings = (): string => stdout.warnings().join('\n')

  it('passes over a damaged entry with a warning and falls back to a complete one', async () => {
    writeCache(path.join(root, 'p/img/main/old'))
    fs.utimesSync(path.join(root, 'p/img/main/old'), 1, 1)
    const broken = writeCache(path.join(root, 'p/img/main/new'))
    fs.rmSync(broken.layer)
    const restored = await new LocalCacheStore(root, 'job').restore(plan('p/img/main/new'))
    expect(restored?.matchedKey).toBe('p/img/main/old')
    expect(warnings()).toMatch(
      /Skipping the damaged cache entry p\/img\/main\/new in .* \(blob sha256:[a-f0-9]{64} is missing\)/
    )
  })

  it('reports a damaged entry under the exact key when nothing else serves, so that it gets replaced', async () => {
    const broken = writeCache(path.join(root, 'p/img/solo/k'))
    fs.truncateSync(broken.layer, 1)
    const restored = await new LocalCacheStore(root, 'job').restore(plan('p/img/solo/k'))
    expect(restored).toMatchObject({
      matchedKey: 'p/img/solo/k',
      from: [],
      problem: expect.stringMatching(/has 1 bytes/)
    })
  })

  it('replaces a damaged entry under the same key on save', async () => {
    const broken = writeCache(path.join(root, 'p/img/main/k'))
    fs.truncateSync(broken.layer, 1)
    const store = new LocalCacheStore(root, 'job')
    const exported = await store.exportTo()
    writeCache(exported.type === 'local' ? exported.dir : '')
    expect(await store.save({ content: 'p/img/main/k' })).toMatchObject({ saved: true, key: 'p/img/main/k' })
    expect(await cacheProblem(path.join(root, 'p/img/main/k'))).toBeUndefined()
    expect(fs.readdirSync(path.join(root, '.incoming'))).toEqual([])
  })

  it('replaces a complete but stale entry under the same key in place', async () => {
    writeCache(path.join(root, 'p/img/main/k'))
    fs.writeFileSync(path.join(root, 'p/img/main/k', 'stale-marker'), '')
    const store = new LocalCacheStore(root, 'job')
    const exported = await store.exportTo()
    writeCache(exported.type === 'local' ? exported.dir : '')
    expect(await store.save({ content: 'p/img/main/k' })).toMatchObject({ saved: true })
    expect(fs.existsSync(path.join(root, 'p/img/main/k', 'stale-marker'))).toBe(false)
    expect(await cacheProblem(path.join(root, 'p/img/main/k'))).toBeUndefined()
  })

  it('refuses to export into a root that cannot be written, so the main step can skip the save', async () => {
    const file = path.join(tmp, 'a-file')
    fs.writeFileSync(file, '')
    await expect(new LocalCacheStore(file, 'job').exportTo()).rejects.toThrow(/ENOTDIR|EEXIST/)
    expect(await new LocalCacheStore(file, 'job').restore(plan('p/img/main/k'))).toBeUndefined()
  })
})
