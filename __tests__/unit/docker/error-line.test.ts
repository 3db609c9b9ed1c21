import { describe, expect, it } from '@jest/globals'
import { errorLine } from '../../../src/docker/error-line.js'
import { progress } from '../../support/buildx-progress.js'

describe('errorLine', () => {
  it('takes the last ERROR line of a failed build', () => {
    const out = `${progress}#8 ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n------\nERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n`
    expect(errorLine(out)).toBe(
      'failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    )
  })
})
