import { describe, expect, it } from '@jest/globals'
import { secretMasks } from '../../../src/docker/build-secrets.js'

const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n'

describe('secretMasks', () => {
  it('mask each value and, for one that spans lines, each of its lines', () => {
    expect(
      secretMasks([
        { id: 'a', value: 'abc' },
        { id: 'b', value: '' },
        { id: 'k', value: PEM }
      ])
    ).toEqual([
      'abc',
      PEM,
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      'b3BlbnNzaC1rZXktdjEAAAAA',
      '-----END OPENSSH PRIVATE KEY-----'
    ])
  })
})
