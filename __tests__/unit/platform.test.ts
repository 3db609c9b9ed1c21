import { describe, expect, it } from '@jest/globals'
import { parseDefaultPlatform } from '../../src/docker/builder.js'

describe('parseDefaultPlatform', () => {
  it("takes the builder's first platform, its native one", () => {
    const inspect =
      'Name: default\nDriver: docker\n\nNodes:\nName: default\nStatus: running\nPlatforms:        linux/amd64, linux/amd64/v2, linux/386\nLabels:\n'
    expect(parseDefaultPlatform(inspect)).toBe('linux/amd64')
    expect(parseDefaultPlatform('Platforms: linux/arm64*, linux/arm/v7\n')).toBe('linux/arm64')
  })

  it('finds nothing for a builder that has not started', () => {
    expect(
      parseDefaultPlatform('Name: b\nDriver: docker-container\n\nNodes:\nName: b0\nStatus: inactive\nPlatforms:\n')
    ).toBeUndefined()
    expect(parseDefaultPlatform('Name: b\nDriver: docker-container\n')).toBeUndefined()
  })
})
