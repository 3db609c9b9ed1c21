// What a run is: its branch, its base branch, and a pull request's number in
// place of the head branch its author names.
import { describe, expect, it } from '@jest/globals'
import { runContext, type EventFacts } from '../../../src/github/event.js'
import { cacheSourceOf, keyPlan } from '../../../src/key/key.js'
import { facts, repo } from '../../support/event-facts.js'

describe('runContext', () => {
  it('reads a pull request as pull/<number> with its base branch, never as its head branch', () => {
    const ctx = runContext(
      facts({ eventName: 'pull_request', ref: 'refs/pull/3/merge', headRef: 'fix/x', baseRef: 'release' }),
      'main'
    )
    expect(ctx).toMatchObject({ branch: 'pull/3', baseBranch: 'release', defaultBranch: 'main' })
  })

  it("takes a pull_request_target's number from the payload: its ref is the base branch's", () => {
    const payload = { ...repo, number: 9, pull_request: { number: 9 } }
    const ctx = runContext(
      facts({ eventName: 'pull_request_target', ref: 'refs/heads/main', headRef: 'main', baseRef: 'main', payload }),
      'main'
    )
    expect(ctx).toMatchObject({ branch: 'pull/9', baseBranch: 'main' })
    const bare = runContext(
      facts({
        eventName: 'pull_request_target',
        ref: 'refs/heads/main',
        headRef: 'main',
        baseRef: 'main',
        payload: {}
      }),
      'main'
    )
    expect(bare.branch).toBe('refs/heads/main')
  })

  it('reads a merge queue run as its queue branch with its base branch', () => {
    const payload = { ...repo, merge_group: { base_ref: 'refs/heads/main' } }
    const ctx = runContext(
      facts({ eventName: 'merge_group', ref: 'refs/heads/gh-readonly-queue/main/pr-1-abc', payload }),
      'main'
    )
    expect(ctx).toMatchObject({ branch: 'gh-readonly-queue/main/pr-1-abc', baseBranch: 'main' })
  })

  it('keeps a tag ref whole so it cannot pass for a branch', () => {
    expect(runContext(facts({ ref: 'refs/tags/main' }), 'main').branch).toBe('refs/tags/main')
  })
})

describe('a fork pull request whose head branch is named like the default branch', () => {
  const hash = 'a'.repeat(64)
  const plan = (f: EventFacts) => keyPlan({ prefix: 'buildx', image: 'ci', ...runContext(f, 'main'), hash })
  const fork = facts({ eventName: 'pull_request', ref: 'refs/pull/8/merge', headRef: 'main', baseRef: 'main' })
  const masterEntry = `${plan(facts({})).content}/00000000a`

  it("builds a key of its own, not the default branch's", () => {
    expect(plan(fork).content).toBe(`buildx/ci/pull%2F8/${hash}`)
    expect(plan(fork).content).not.toBe(plan(facts({})).content)
  })

  it("restores the default branch's entry as its base branch's, never as an exact hit", () => {
    expect(cacheSourceOf(plan(fork), masterEntry)).toBe('base-branch')
    const target = facts({
      eventName: 'pull_request_target',
      ref: 'refs/heads/main',
      headRef: 'main',
      baseRef: 'main',
      payload: { number: 8 }
    })
    expect(cacheSourceOf(plan(target), masterEntry)).toBe('base-branch')
  })
})
