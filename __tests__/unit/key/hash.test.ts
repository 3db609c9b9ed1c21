import { afterAll, describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { imageHash } from '../../../src/key/hash.js'
import { parseInputs } from '../../../src/inputs.js'

const roots: string[] = []
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
})

/** A workspace with an image folder, shared scripts and an unrelated file. */
function workspace(
  dockerfile = 'FROM scratch\nCOPY scripts/build.sh /tmp/\nCOPY conf/ /etc/conf/\nRUN sh /tmp/build.sh\n'
): string {
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

const hashOf = async (ws: string, inputs: Record<string, string> = {}, engine = 'linux/amd64') =>
  imageHash(
    parseInputs(name => ({ image: 'ci', ...inputs })[name] ?? '', ws),
    ws,
    () => engine
  )

function write(ws: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(ws, name)), { recursive: true })
    fs.writeFileSync(path.join(ws, name), text)
  }
}

const pathsOf = async (ws: string, inputs: Record<string, string> = {}) =>
  (await hashOf(ws, inputs)).files.map(f => f.path)

describe('imageHash', () => {
  it('covers the Dockerfile and exactly the files its COPY lines read', async () => {
    const ws = workspace()
    const hashed = await hashOf(ws)
    expect(hashed.files.map(f => f.path)).toEqual([
      'Dockerfile',
      'conf/a.conf',
      'conf/nested/b.conf',
      'scripts/build.sh'
    ])
  })

  it('is the same for the same inputs in another workspace', async () => {
    expect((await hashOf(workspace())).hash).toBe((await hashOf(workspace())).hash)
  })

  it('changes when a COPY source, a file below a copied folder, or the Dockerfile changes', async () => {
    const ws = workspace()
    const before = (await hashOf(ws)).hash
    for (const [file, text] of [
      ['scripts/build.sh', 'echo v2\n'],
      ['conf/nested/b.conf', 'b=3\n'],
      ['Dockerfile', 'FROM scratch\n']
    ]) {
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

  it("hashes the whole context when a source uses a variable only the base image's ENV could set, and names it", async () => {
    const ws = workspace('FROM debian:13\nCOPY ${DIR} /etc/\n')
    const hashed = await hashOf(ws)
    expect(hashed.origin).toBe(
      "the whole context, because DIR may come from the base image's ENV (stage stage-0: COPY ${DIR} /etc/)"
    )
    expect(hashed.files.map(f => f.path)).toContain('README.md')
  })

  it('takes hash-files instead of the derived sources, with ! exclusions', async () => {
    const ws = workspace()
    const hashed = await hashOf(ws, { 'hash-files': 'scripts/**\nconf/**\n!conf/nested/**' })
    expect(hashed.files.map(f => f.path)).toEqual(['Dockerfile', 'conf/a.conf', 'scripts/build.sh', 'scripts/other.sh'])
  })
})

describe('imageHash and .dockerignore', () => {
  const copySrc = 'FROM scratch\nCOPY src/ /src/\n'

  it('leaves out what .dockerignore excludes, so editing it keeps the key, and still hashes the ignore file', async () => {
    const ws = workspace(copySrc)
    write(ws, { 'src/main.c': 'int main;\n', 'src/NOTES.md': 'notes\n', '.dockerignore': 'src/NOTES.md\n' })
    const before = await hashOf(ws)
    expect(before.files.map(f => f.path)).toEqual(['.dockerignore', 'Dockerfile', 'src/main.c'])
    expect(before.origin).toContain('less what .dockerignore excludes')
    write(ws, { 'src/NOTES.md': 'edited notes\n' })
    expect((await hashOf(ws)).hash).toBe(before.hash)
    write(ws, { 'src/main.c': 'int main(void);\n' })
    const edited = (await hashOf(ws)).hash
    expect(edited).not.toBe(before.hash)
    write(ws, { '.dockerignore': 'src/NOTES.md\n*.tmp\n' })
    expect((await hashOf(ws)).hash).not.toBe(edited)
  })

  it('matches with Docker semantics: case-sensitive, * within one directory, ** across, ! brings back', async () => {
    const ws = workspace('FROM scratch\nCOPY . /app/\n')
    write(ws, {
      'src/a.md': 'a',
      'src/A.MD': 'A',
      'top.md': 't',
      'deep/x/y.log': 'y',
      'deep/keep.log': 'k',
      'vendor/lib/big.bin': 'b',
      'vendor/lib/LICENSE': 'l',
      '.dockerignore': '# a comment\nsrc/a.md\n*.md\n**/*.log\n!deep/keep.log\nvendor\n!vendor/lib/LICENSE\nbusybox\n'
    })
    const paths = await pathsOf(ws)
    expect(paths).toEqual(
      expect.arrayContaining(['src/A.MD', 'deep/keep.log', 'vendor/lib/LICENSE', 'conf/a.conf', 'Dockerfile'])
    )
    for (const gone of ['src/a.md', 'top.md', 'deep/x/y.log', 'vendor/lib/big.bin']) expect(paths).not.toContain(gone)
  })

  it('prefers <Dockerfile>.dockerignore beside the Dockerfile, as BuildKit does', async () => {
    const ws = workspace(copySrc)
    write(ws, {
      'src/main.c': 'int main;\n',
      'src/NOTES.md': 'notes\n',
      '.dockerignore': 'src/main.c\n',
      'Dockerfile.dockerignore': 'src/NOTES.md\n'
    })
    const before = await hashOf(ws)
    expect(before.files.map(f => f.path)).toEqual(['Dockerfile', 'Dockerfile.dockerignore', 'src/main.c'])
    // The context's .dockerignore is not applied, nor sent by COPY src/: it does not count.
    write(ws, { '.dockerignore': 'src/\n' })
    expect((await hashOf(ws)).hash).toBe(before.hash)
  })

  it('applies the rules when the whole context is hashed, and leaves hash-files alone', async () => {
    const ws = workspace('FROM debian:13\nCOPY ${DIR} /etc/\n')
    write(ws, { '.dockerignore': 'README.md\nscripts\n' })
    const paths = await pathsOf(ws)
    expect(paths).toContain('conf/a.conf')
    expect(paths).not.toContain('README.md')
    expect(paths).not.toContain('scripts/build.sh')
    expect(await pathsOf(ws, { 'hash-files': 'README.md' })).toEqual(['Dockerfile', 'README.md'])
  })
})

describe('imageHash and symlinks', () => {
  function outside(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'))
    roots.push(dir)
    fs.writeFileSync(path.join(dir, 'hostname'), 'secret host\n')
    return dir
  }

  it('hashes a link out of the context as a link and never reads through it', async () => {
    const out = outside()
    const ws = workspace('FROM scratch\nCOPY data/hostname /x\nCOPY data/ /data/\nCOPY data/* /star/\n')
    fs.symlinkSync(out, path.join(ws, 'data'))
    const before = await hashOf(ws)
    expect(before.files.map(f => f.path)).toEqual(['Dockerfile', 'data'])
    expect(before.files.find(f => f.path === 'data')?.digest).toMatch(/^link:/)
    fs.writeFileSync(path.join(out, 'hostname'), 'another host\n')
    fs.writeFileSync(path.join(out, 'more'), 'more\n')
    expect((await hashOf(ws)).hash).toBe(before.hash)
  })

  it('resolves an absolute link target inside the context, as BuildKit does', async () => {
    const ws = workspace('FROM scratch\nCOPY data/hostname /x\n')
    write(ws, { 'etc/hostname': 'in the context\n' })
    fs.symlinkSync('/etc', path.join(ws, 'data'))
    const before = await hashOf(ws)
    expect(before.files.map(f => f.path)).toEqual(['Dockerfile', 'data', 'etc/hostname'])
    write(ws, { 'etc/hostname': 'edited\n' })
    expect((await hashOf(ws)).hash).not.toBe(before.hash)
  })

  it('does not walk the disk through a link to /', async () => {
    const ws = workspace('FROM scratch\nCOPY root/ /r/\nCOPY . /all/\n')
    fs.symlinkSync('/', path.join(ws, 'root'))
    const paths = await pathsOf(ws)
    // The link brings the context root back, nothing more.
    expect(paths).toEqual([
      'Dockerfile',
      'README.md',
      'conf/a.conf',
      'conf/nested/b.conf',
      'root',
      'scripts/build.sh',
      'scripts/other.sh'
    ])
  })

  it('follows a link to a folder inside the context, so editing the folder changes the key', async () => {
    const ws = workspace('FROM scratch\nCOPY current/ /app/\n')
    write(ws, { 'releases/v2/app.sh': 'echo v2\n' })
    fs.symlinkSync('releases/v2', path.join(ws, 'current'))
    const before = await hashOf(ws)
    expect(before.files.map(f => f.path)).toEqual(['Dockerfile', 'current', 'releases/v2/app.sh'])
    write(ws, { 'releases/v2/app.sh': 'echo v2.1\n' })
    expect((await hashOf(ws)).hash).not.toBe(before.hash)
  })

  it('hashes links inside a copied folder as links, and a change of target changes the key', async () => {
    const out = outside()
    const ws = workspace()
    fs.symlinkSync(path.join(out, 'hostname'), path.join(ws, 'conf', 'host'))
    const before = await hashOf(ws)
    expect(before.files.map(f => f.path)).toContain('conf/host')
    fs.writeFileSync(path.join(out, 'hostname'), 'changed\n')
    expect((await hashOf(ws)).hash).toBe(before.hash)
    fs.rmSync(path.join(ws, 'conf', 'host'))
    fs.symlinkSync(path.join(out, 'elsewhere'), path.join(ws, 'conf', 'host'))
    expect((await hashOf(ws)).hash).not.toBe(before.hash)
  })

  it('hashes a link in a hash-files folder as a link, without walking the disk behind it', async () => {
    const ws = workspace()
    fs.symlinkSync('/', path.join(ws, 'conf', 'root'))
    expect(await pathsOf(ws, { 'hash-files': 'conf' })).toEqual([
      'Dockerfile',
      'conf/a.conf',
      'conf/nested/b.conf',
      'conf/root'
    ])
  })

  it('keeps a source that climbs above the context inside it', async () => {
    const out = outside()
    const context = path.join(out, 'ctx')
    fs.mkdirSync(context)
    fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM scratch\nCOPY ../hostname /x\n')
    fs.writeFileSync(path.join(context, 'hostname'), 'inside\n')
    const hashed = await imageHash(
      parseInputs(name => ({ image: 'ci', context: 'ctx' })[name] ?? '', out),
      out,
      () => 'linux/amd64'
    )
    expect(hashed.files.map(f => f.path)).toEqual(['ctx/Dockerfile', 'ctx/hostname'])
  })
})

describe('imageHash and the platform', () => {
  it("names the engine's platform when platforms is empty, so an x64 and an arm64 runner never share a key", async () => {
    const ws = workspace()
    const amd64 = await hashOf(ws, {}, 'linux/amd64')
    const arm64 = await hashOf(ws, {}, 'linux/arm64')
    expect(amd64.hash).not.toBe(arm64.hash)
    expect(amd64.settings).toContain('platforms (engine default: linux/amd64)')
  })

  it('asks nothing of the engine when platforms are given', async () => {
    const ws = workspace()
    const hashed = await imageHash(
      parseInputs(name => ({ image: 'ci', platforms: 'linux/arm64' })[name] ?? '', ws),
      ws,
      () => {
        throw new Error('the engine was asked')
      }
    )
    expect(hashed.settings).toContain('platforms linux/arm64')
  })
})

describe('imageHash of a multi-stage build', () => {
  const flavours = [
    'FROM ubuntu:24.04 AS base',
    'COPY scripts/common.sh /tmp/',
    'FROM base AS cpu',
    'COPY cpu/ /opt/cpu/',
    'FROM rocm/dev-ubuntu-24.04:6.2 AS rocm',
    'COPY rocm/ /opt/rocm/',
    'RUN --mount=type=bind,target=/ctx ls /ctx',
    ''
  ].join('\n')

  function flavourWorkspace(dockerfile = flavours): string {
    const ws = workspace(dockerfile)
    write(ws, { 'scripts/common.sh': 'echo common\n', 'cpu/setup.sh': 'echo cpu\n', 'rocm/setup.sh': 'echo rocm\n' })
    return ws
  }

  it("hashes only the target's stages, names them in the log, and keeps the key when another flavour's file changes", async () => {
    const ws = flavourWorkspace()
    const before = await hashOf(ws, { target: 'cpu' })
    expect(before.files.map(f => f.path)).toEqual(['Dockerfile', 'cpu/setup.sh', 'scripts/common.sh'])
    expect(before.origin).toBe('the context sources of stages base, cpu (target cpu): scripts/common.sh, cpu')
    write(ws, { 'rocm/setup.sh': 'echo rocm 6.3\n', 'README.md': 'edited\n' })
    expect((await hashOf(ws, { target: 'cpu' })).hash).toBe(before.hash)
    write(ws, { 'cpu/setup.sh': 'echo cpu v2\n' })
    expect((await hashOf(ws, { target: 'cpu' })).hash).not.toBe(before.hash)
    // The last stage binds the whole context.
    expect((await pathsOf(ws)).length).toBeGreaterThan(5)
  })

  it('follows the build args to the file a source names', async () => {
    const ws = workspace('FROM debian:13\nARG CONFIG\nCOPY conf/${CONFIG} /etc/app.conf\n')
    write(ws, { 'conf/prod.conf': 'prod\n', 'conf/dev.conf': 'dev\n' })
    const prod = await hashOf(ws, { 'build-args': 'CONFIG=prod.conf' })
    expect(prod.files.map(f => f.path)).toEqual(['Dockerfile', 'conf/prod.conf'])
    write(ws, { 'conf/dev.conf': 'dev v2\n' })
    expect((await hashOf(ws, { 'build-args': 'CONFIG=prod.conf' })).hash).toBe(prod.hash)
  })

  it("hashes what a base stage's ONBUILD COPY reads in the stage built FROM it", async () => {
    const ws = workspace(
      'FROM alpine AS parent\nONBUILD COPY scripts/build.sh /tmp/\nFROM parent\nRUN sh /tmp/build.sh\n'
    )
    const before = await hashOf(ws)
    expect(before.files.map(f => f.path)).toEqual(['Dockerfile', 'scripts/build.sh'])
    write(ws, { 'scripts/build.sh': 'echo v2\n' })
    expect((await hashOf(ws)).hash).not.toBe(before.hash)
  })

  it('leaves out what --exclude leaves out', async () => {
    const ws = workspace('FROM scratch\nCOPY --exclude=nested conf/ /etc/conf/\n')
    const before = await hashOf(ws)
    expect(before.files.map(f => f.path)).toEqual(['Dockerfile', 'conf/a.conf'])
    expect(before.origin).toContain('conf (--exclude=nested)')
    write(ws, { 'conf/nested/b.conf': 'b=3\n' })
    expect((await hashOf(ws)).hash).toBe(before.hash)
  })

  it('hashes the whole context for a custom frontend, and says why', async () => {
    const ws = workspace('# syntax=ghcr.io/acme/frontend:1\nFROM scratch\nCOPY conf/ /etc/conf/\n')
    const hashed = await hashOf(ws)
    expect(hashed.origin).toBe(
      "the whole context, because the Dockerfile's frontend ghcr.io/acme/frontend:1 (# syntax=) is not the standard one and may read it in its own way"
    )
    expect(hashed.files.map(f => f.path)).toContain('README.md')
  })

  it('asks the engine for its platform when a source names BUILDARCH, even with platforms given', async () => {
    const ws = workspace('FROM scratch\nARG BUILDARCH\nCOPY conf/${BUILDARCH}.conf /etc/\n')
    write(ws, { 'conf/arm64.conf': 'arm\n' })
    let asked = 0
    const hashed = await imageHash(
      parseInputs(name => ({ image: 'ci', platforms: 'linux/amd64' })[name] ?? '', ws),
      ws,
      () => {
        asked++
        return 'linux/arm64'
      }
    )
    expect(asked).toBe(1)
    expect(hashed.files.map(f => f.path)).toEqual(['Dockerfile', 'conf/arm64.conf'])
  })
})
