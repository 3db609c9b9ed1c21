// What the unit tests of github/ start from: a push to main whose payload
// names main the default branch, changed where a test says.
import type { EventFacts } from '../../src/github/event.js'

export const repo = { repository: { default_branch: 'main' } }

export const facts = (over: Partial<EventFacts>): EventFacts => ({
  eventName: 'push',
  ref: 'refs/heads/main',
  payload: repo,
  ...over
})
