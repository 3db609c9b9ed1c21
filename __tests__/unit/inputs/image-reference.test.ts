// The reference checks on their own; inputs.test.ts has the messages a user
// gets from parseInputs.
import { describe, expect, it } from '@jest/globals'
import { cacheRefProblem, referenceProblem } from '../../../src/inputs/image-reference.js'

describe('referenceProblem', () => {
  it.each([
    'ci',
    'dist-x86_64-linux',
    'ghcr.io/acme/ci:1.2',
    'localhost:5000/team/ci:latest',
    'acme/a__b.c-d',
    `ghcr.io/acme/ci@sha256:${'a'.repeat(64)}`
  ])('takes %s', reference => {
    expect(referenceProblem(reference, 'tags')).toBeUndefined()
  })

  it.each(['Dist Linux', 'ci:', 'acme/-ci', 'ghcr.io/Acme/ci', `ci@sha256:${'a'.repeat(10)}`])(
    'refuses %s, naming the tag and its input',
    reference => {
      expect(referenceProblem(reference, 'tags')).toContain(`Tag "${reference}" in \`tags\``)
    }
  )

  it('says to set tags when the image name itself cannot be the tag', () => {
    expect(referenceProblem('Dist Linux')).toMatch(
      /^Input `image` \("Dist Linux"\) is used as the image's tag.*set `tags`/
    )
  })
})

describe('cacheRefProblem', () => {
  it('takes a repository with a registry, a port and a path', () => {
    expect(cacheRefProblem('ghcr.io/acme/ci-cache')).toBeUndefined()
    expect(cacheRefProblem('127.0.0.1:5000/team/cache')).toBeUndefined()
  })

  it('refuses a tag, a digest, a bare name and uppercase, each in its own words', () => {
    expect(cacheRefProblem('ghcr.io/acme/ci-cache:latest')).toMatch(/names a tag or digest/)
    expect(cacheRefProblem(`ghcr.io/acme/c@sha256:${'a'.repeat(64)}`)).toMatch(/names a tag or digest/)
    expect(cacheRefProblem('ci-cache')).toMatch(/not a repository of the form/)
    expect(cacheRefProblem('ghcr.io/acme/Ci')).toMatch(/not a repository of the form/)
  })
})
