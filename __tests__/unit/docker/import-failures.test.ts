// A damaged cache, told apart from everything else by the line buildx prints
// last: each seen on Docker Engine 26.1 with buildx 0.13, by breaking real caches.
import { describe, expect, it } from '@jest/globals'

import { failedOnCacheImport } from '../../../src/docker/import-failures.js'

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
    // A blob of an entry served from packs, cut short by the server (buildx 0.29).
    'failed to solve: short read: expected 31458540 bytes but got 31457280: unexpected EOF',
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

  it('does not blame the cache for a failing RUN or a missing COPY source', () => {
    expect(
      failedOnCacheImport(
        'ERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
      )
    ).toBe(false)
    expect(
      failedOnCacheImport(
        'ERROR: failed to solve: failed to compute cache key: failed to calculate checksum of ref abc::def: "/missing.sh": not found'
      )
    ).toBe(false)
  })
})

describe('failedOnCacheImport with a registry cache', () => {
  it('knows a layer the registry no longer has, fetched while the image is exported', () => {
    const d = '7ecf8f01addff76d27feaad5f42bae2c1b33a45cc00fa3659c09736c177e4dad'
    const output = `#11 exporting to image\nERROR: failed to solve: failed to copy: httpReadSeeker: failed open: could not fetch content descriptor sha256:${d} (application/vnd.oci.image.layer.v1.tar+gzip) from remote: not found\n`
    expect(failedOnCacheImport(output)).toBe(true)
  })
})
