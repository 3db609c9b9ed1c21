// The manifest an index entry carries: a restore writes files and reads byte
// ranges from it, so anything it cannot trust is refused with a reason.
import { describe, expect, it } from '@jest/globals'
import { parseManifest, renderManifest, type PackManifest } from '../../../../src/cache/packs/manifest.js'

const digest = (c: string): string => `sha256:${c.repeat(64)}`
const manifest: PackManifest = {
  packs: [
    { key: 'buildx/img/master/packs/aa', sizeBytes: 300 },
    { key: 'buildx/img/master/packs/bb', sizeBytes: 50 }
  ],
  blobs: [
    { digest: digest('a'), size: 200, pack: 0, offset: 0 },
    { digest: digest('b'), size: 100, pack: 0, offset: 200 },
    { digest: digest('c'), size: 50, pack: 1, offset: 0 }
  ]
}

function withBlob(change: Record<string, unknown>): string {
  const doc = JSON.parse(renderManifest(manifest)) as { blobs: Array<Record<string, unknown>> }
  doc.blobs[1] = { ...doc.blobs[1], ...change }
  return JSON.stringify(doc)
}

describe('the manifest of packs', () => {
  it('reads back what was written', () => {
    expect(parseManifest(renderManifest(manifest))).toEqual(manifest)
  })

  it.each<[string, string, RegExp]>([
    ['not JSON', '{"format"', /is not valid JSON/],
    [
      'another format',
      JSON.stringify({ format: 'other', version: 1, packs: [], blobs: [] }),
      /not a manifest of packs/
    ],
    [
      'a newer version',
      JSON.stringify({ format: 'buildx-ci-cache/packs', version: 2, packs: [], blobs: [] }),
      /has version 2, not 1/
    ],
    ['a digest that is a path', withBlob({ digest: 'sha256:../../etc/passwd' }), /places a blob wrongly/],
    ['a negative offset', withBlob({ offset: -1 }), /places a blob wrongly/],
    ['a fractional size', withBlob({ size: 1.5 }), /places a blob wrongly/],
    ['a pack that is not listed', withBlob({ pack: 7 }), /outside its pack/],
    ['a blob past the end of its pack', withBlob({ offset: 201 }), /outside its pack/],
    ['a blob placed twice', withBlob({ digest: digest('a') }), /twice/]
  ])('refuses %s', (_, text, problem) => {
    const parsed = parseManifest(text)
    expect('problem' in parsed && parsed.problem).toMatch(problem)
  })

  it('refuses a pack key the service would refuse', () => {
    const doc = JSON.parse(renderManifest(manifest)) as { packs: Array<{ key: string }> }
    doc.packs[0] = { ...doc.packs[0], key: 'a,b' }
    const parsed = parseManifest(JSON.stringify(doc))
    expect('problem' in parsed && parsed.problem).toMatch(/names a pack wrongly/)
  })
})
