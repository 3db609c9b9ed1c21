// What an image's labels say about the key and builder it was built for, and
// the labels a build gives it: a hit only when all three match this run.
import { describe, expect, it } from '@jest/globals'
import {
  BUILDER_LABEL,
  HASH_VERSION_LABEL,
  imageLabelArgs,
  judgeLabels,
  KEY_LABEL
} from '../../../src/docker/engine-image.js'
import { HASH_VERSION } from '../../../src/key/hash-version.js'

const KEY = `buildx/ci/master/${'c'.repeat(64)}`
const wanted = { key: KEY, builder: 'default' }

// The labels as `docker image inspect --format '{{json .Config.Labels}}'` parses.
function labelsOf(args: string[]): Record<string, string> {
  const labels: Record<string, string> = {}
  for (let i = 0; i < args.length; i += 2) {
    expect(args[i]).toBe('--label')
    const [name, ...value] = args[i + 1].split('=')
    labels[name] = value.join('=')
  }
  return labels
}

describe('the labels of an image the action built', () => {
  it('name the key, the hash version and the builder, each as one argument', () => {
    expect(labelsOf(imageLabelArgs(wanted))).toEqual({
      [KEY_LABEL]: KEY,
      [HASH_VERSION_LABEL]: HASH_VERSION,
      [BUILDER_LABEL]: 'default'
    })
  })

  it('are a hit for the same key on the same builder', () => {
    expect(judgeLabels(labelsOf(imageLabelArgs(wanted)), wanted)).toEqual({ kind: 'holds', key: KEY })
  })

  it.each([
    ['another key', { ...wanted, key: `buildx/ci/master/${'d'.repeat(64)}` }],
    ['another branch', { ...wanted, key: `buildx/ci/topic/${'c'.repeat(64)}` }],
    ['another builder', { ...wanted, builder: 'builder-0f3a' }]
  ])('are no hit for %s', (_what, built) => {
    expect(judgeLabels(labelsOf(imageLabelArgs(built)), wanted).kind).toBe('other-key')
  })

  it('are no hit when written by another hash version', () => {
    const labels = { ...labelsOf(imageLabelArgs(wanted)), [HASH_VERSION_LABEL]: 'v1' }
    expect(judgeLabels(labels, wanted).kind).toBe('other-key')
  })

  it.each([
    ['no labels at all', null],
    ["another tool's labels", { maintainer: 'x' }],
    ['a key without the hash version', { [KEY_LABEL]: KEY, [BUILDER_LABEL]: 'default' }],
    [
      'a label that is not a string',
      { [KEY_LABEL]: 1, [HASH_VERSION_LABEL]: HASH_VERSION, [BUILDER_LABEL]: 'default' }
    ],
    ['not an object', 'text']
  ])('are no hit with %s', (_what, labels) => {
    expect(judgeLabels(labels, wanted)).toEqual({ kind: 'unlabelled' })
  })
})
