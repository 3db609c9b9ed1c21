// The events the end-to-end tests play, and the cache scopes GitHub's token
// grants each run: a push to a branch, a pull request into one. Payloads name
// the default branch, and a pull request its number, as GitHub's do.
import type { TokenScope } from './cache-service.js'
import type { EventSpec } from './run-action.js'

export const MASTER = 'refs/heads/master'
export const repository = { default_branch: 'master' }

export function pushTo(branch: string): EventSpec {
  return { name: 'push', ref: `refs/heads/${branch}`, payload: { repository } }
}

/** A push's token: its branch's scope to read and write, the default branch's to read. */
export function writer(branch: string): TokenScope[] {
  return readable([{ scope: `refs/heads/${branch}`, permission: 3 }])
}

/** A pull request's event and token: its merge ref's scope, then its base's and the default branch's to read. */
export function pullRequestInto(base: string, n: number): { event: EventSpec; scopes: TokenScope[] } {
  const ref = `refs/pull/${n}/merge`
  return {
    event: {
      name: 'pull_request',
      ref,
      headRef: 'topic',
      baseRef: base,
      payload: { repository, number: n, pull_request: { number: n } }
    },
    scopes: readable([
      { scope: ref, permission: 3 },
      { scope: `refs/heads/${base}`, permission: 1 }
    ])
  }
}

// The default branch is always readable, and named once.
function readable(scopes: TokenScope[]): TokenScope[] {
  return scopes.some(s => s.scope === MASTER) ? scopes : [...scopes, { scope: MASTER, permission: 1 }]
}
