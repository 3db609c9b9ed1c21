import * as core from '@actions/core'
import * as github from '@actions/github'
import { printable } from '../printable.js'
import { timeLimit } from '../time-limit.js'
import type { EventFacts } from './event.js'

// The repository's default branch: what the run says of it, else what the
// REST API answers, else a guess said in a warning.

/** Where the default branch's name came from: said in the log, so a wrong one can be traced. */
export type DefaultBranchSource =
  | { kind: 'input' }
  | { kind: 'payload' }
  /** GitHub runs a schedule on the default branch, and its payload holds nothing but the cron line. */
  | { kind: 'schedule-ref' }
  | { kind: 'rest-api' }
  | { kind: 'fallback'; why: string }

export interface DefaultBranch {
  name: string
  source: DefaultBranchSource
}

const FALLBACK_DEFAULT_BRANCH = 'master'
const LOOKUP_TIMEOUT_SECONDS = 10

/** The default branch as the run itself tells it, without asking anyone; undefined when it does not. */
export function knownDefaultBranch(facts: EventFacts, input: string): DefaultBranch | undefined {
  if (input) return { name: input, source: { kind: 'input' } }
  const repository = facts.payload.repository as { default_branch?: unknown } | undefined
  if (typeof repository?.default_branch === 'string' && repository.default_branch !== '') {
    return { name: repository.default_branch, source: { kind: 'payload' } }
  }
  if (facts.eventName === 'schedule' && facts.ref.startsWith('refs/heads/')) {
    return { name: facts.ref.slice('refs/heads/'.length), source: { kind: 'schedule-ref' } }
  }
  return undefined
}

export type AskDefaultBranch = (facts: EventFacts, token: string) => Promise<string>

/**
 * The default branch: from the input, the payload or a schedule's ref, else
 * from the REST API, else master with a warning. Never throws: a wrong guess
 * costs saves, never the job.
 */
export async function resolveDefaultBranch(
  facts: EventFacts,
  input: string,
  token: string,
  ask: AskDefaultBranch = askDefaultBranch
): Promise<DefaultBranch> {
  const found = knownDefaultBranch(facts, input) ?? (await fromApi(facts, token, ask))
  if (found.source.kind === 'fallback') {
    core.warning(
      `Could not learn the repository's default branch (${found.source.why}); assuming ${found.name}. ` +
        'Set `default-branch`, or give `github-token` read access to the repository.'
    )
  } else {
    core.info(`Default branch: ${printable(found.name)} (${describeSource(found.source)})`)
  }
  return found
}

async function fromApi(facts: EventFacts, token: string, ask: AskDefaultBranch): Promise<DefaultBranch> {
  const fallback = (why: string): DefaultBranch => ({
    name: FALLBACK_DEFAULT_BRANCH,
    source: { kind: 'fallback', why }
  })
  if (!token) return fallback('the event does not name it and there is no github-token to ask the REST API with')
  try {
    return { name: await ask(facts, token), source: { kind: 'rest-api' } }
  } catch (error) {
    return fallback(
      `the event does not name it and the REST API did not answer: ${firstLine((error as Error).message)}`
    )
  }
}

function describeSource(source: DefaultBranchSource): string {
  switch (source.kind) {
    case 'input':
      return 'from the default-branch input'
    case 'payload':
      return 'from the event payload'
    case 'schedule-ref':
      return 'a schedule runs on the default branch: from GITHUB_REF'
    case 'rest-api':
      return 'from the REST API: the event payload does not name it'
    case 'fallback':
      return `assumed: ${source.why}`
  }
}

/** GET /repos/{owner}/{repo} with the token, within a few seconds; throws when there is no answer. */
export async function askDefaultBranch(facts: EventFacts, token: string): Promise<string> {
  const [owner, repo, extra] = (facts.repository ?? '').split('/')
  if (!owner || !repo || extra !== undefined)
    throw new Error(`GITHUB_REPOSITORY is not owner/name ("${facts.repository ?? ''}")`)
  const deadline = timeLimit(LOOKUP_TIMEOUT_SECONDS, `no answer within ${LOOKUP_TIMEOUT_SECONDS} s`)
  const octokit = github.getOctokit(token, facts.apiUrl ? { baseUrl: facts.apiUrl } : {})
  try {
    const response = await octokit.request('GET /repos/{owner}/{repo}', { owner, repo, request: { signal: deadline } })
    const name = (response.data as { default_branch?: unknown }).default_branch
    if (typeof name !== 'string' || name === '') throw new Error('the answer has no default_branch')
    return name
  } catch (error) {
    if (deadline.aborted) throw deadline.reason
    throw error
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? ''
}
