import { describe, expect, it } from '@jest/globals'
import {
  CACHE_CONFIG_MEDIA_TYPE,
  KEY_ANNOTATION,
  parseBranchPointer,
  parseCacheManifest
} from '../../../src/cache/registry-manifest.js'

const digest = (c: string): string => `sha256:${c.repeat(64)}`
const cacheManifest = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: digest('c'), size: 2173 },
  layers: [
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest('1'), size: 147 },
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest('2'), size: 1049232 }
  ]
}
const scope = 'buildx/ci/master/'
const pointer = (
  key: unknown,
  manifests: unknown[] = [{ mediaType: cacheManifest.mediaType, digest: digest('d'), size: 2222 }]
) =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests,
    annotations: { [KEY_ANNOTATION]: key }
  })

describe('parseCacheManifest', () => {
  it('reads the size of a BuildKit cache manifest: its config and every layer', () => {
    expect(parseCacheManifest(JSON.stringify(cacheManifest))).toEqual({ ok: true, sizeBytes: 2173 + 147 + 1049232 })
  })

  it.each([
    ['not JSON', '{"schemaVersion":2,', 'its manifest is not JSON'],
    ['an index', pointer(`${scope}h`), 'it is an image index, not a cache manifest'],
    [
      'an image',
      JSON.stringify({ ...cacheManifest, config: { mediaType: 'application/vnd.oci.image.config.v1+json' } }),
      'it is not a BuildKit cache'
    ],
    [
      'a manifest without layers',
      JSON.stringify({ ...cacheManifest, layers: undefined }),
      'its manifest lists no layers'
    ],
    [
      'a layer without a digest',
      JSON.stringify({ ...cacheManifest, layers: [{ size: 1 }] }),
      'a layer of its manifest has no sha256 digest'
    ],
    ['JSON that is not an object', '[1,2]', 'its manifest is not JSON']
  ])('refuses %s, saying why', (_what, raw, problem) => {
    const parsed = parseCacheManifest(raw)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) expect(parsed.problem).toContain(problem)
  })
})

describe('parseBranchPointer', () => {
  it('gives the content key the branch tag follows and the manifest it points at', () => {
    expect(parseBranchPointer(pointer(`${scope}abc`), scope)).toEqual({
      ok: true,
      key: `${scope}abc`,
      digest: digest('d')
    })
  })

  it.each([
    ['no annotation', pointer(undefined), 'annotation'],
    ["another image's key", pointer('buildx/ci-other/master/abc'), 'outside'],
    ['a key deeper than the scope', pointer(`${scope}abc/def`), 'outside'],
    ['the scope itself', pointer(scope), 'outside'],
    [
      'two manifests',
      pointer(`${scope}abc`, [{ digest: digest('d') }, { digest: digest('e') }]),
      'exactly one manifest'
    ],
    ['a bad digest', pointer(`${scope}abc`, [{ digest: 'sha256:xyz' }]), 'exactly one manifest'],
    ['garbage', 'not json', 'not JSON']
  ])('refuses an index with %s', (_what, raw, problem) => {
    const parsed = parseBranchPointer(raw, scope)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) expect(parsed.problem).toContain(problem)
  })
})
