import { afterAll, describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { imageHash } from '../../src/key/hash.js'
import { parseInputs } from '../../src/inputs.js'

const roots: string[] = []
afterAll(() => roots.forEach(r => fs.rmSync(r, { recursive: true, force: true })))

/** A workspace with an image folder, shared scripts and an unrelated file. */
function workspace(dockerfile = 'FROM scratch\nCOPY scripts/build.sh /tmp/\nCOPY conf/ /etc/conf/\nRUN sh /tmp/build.sh\n'): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'hash-'))
  roots.push(ws)
  const files: Record<string, string> = {
    Dockerfile: dockerfile,
    'scripts/build.sh': 'echo build\n',
    'scripts/other.sh': 'echo other\n',
    'conf/a.conf': 'a=1\n',
    'conf/nested/b.conf': 'b=2\n',
    'README.md': 'docs\n'
  }
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(ws, name)), { recursive: true })
    fs.writeFileSync(path.join(ws, name), text)
  }
  return ws
}

const hashOf = async (ws: string, inputs: Record<string, string> = {}) =>
  imageHash(parseInputs(name => ({ image: 'ci', ...inputs })[name] ?? '', ws), ws)

describe('imageHash', () => {
  it('covers the Dockerfile and exactly the files its COPY lines read', async () => {
    const ws = workspace()
    const hashed = await hashOf(ws)
    expect(hashed.files.map(f => f.path)).toEqual(['Dockerfile', 'conf/a.conf', 'conf/nested/b.conf', 'scripts/build.sh'])
  })

  it('is the same for the same inputs in another workspace', async () => {
    expect((await hashOf(workspace())).hash).toBe((await hashOf(workspace())).hash)
  })

  it('changes when a COPY source, a file below a copied folder, or the Dockerfile changes', async () => {
    const ws = workspace()
    const before = (await hashOf(ws)).hash
    for (const [file, text] of [['scripts/build.sh', 'echo v2\n'], ['conf/nested/b.conf', 'b=3\n'], ['Dockerfile', 'FROM scratch\n']]) {
      const changed = workspace()
      fs.writeFileSync(path.join(changed, file), text)
      expect((await hashOf(changed)).hash).not.toBe(before)
    }
  })

  it('does not change for files the build does not read', async () => {
    const ws = workspace()
    const before = (await hashOf(ws)).hash
    fs.writeFileSync(path.join(ws, 'README.md'), 'other docs\n')
    fs.writeFileSync(path.join(ws, 'scripts/other.sh'), 'echo changed\n')
    expect((await hashOf(ws)).hash).toBe(before)
  })

  it('changes with the executable bit, which COPY keeps', async () => {
    const ws = workspace()
    const before = (await hashOf(ws)).hash
    fs.chmodSync(path.join(ws, 'scripts/build.sh'), 0o755)
    expect((await hashOf(ws)).hash).not.toBe(before)
  })

  it('changes with build args, target and platforms, and logs no build-arg value', async () => {
    const ws = workspace()
    const base = await hashOf(ws, { 'build-args': 'VERSION=1' })
    expect((await hashOf(ws, { 'build-args': 'VERSION=2' })).hash).not.toBe(base.hash)
    expect((await hashOf(ws, { 'build-args': 'VERSION=1', target: 'dist' })).hash).not.toBe(base.hash)
    expect((await hashOf(ws, { 'build-args': 'VERSION=1', platforms: 'linux/arm64' })).hash).not.toBe(base.hash)
    expect(base.settings.join('\n')).not.toContain('VERSION=1')
  })

  it('hashes the whole context when a source uses a variable', async () => {
    const ws = workspace('FROM scratch\nARG DIR=conf\nCOPY ${DIR} /etc/\n')
    const hashed = await hashOf(ws)
    expect(hashed.origin).toContain('the whole context')
    expect(hashed.files.map(f => f.path)).toContain('README.md')
  })

  it('takes hash-files instead of the derived sources, with ! exclusions', async () => {
    const ws = workspace()
    const hashed = await hashOf(ws, { 'hash-files': 'scripts/**\nconf/**\n!conf/nested/**' })
    expect(hashed.files.map(f => f.path)).toEqual(['Dockerfile', 'conf/a.conf', 'scripts/build.sh', 'scripts/other.sh'])
  })
})
