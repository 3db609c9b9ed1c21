// The key covers what BuildKit sends and nothing else: the bundled action on a
// real engine, the real @actions/cache client and the local cache service.
import { afterAll, describe, expect, it, jest } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { docker, workspaceFrom } from '../support/engine.js'
import { pushTo, writer } from '../support/events.js'
import { freshJob, type JobOutcome } from '../support/fresh-job.js'
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
    firstEntry = service.entries().find(e => e.key.startsWith(`${firstKey}/`))?.key ?? ''
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
