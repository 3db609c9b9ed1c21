import { describe, expect, it } from '@jest/globals'
import { errorLine } from '../../../src/docker/error-line.js'

const progress = `#0 building with "default" instance using docker driver
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#5 [1/4] COPY busybox /bin/busybox
#5 CACHED
#6 [2/4] RUN ["/bin/busybox", "--install", "-s", "/bin"]
#6 CACHED
#7 [3/4] COPY data/ /data/
#7 DONE 0.1s
#8 [4/4] RUN ls /data
#8 0.120 something
#8 DONE 0.2s
#9 exporting to image
`

describe('errorLine', () => {
  it('takes the last ERROR line of a failed build', () => {
    const out = `${progress}#8 ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n------\nERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n`
    expect(errorLine(out)).toBe(
      'failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'
    )
  })
})
