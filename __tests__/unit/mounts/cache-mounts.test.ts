import { describe, expect, it } from '@jest/globals'
import { contextSources } from '../../../src/key/dockerfile.js'
import { parseDockerfile } from '../../../src/key/dockerfile-parse.js'
import {
  cut,
  restoreDockerfile,
  RESTORED_CONTEXT,
  saveDockerfile,
  unwritable
} from '../../../src/mounts/generated-dockerfile.js'

const df = (...lines: string[]): string => `${lines.join('\n')}\n`
const mountsOf = (text: string, target = '', buildArgs: Array<{ name: string; value: string }> = []) =>
  contextSources(text, { buildArgs, target, platforms: [] }).cacheMounts

describe('the cache mounts of a Dockerfile', () => {
  it('reads id (default: the target), target, sharing, from, source, mode, uid and gid, with the RUN that first uses each', () => {
    const text = df(
      'FROM debian AS build',
      'ARG CCACHE=/root/.ccache',
      'RUN --mount=type=cache,target=$CCACHE,id=ccache,sharing=locked,uid=1000,gid=1000,mode=0700 make',
      'RUN --mount=type=cache,dst=/var/cache/apt --mount=type=bind,source=x,target=/x apt-get update'
    )
    expect(mountsOf(text)).toEqual([
      {
        id: 'ccache',
        target: '/root/.ccache',
        sharing: 'locked',
        mode: '0700',
        uid: '1000',
        gid: '1000',
        stage: 'build',
        stageIndex: 0,
        line: 3
      },
      { id: '/var/cache/apt', target: '/var/cache/apt', sharing: 'shared', stage: 'build', stageIndex: 0, line: 4 }
    ])
  })

  it('keeps one mount per id across stages, and only the stages the target needs', () => {
    const text = df(
      'FROM debian AS a',
      'RUN --mount=type=cache,id=cargo,target=/usr/local/cargo/registry cargo fetch',
      'FROM a AS b',
      'RUN --mount=type=cache,id=cargo,target=/cargo,from=a,source=/src cargo build',
      'FROM debian AS unused',
      'RUN --mount=type=cache,target=/pip pip install x',
      'FROM b'
    )
    const mounts = mountsOf(text)
    expect(mounts.map(m => [m.id, m.stage, m.line])).toEqual([['cargo', 'a', 2]])
    expect(mountsOf(text, 'unused').map(m => m.id)).toEqual(['/pip'])
  })

  it('leaves out a mount whose target or id cannot be known before the build', () => {
    const text = df('FROM debian', 'RUN --mount=type=cache,target=$FROM_IMAGE_ENV make')
    expect(mountsOf(text)).toEqual([])
  })
})

describe('the generated Dockerfiles', () => {
  const original = df(
    'FROM scratch',
    'COPY busybox /bin/busybox',
    'COPY src /src',
    'RUN --mount=type=cache,id=ccache,target=/root/.ccache,uid=1000 make',
    'RUN echo after'
  )
  const [mount] = mountsOf(original)

  it('cut the file before the RUN that uses the mount (its line is 1-based)', () => {
    expect(cut(original, 4)).toBe('FROM scratch\nCOPY busybox /bin/busybox\nCOPY src /src')
    expect(cut(original, 1)).toBe('')
  })

  it('restore: one RUN on the cut stage, with the same cache mount and the restored files bound from a named context', () => {
    const text = restoreDockerfile(original, mount, 'abc', 'nonce-1')
    expect(text.startsWith('FROM scratch\nCOPY busybox /bin/busybox\nCOPY src /src\nUSER 0:0\nRUN ')).toBe(true)
    expect(text).toContain('--mount=type=cache,target=/buildx-ci-cache/mount,id=ccache,sharing=shared,uid=1000 ')
    expect(text).toContain(`--mount=type=bind,from=${RESTORED_CONTEXT},source=abc,target=/buildx-ci-cache/in `)
    expect(text).toContain('nonce-1')
    expect(text).toContain('chown -R 1000:0 /buildx-ci-cache/mount')
    expect(text).not.toContain('RUN echo after')
    const run = parseDockerfile(text).instructions.at(-1)
    expect(run?.json).toBe(true)
    expect(run?.flags.filter(f => f.name === 'mount')).toHaveLength(2)
  })

  it('save: the cut stage copies the mount out, and a last stage from scratch holds only its files', () => {
    const text = saveDockerfile(original, mount, 'nonce-2')
    const instructions = parseDockerfile(text).instructions
    expect(instructions.filter(i => i.keyword === 'from').map(i => i.args[0])).toEqual(['scratch', 'scratch'])
    expect(instructions.at(-1)?.text).toBe('COPY --from=0 /buildx-ci-cache/out/ /')
    expect(text).toContain('nonce-2')
  })

  it('refuse a mount whose values would need quoting in a RUN line', () => {
    expect(unwritable(mount)).toBeUndefined()
    expect(unwritable({ ...mount, id: 'a b' })).toMatch(/its id/)
  })
})
