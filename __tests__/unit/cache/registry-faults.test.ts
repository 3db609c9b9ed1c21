import { describe, expect, it } from '@jest/globals'
import { classifyError, explainPushFailure } from '../../../src/cache/registry-faults.js'

describe('classifyError', () => {
  // What docker buildx 0.13 printed against a distribution registry, and what ghcr.io answers.
  it.each([
    ['ERROR: 127.0.0.1:5000/cache:ci.master.newest.0123: not found', 'missing'],
    ['ERROR: 127.0.0.1:5000/denied-forbidden:x: not found', 'missing'],
    [
      'ERROR: pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials',
      'denied'
    ],
    [
      'ERROR: unexpected status from HEAD request to http://127.0.0.1:5001/v2/c/blobs/sha256:034b: 401 Unauthorized',
      'denied'
    ],
    [
      'ERROR: failed to authorize: failed to fetch oauth token: unexpected status from GET request to https://ghcr.io/token?scope=repository%3Aacme%2Fc%3Apull&service=ghcr.io: 403 Forbidden',
      'denied'
    ],
    ['denied: permission_denied: write_package', 'denied'],
    [
      'ERROR: unexpected status from POST request to http://127.0.0.1:5002/v2/c/blobs/uploads/: 405 Method Not Allowed',
      'read-only'
    ],
    [
      'ERROR: failed to do request: Head "http://127.0.0.1:5999/v2/denied/manifests/401": dial tcp 127.0.0.1:5999: connect: connection refused',
      'broken'
    ],
    [
      'ERROR: failed to do request: Head "https://nosuch.example/v2/c/manifests/t": dial tcp: lookup nosuch.example: no such host',
      'broken'
    ],
    [
      'ERROR: unexpected status from GET request to https://r.example/v2/c/manifests/t: 500 Internal Server Error',
      'broken'
    ],
    ['', 'broken']
  ])('%s → %s', (stderr, kind) => {
    expect(classifyError(stderr).kind).toBe(kind)
  })

  it('keeps the message of the last ERROR line, without the noise around it', () => {
    const fault = classifyError(
      '#1 resolving\nWARNING: something\nERROR: first\nERROR: unexpected status: 401 Unauthorized\n'
    )
    expect(fault).toEqual({ kind: 'denied', message: 'unexpected status: 401 Unauthorized' })
  })
})

describe('explainPushFailure', () => {
  it('names the login and the permission when the registry refused the push', () => {
    const text = explainPushFailure(
      'error writing layer blob: unexpected status from HEAD request to http://r/v2/c/blobs/x: 401 Unauthorized',
      'ghcr.io/acme/c:t'
    )
    expect(text).toContain('the registry refused the push to ghcr.io/acme/c:t')
    expect(text).toContain('docker/login-action')
    expect(text).toContain('`permissions: packages: write`')
  })

  it('says a read-only registry takes no pushes', () => {
    expect(
      explainPushFailure(
        'unexpected status from POST request to http://r/v2/c/blobs/uploads/: 405 Method Not Allowed',
        'r/c:t'
      )
    ).toMatch(/does not take pushes to r\/c:t .*read-only or a mirror/)
  })

  it('passes other failures on as they are', () => {
    expect(explainPushFailure('dial tcp 10.0.0.1:443: i/o timeout', 'r/c:t')).toBe(
      'the push to r/c:t failed: dial tcp 10.0.0.1:443: i/o timeout'
    )
  })
})
