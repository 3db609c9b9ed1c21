// The key covers what BuildKit sends and nothing else: the bundled action on a
// real engine, the real @actions/cache client and the local cache service.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { rebuiltSteps } from '../support/build-steps.js'
import { docker, workspaceFrom } from '../support/engine.js'
import { pushTo, writer } from '../support/events.js'
import { freshJob, type JobOutcome } from '../support/fresh-job.js'
import { indexEntries } from '../support/entries.js'
import { cacheServiceForFile } from '../support/suite.js'

jest.setTimeout(300_000)

const pushToMaster = pushTo('master')
const masterToken = writer('master')

const service = cacheServiceForFile()
const made: string[] = []
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true })
})

const job = (workspace: string, image: string): Promise<JobOutcome> =>
  freshJob(service, { workspace, image, event: pushToMaster, scopes: masterToken })

function write(root: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true })
    fs.writeFileSync(path.join(root, name), text)
  }
}

/** The paths the log lists under "Hashing ...", in order. */
function hashedPaths(log: string): string[] {
  return log.split('\n').flatMap(line => {
    const m = /^ {2}(?:[-x][0-9a-f]{12}|link:[0-9a-f]{8}) {2}(.+)$/.exec(line)
    return m ? [m[1]] : []
  })
}

/** Files and links below a directory, relative to it, without entering linked directories. */
function listed(dir: string, below = ''): string[] {
  return fs.readdirSync(path.join(dir, below), { withFileTypes: true }).flatMap(entry => {
    const relative = below === '' ? entry.name : `${below}/${entry.name}`
    return entry.isDirectory() ? listed(dir, relative) : [relative]
  })
}

function hashLine(log: string, file: string): string | undefined {
  return log.split('\n').find(line => line.endsWith(`  ${file}`))
}

describe('key precision', () => {
  // A directory outside the workspace, named by an absolute link in it. BuildKit
  // resolves that link inside the context, where a copy of the same path holds
  // what the build really reads.
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'))
  made.push(outside)
  const workspace = workspaceFrom('ci-image')
  made.push(workspace)
  const mirrored = `${outside.slice(1)}/hostname`
  fs.rmSync(path.join(workspace, 'data'), { recursive: true })
  write(outside, { hostname: 'read from outside the context\n' })
  write(workspace, {
    Dockerfile: [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'COPY src/ /src/',
      'COPY data/hostname /etc/build-host',
      'RUN cat /src/main.c /etc/build-host',
      ''
    ].join('\n'),
    '.dockerignore': 'src/NOTES.md\n',
    'src/main.c': 'int main(void) { return 0; }\n',
    'src/NOTES.md': 'notes nobody builds\n',
    [mirrored]: 'the context copy\n'
  })
  fs.symlinkSync(outside, path.join(workspace, 'data'))
  let firstKey = ''
  // The saved entry's key: the content key and a generation.
  let firstEntry = ''

  it('hashes the link as a link, what it leads to inside the context, and nothing ignored or outside', async () => {
    const r = await job(workspace, 'kp-image')
    expect(r.main.exitCode).toBe(0)
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
    expect(hashedPaths(r.main.log)).toEqual(['.dockerignore', 'Dockerfile', 'busybox', 'data', 'src/main.c', mirrored])
    expect(hashLine(r.main.log, 'data')).toMatch(/^ {2}link:/)
    for (const hashed of hashedPaths(r.main.log)) expect(hashed.startsWith('/') || hashed.startsWith('..')).toBe(false)
    expect(r.main.log).toContain('less what .dockerignore excludes')
    const engine = docker('version', '--format', '{{.Server.Os}}/{{.Server.Arch}}').trim()
    expect(r.main.log).toContain(`  platforms (engine default: ${engine})`)
    // The build read the copy inside the context too, as its RUN step printed.
    expect(r.main.log).toContain('the context copy')
    expect(r.main.log).not.toContain('read from outside the context')
    firstKey = r.main.outputs.key
    firstEntry = indexEntries(service).find(e => e.key.startsWith(`${firstKey}/`))?.key ?? ''
    expect(firstEntry).not.toBe('')
  })

  it('keeps the key when an ignored file or the file outside the context changes: an exact hit, every step cached, nothing saved', async () => {
    write(workspace, { 'src/NOTES.md': 'notes edited\n' })
    write(outside, { hostname: 'edited outside the context\n' })
    const r = await job(workspace, 'kp-image')
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs).toMatchObject({
      key: firstKey,
      'cache-hit': 'true',
      'cache-source': 'exact',
      'matched-key': firstEntry
    })
    expect(r.main.log).toContain('5 of 5 steps were cached.')
    expect(r.post?.log).toContain(`Cache hit occurred on the primary key ${firstKey}, not saving cache.`)
    expect(r.writes).toBe(0)
  })

  it('changes the key when a copied file changes', async () => {
    write(workspace, { 'src/main.c': 'int main(void) { return 1; }\n' })
    const r = await job(workspace, 'kp-image')
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs.key).not.toBe(firstKey)
    expect(r.main.outputs).toMatchObject({ 'cache-hit': 'false', 'cache-source': 'branch', 'matched-key': firstEntry })
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
  })
})

describe('the files the key covers', () => {
  it('are the files BuildKit sends for COPY . under a .dockerignore with exceptions, links and a link to /', async () => {
    const workspace = workspaceFrom('ci-image')
    made.push(workspace)
    write(workspace, {
      Dockerfile: 'FROM scratch\nCOPY . /c/\n',
      '.dockerignore': [
        '*.md',
        '!KEEP.md',
        'docs/*',
        '!docs/api',
        '**/*.log',
        'vendor',
        '!vendor/*/LICENSE',
        'c++',
        'busybox',
        ''
      ].join('\n'),
      'README.md': 'r',
      'KEEP.md': 'k',
      'src/a.md': 'a',
      'docs/guide.txt': 'g',
      'docs/api/x.txt': 'x',
      'deep/a/b.log': 'l',
      'vendor/lib/big.bin': 'b',
      'vendor/lib/LICENSE': 'L',
      'c++': 'c',
      Makefile: 'm'
    })
    fs.symlinkSync('/', path.join(workspace, 'root'))
    fs.symlinkSync('/etc/hostname', path.join(workspace, 'hostname'))
    const r = await freshJob(service, {
      workspace,
      image: 'kp-context',
      event: {
        name: 'pull_request',
        ref: 'refs/pull/3/merge',
        headRef: 'f',
        baseRef: 'master',
        payload: { repository: { default_branch: 'master' }, pull_request: { number: 3 } }
      },
      scopes: [{ scope: 'refs/pull/3/merge', permission: 3 }]
    })
    expect(r.main.exitCode).toBe(0)

    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sent-'))
    made.push(out)
    docker('buildx', 'build', '--output', `type=local,dest=${out}`, workspace)
    const sent = listed(path.join(out, 'c'))
    // The Dockerfile and the ignore file are hashed whether or not the build copies them.
    expect(hashedPaths(r.main.log).filter(p => p !== 'Dockerfile' && p !== '.dockerignore')).toEqual(
      sent.filter(p => p !== 'Dockerfile' && p !== '.dockerignore').sort()
    )
    expect(sent).toContain('root')
  })
})

// A file server in the engine's network namespace, where BuildKit fetches an
// ADD of a URL. It stops when its standard input closes.
const FILE_SERVER = `
import * as http from 'node:http'
const server = http.createServer((req, res) => res.end('tool fetched over http\\n'))
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'))
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
`

function startFileServer(): Promise<{ port: number; child: ChildProcess }> {
  const netns = process.env.ENGINE_NETNS || undefined
  const node = [process.execPath, '--input-type=module', '-e', FILE_SERVER]
  const [command, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...node] : node
  const child = spawn(command as string, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.stdout?.once('data', (data: Buffer) => resolve({ port: Number.parseInt(data.toString(), 10), child }))
  })
}

describe('the stages and values the target reads', () => {
  // One CI Dockerfile with a stage per flavour: the key of `target: cpu` covers
  // the files cpu's steps read (a build arg, the target's architecture, an ARG
  // default, a base stage's ONBUILD COPY) and nothing that an unused flavour or
  // an unused stage binding the whole context would read.
  const arch = docker('version', '--format', '{{.Server.Arch}}').trim()
  const otherArch = arch === 'arm64' ? 'amd64' : 'arm64'
  const workspace = workspaceFrom('ci-image')
  made.push(workspace)
  const keys: string[] = []

  beforeAll(() => {
    write(workspace, {
      Dockerfile: [
        'FROM scratch AS base',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        'ONBUILD COPY onbuild/ /onbuild/',
        '',
        'FROM base AS lint',
        'RUN --mount=type=bind,target=/src ls -R /src',
        '',
        'FROM base AS rocm',
        'COPY rocm/ /opt/rocm/',
        '',
        'FROM base AS cpu',
        'ARG CONFIG',
        'ARG TARGETARCH',
        'ARG REQUIREMENTS=requirements/cpu.txt',
        'COPY conf/${CONFIG} /etc/app.conf',
        'COPY bin/${TARGETARCH}/tool /bin/tool',
        'COPY ${REQUIREMENTS} /opt/requirements.txt',
        'RUN cat /onbuild/setup.sh /etc/app.conf /bin/tool /opt/requirements.txt',
        ''
      ].join('\n'),
      'onbuild/setup.sh': 'echo onbuild\n',
      'conf/prod.conf': 'prod\n',
      'conf/dev.conf': 'dev\n',
      [`bin/${arch}/tool`]: `tool for ${arch}\n`,
      [`bin/${otherArch}/tool`]: `tool for ${otherArch}\n`,
      'requirements/cpu.txt': 'numpy\n',
      'requirements/rocm.txt': 'torch-rocm\n',
      'rocm/setup.sh': 'echo rocm\n',
      'README.md': 'docs\n'
    })
  })
  const cpuJob = (): Promise<JobOutcome> =>
    freshJob(service, {
      workspace,
      image: 'kp-stages',
      inputs: { target: 'cpu', 'build-args': 'CONFIG=prod.conf' },
      event: pushToMaster,
      scopes: masterToken
    })

  it("hashes the files the target's steps read, and builds", async () => {
    const r = await cpuJob()
    expect(r.main.exitCode).toBe(0)
    expect(r.main.log).toContain('Hashing the context sources of stages base, cpu (target cpu)')
    expect(hashedPaths(r.main.log)).toEqual([
      'Dockerfile',
      `bin/${arch}/tool`,
      'busybox',
      'conf/prod.conf',
      'onbuild/setup.sh',
      'requirements/cpu.txt'
    ])
    // The RUN step printed what the build read.
    expect(r.main.log).toContain(`tool for ${arch}`)
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
    keys.push(r.main.outputs.key)
  })

  it.each([
    ['a file of a flavour the target does not build', 'rocm/setup.sh'],
    ['a file only an unused stage reads, through a bind mount of the whole context', 'README.md'],
    ['a file the build arg does not name', 'conf/dev.conf'],
    ["another architecture's file", `bin/${otherArch}/tool`],
    ['a file the ARG default does not name', 'requirements/rocm.txt']
  ])('keeps the key and every step cached when %s changes (%s)', async (_what, file) => {
    write(workspace, { [file]: `edited ${Date.now()}\n` })
    const r = await cpuJob()
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs).toMatchObject({ key: keys[0], 'cache-hit': 'true', 'cache-source': 'exact' })
    const cached = /(\d+) of (\d+) steps were cached\./.exec(r.main.log)
    expect(cached?.[1]).toBe(cached?.[2])
    expect(r.writes).toBe(0)
  })

  it.each([
    ['the file the build arg names', 'conf/prod.conf'],
    ["the target architecture's file", `bin/${arch}/tool`],
    ['the file the ARG default names', 'requirements/cpu.txt'],
    ["the file a base stage's ONBUILD COPY reads", 'onbuild/setup.sh']
  ])('changes the key when %s changes (%s)', async (_what, file) => {
    write(workspace, { [file]: `edited ${Date.now()}\n` })
    const r = await cpuJob()
    expect(r.main.exitCode).toBe(0)
    expect(keys).not.toContain(r.main.outputs.key)
    expect(r.main.outputs['cache-hit']).toBe('false')
    expect(r.post?.log).toContain(`Cache saved with key: ${r.main.outputs.key}`)
    keys.push(r.main.outputs.key)
  })
})

describe('a source that an ARG expands to a URL', () => {
  const workspace = workspaceFrom('ci-image')
  made.push(workspace)
  let server: { port: number; child: ChildProcess } | undefined
  let firstKey = ''

  beforeAll(async () => {
    server = await startFileServer()
    write(workspace, {
      Dockerfile: [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        `ARG TOOL_URL=http://127.0.0.1:${server.port}/tool.txt`,
        'ADD ${TOOL_URL} /opt/tool.txt',
        'COPY app/ /app/',
        'RUN cat /opt/tool.txt /app/main.sh',
        ''
      ].join('\n'),
      'app/main.sh': 'echo app\n',
      'notes.txt': 'notes\n'
    })
  })
  afterAll(() => {
    server?.child.stdin?.end()
  })

  const urlJob = (): Promise<JobOutcome> => job(workspace, 'kp-url')

  it('reads nothing from the context for it: the key covers the copied files, not the whole context', async () => {
    const r = await urlJob()
    expect(r.main.exitCode).toBe(0)
    expect(hashedPaths(r.main.log)).toEqual(['Dockerfile', 'app/main.sh', 'busybox'])
    expect(r.main.log).toContain('tool fetched over http')
    firstKey = r.main.outputs.key
  })

  it('keeps the key and every step cached when another file of the context changes', async () => {
    write(workspace, { 'notes.txt': 'edited notes\n' })
    const r = await urlJob()
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs).toMatchObject({ key: firstKey, 'cache-hit': 'true', 'cache-source': 'exact' })
    // BuildKit fetches the URL again to learn its digest, then takes the ADD from the cache.
    expect(rebuiltSteps(r.main.log)).toEqual([])
  })
})
