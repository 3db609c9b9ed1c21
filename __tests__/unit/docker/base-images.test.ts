import { describe, expect, it } from '@jest/globals'
import {
  baseContextArgs,
  baseFailureSentence,
  baseResolveFailure,
  basesIndexAnnotations,
  familiarName,
  keptBases,
  keptDescriptor,
  keptInBasesIndex,
  registryOf,
  resolvedBases,
  type KeptBase
} from '../../../src/docker/base-images.js'

const D1 = `sha256:${'1'.repeat(64)}`
const D2 = `sha256:${'2'.repeat(64)}`

describe('resolvedBases', () => {
  it('reads the images of the provenance materials buildx 0.29 writes to the metadata file', () => {
    const metadata = {
      'buildx.build.provenance': {
        materials: [
          { uri: 'pkg:docker/127.0.0.1:5093/acme/base@1?platform=linux%2Famd64', digest: { sha256: '1'.repeat(64) } },
          {
            uri: 'pkg:docker/docker.io/library/alpine@latest?platform=linux%2Farm64',
            digest: { sha256: '2'.repeat(64) }
          },
          { uri: 'https://example.com/file.tar.gz', digest: { sha256: '3'.repeat(64) } }
        ]
      }
    }
    expect(resolvedBases(metadata)).toEqual([
      { name: '127.0.0.1:5093/acme/base:1', digest: D1, platform: 'linux/amd64' },
      { name: 'alpine', digest: D2, platform: 'linux/arm64' }
    ])
  })

  it('gives nothing when the metadata holds no provenance', () => {
    expect(resolvedBases({ 'containerimage.digest': D1 })).toEqual([])
    expect(resolvedBases(null)).toEqual([])
  })

  it('keeps a reference pinned by digest as pinned', () => {
    const metadata = {
      'buildx.build.provenance': {
        materials: [{ uri: `pkg:docker/ghcr.io/acme/base@${D2}`, digest: { sha256: '2'.repeat(64) } }]
      }
    }
    expect(resolvedBases(metadata)).toEqual([{ name: `ghcr.io/acme/base@${D2}`, digest: D2 }])
  })
})

describe('familiarName and registryOf', () => {
  it('write Docker Hub names as Docker does, and find the registry of a reference', () => {
    expect(familiarName('docker.io/library/ubuntu')).toBe('ubuntu')
    expect(familiarName('library/ubuntu')).toBe('ubuntu')
    expect(familiarName('docker.io/acme/tool')).toBe('acme/tool')
    expect(familiarName('ghcr.io/acme/base')).toBe('ghcr.io/acme/base')
    expect(registryOf('ubuntu:24.04')).toBe('docker.io')
    expect(registryOf('acme/tool')).toBe('docker.io')
    expect(registryOf('localhost:5000/base:1')).toBe('localhost:5000')
    expect(registryOf('ghcr.io/acme/base:1')).toBe('ghcr.io')
  })
})

describe('kept bases in a layout index and in a registry index', () => {
  const kept: KeptBase[] = [
    { name: 'alpine:3', digest: D1, resolved: D2, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 857 }
  ]

  it('round-trips through the layout index, leaving the cache manifest out', () => {
    const index = {
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: D2,
          size: 1616,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' }
        },
        keptDescriptor(kept[0] as KeptBase)
      ]
    }
    expect(keptBases(index)).toEqual(kept)
  })

  it('round-trips through the annotations of the registry index', () => {
    const raw = JSON.stringify({
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D1, size: 857 }],
      annotations: basesIndexAnnotations(kept)
    })
    expect(keptInBasesIndex(raw)).toEqual(kept)
    expect(keptInBasesIndex('not json')).toEqual([])
  })

  it('become named contexts', () => {
    expect(baseContextArgs(kept, 'oci-layout:///tmp/cache')).toEqual([
      '--build-context',
      `alpine:3=oci-layout:///tmp/cache@${D1}`
    ])
  })
})

describe('baseResolveFailure', () => {
  it('reads a registry that refused, and says it in one sentence', () => {
    const output =
      '#2 ERROR: unexpected status from HEAD request to http://127.0.0.1:40001/v2/acme/limited/manifests/1: 429 Too Many Requests\n' +
      'ERROR: failed to build: failed to solve: 127.0.0.1:40001/acme/limited:1: failed to resolve source metadata for 127.0.0.1:40001/acme/limited:1: unexpected status from HEAD request to http://127.0.0.1:40001/v2/acme/limited/manifests/1: 429 Too Many Requests\n'
    const failure = baseResolveFailure(output)
    expect(failure).toMatchObject({ name: '127.0.0.1:40001/acme/limited:1', registry: '127.0.0.1:40001', status: 429 })
    expect(baseFailureSentence(failure as NonNullable<typeof failure>)).toMatch(
      /^The base image 127\.0\.0\.1:40001\/acme\/limited:1 could not be resolved: its registry 127\.0\.0\.1:40001 answered 429 Too Many Requests \(a pull rate limit\)\. Log in to 127\.0\.0\.1:40001 with docker\/login-action/
    )
  })

  it('reads a registry that could not be reached', () => {
    const output =
      'ERROR: failed to build: failed to solve: failed to resolve source metadata for ubuntu:24.04: failed to do request: Head "https://registry-1.docker.io/v2/library/ubuntu/manifests/24.04": dial tcp: lookup registry-1.docker.io: no such host'
    const failure = baseResolveFailure(output)
    expect(failure).toMatchObject({ name: 'ubuntu:24.04', registry: 'docker.io' })
    expect(failure?.status).toBeUndefined()
  })

  it('is not a build error of another kind', () => {
    expect(
      baseResolveFailure('ERROR: failed to solve: process "/bin/sh -c false" did not complete successfully')
    ).toBeUndefined()
  })
})
