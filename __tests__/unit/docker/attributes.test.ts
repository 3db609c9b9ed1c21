import { describe, expect, it } from '@jest/globals'
import { attributes } from '../../../src/docker/attributes.js'

describe('attributes', () => {
  it('leaves plain values alone and quotes a field with a comma, a quote or a line break', () => {
    expect(attributes(['type', 'local'], ['dest', '/cache/x'], ['mode', 'max'])).toBe(
      'type=local,dest=/cache/x,mode=max'
    )
    expect(attributes(['type', 'local'], ['dest', '/mnt/a,b'], ['mode', 'max'])).toBe(
      'type=local,"dest=/mnt/a,b",mode=max'
    )
    expect(attributes(['src', '/say "hi"'])).toBe('"src=/say ""hi"""')
    expect(attributes(['src', '/a\nb'])).toBe('"src=/a\nb"')
  })
})
