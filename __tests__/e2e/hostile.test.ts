// Hostile inputs against the bundled action on a real engine: names, tags,
// build args and branches full of shell syntax, quotes, commas, unicode and
// length; paths that climb out of the workspace; a missing Dockerfile; no
// buildx; secrets. Each is refused with an error naming the input, or used
// literally under a safe, unambiguous key, and none of it ever reaches a shell.
import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runtimeToken } from '../support/cache-service.js'
import { freshRunner, workspaceFrom } from '../support/engine.js'
import { pushTo, repository } from '../support/events.js'
import { runJob, type EventSpec, type JobResult } from '../support/run-action.js'
import { cacheServiceForFile } from '../support/suite.js'
import { indexEntries } from '../support/entries.js'

jest.setTimeout(120_000)

// Any command smuggled in below would create a file named after this.
const NONCE = randomBytes(6).toString('hex')
const PWNED = `/tmp/pwned-${NONCE}`
const ENGINE_TMP = path.join(process.env.ENGINE_ROOT ?? '/opt/engine-root', 'tmp')
const subst = (tag: string): string => `$(touch ${PWNED}-${tag})`
const backticks = (tag: string): string => `\`touch ${PWNED}-${tag}\``

/** Every way a value has been tried here to reach a shell, at once. */
const hostile = (tag: string): string =>
  `a,b "dq" 'sq' ${subst(tag)} ${backticks(`${tag}-bt`)} ; touch ${PWNED}-${tag}-semi | ünïcödé 🚀 \${HOME}`

const service = cacheServiceForFile()
afterEach(() => {
  // The promise of the whole file, checked after every test: nothing ran.
  const smuggled = [...fs.readdirSync('/tmp'), ...(fs.existsSync(ENGINE_TMP) ? fs.readdirSync(ENGINE_TMP) : [])].filter(
    n => n.includes(NONCE)
  )
  expect(smuggled).toEqual([])
})

const onMaster = pushTo('master')

interface Run extends JobResult {
  runnerTemp: string
  log: string
}

async function run(
  workspace: string,
  inputs: Record<string, string>,
  options: { event?: EventSpec; env?: Record<string, string>; image?: string } = {}
): Promise<Run> {
  freshRunner(options.image ?? 'hostile')
  const runnerTemp = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-temp-'))
  const event = options.event ?? onMaster
  const env = { ...service.env(runtimeToken([{ scope: event.ref, permission: 3 }])), ...options.env }
  const result = await runJob({ inputs, event, workspace, runnerTemp, env })
  return { ...result, runnerTemp, log: `${result.main.log}\n${result.post?.log ?? ''}` }
}

/** A key the service takes and a directory can be named by: escaped components, within the client's limits. */
function expectSafeKey(key: string): void {
  expect(key.length).toBeLessThanOrEqual(512)
  expect(key).toMatch(/^[A-Za-z0-9._%~-]+(\/[A-Za-z0-9._%~-]+){3}$/)
  for (const component of key.split('/')) {
    expect(component.length).toBeLessThanOrEqual(100)
    expect(component.startsWith('.')).toBe(false)
  }
}

describe('values used literally', () => {
  const workspace = workspaceFrom('ci-image')
  // Build args the build must see exactly as given, each checked by the RUN
  // below against a file written here: the build fails unless they match.
  const args: Record<string, string> = {
    A_HOSTILE: hostile('arg'),
    A_EQUALS: 'x=y=z',
    A_BACKSLASH: 'C:\\path\\n\\t %0A',
    A_LONG: `${hostile('long')} ${'ünï,"$`'.repeat(140)}`.slice(0, 1000)
  }
  const longName = (tail: string): string => `ci ${hostile('image')} ${'x'.repeat(1000)}`.slice(0, 999) + tail
  const branch = `feat/${hostile('branch').replace(/ /g, '_')}/${'ü/'.repeat(300)}end`
  const onBranch = pushTo(branch)
  const inputs = {
    image: longName('1'),
    tags: 'hostile:ok',
    file: 'Dockerfile.args',
    'build-args': Object.entries(args)
      .map(([name, value]) => `${name}=${value}`)
      .join('\n'),
    // The hostile branch is made the default one, so that the run saves under it.
    'default-branch': branch
  }
  let key = ''

  beforeAll(() => {
    fs.mkdirSync(path.join(workspace, 'expected'))
    for (const [name, value] of Object.entries(args))
      fs.writeFileSync(path.join(workspace, 'expected', name), `${value}\n`)
    fs.writeFileSync(
      path.join(workspace, 'Dockerfile.args'),
      `${[
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        ...Object.keys(args).map(name => `ARG ${name}`),
        'COPY expected/ /expected/',
        // The shell expands the variable once and never evaluates its value;
        // cmp fails the build on any difference.
        ...Object.keys(args).map(
          name =>
            `RUN printf '%s\\n' "$${name}" | cmp - /expected/${name} || { echo "the build saw another ${name}: $${name}"; exit 1; }`
        )
      ].join('\n')}\n`
    )
  })

  it('builds with hostile image, build args and branch, sees every value literally, and saves under a safe key', async () => {
    const r = await run(workspace, inputs, { event: onBranch, image: 'hostile:ok' })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs.imageid).toMatch(/^sha256:/)
    key = r.main.outputs.key
    expectSafeKey(key)
    expect(r.post?.log).toContain(`Cache saved with key: ${key}`)
    expect(indexEntries(service).some(e => e.scope === onBranch.ref && e.key.startsWith(`${key}/`))).toBe(true)
    expect(service.requests.every(q => q.key === undefined || !q.key.includes(','))).toBe(true)
    expect(fs.readdirSync(r.runnerTemp)).toEqual([])
  })

  it('finds that entry again from a fresh runner: the key is stable', async () => {
    const r = await run(workspace, inputs, { event: onBranch, image: 'hostile:ok' })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.outputs).toMatchObject({ key, 'cache-hit': 'true', 'cache-source': 'exact' })
  })

  it("keeps two long names that differ only at the end apart: one never gets the other's cache", async () => {
    const r = await run(workspace, { ...inputs, image: longName('2') }, { event: onBranch, image: 'hostile:ok' })
    expect(r.main.exitCode).toBe(0)
    expectSafeKey(r.main.outputs.key)
    expect(r.main.outputs.key.split('/')[1]).not.toBe(key.split('/')[1])
    expect(r.main.outputs['cache-source']).toBe('none')
  })

  it('normalises an absolute cache-root that climbs with ..', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-'))
    const r = await run(workspace, { image: 'hostile', 'cache-backend': 'local', 'cache-root': `${base}/a/../b` })
    expect(r.main.exitCode).toBe(0)
    expect(r.post?.log).toContain('Cache saved with key:')
    expect(fs.readdirSync(base)).toEqual(['b'])
    expect(fs.existsSync(path.join(base, 'b', r.main.outputs.key, 'index.json'))).toBe(true)
  })

  it('keeps a cache-root holding a comma and a quote one directory for buildx', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-'))
    const root = path.join(base, 'ci, "cache"')
    const inputs = { image: 'hostile', 'cache-backend': 'local', 'cache-root': root }
    const cold = await run(workspace, inputs)
    expect(cold.main.exitCode).toBe(0)
    expect(cold.post?.log).toContain('Cache saved with key:')
    expect(fs.readdirSync(base)).toEqual(['ci, "cache"'])
    const warm = await run(workspace, inputs)
    expect(warm.main.exitCode).toBe(0)
    expect(warm.main.outputs).toMatchObject({ 'cache-hit': 'true', 'cache-source': 'exact' })
  })

  it('runs a hostile target only as a stage name: the build fails for its own reason', async () => {
    const r = await run(workspace, { image: 'hostile', target: subst('target') })
    expect(r.main.exitCode).toBe(1)
    expect(r.main.log).toMatch(/::error::The image build failed .*target stage ".*" could not be found/)
    expect(r.main.log).not.toContain('building once more without it')
  })
})

describe('values refused with an error naming the input', () => {
  const workspace = workspaceFrom('ci-image')

  it.each<[string, Record<string, string>, RegExp]>([
    ['an image on two lines', { image: `ci\n${subst('nl')}` }, /Input `image` must be a single line/],
    [
      'an image that is no valid tag',
      { image: hostile('image-tag') },
      /Input `image` \(.*\) is used as the image's tag but is not a valid image reference/
    ],
    [
      'a tag with shell syntax',
      { image: 'hostile', tags: `ok:1,${subst('tag')}` },
      /Tag ".*" in `tags` is not a valid image reference/
    ],
    ['a tag with quotes and unicode', { image: 'hostile', tags: 'ok:"ü"' }, /in `tags` is not a valid image reference/],
    [
      'a tag of 1,000 characters',
      { image: 'hostile', tags: `ok:${'a'.repeat(997)}` },
      /in `tags` is not a valid image reference/
    ],
    [
      'a build arg line without a name',
      { image: 'hostile', 'build-args': `A=1\n${subst('argline')}` },
      /Each line of `build-args` must be NAME=value/
    ],
    [
      'a build arg name with shell syntax',
      { image: 'hostile', 'build-args': `A${subst('argname')}=1` },
      /Each line of `build-args` must be NAME=value/
    ],
    [
      'a secret id with shell syntax',
      { image: 'hostile', secrets: `id${subst('secretid')}=value-${NONCE}` },
      /Entry 1 of `secrets` must be id=value/
    ],
    [
      'a file outside the workspace',
      { image: 'hostile', file: '../../../etc/passwd' },
      /Input `file` \(.*\) resolves outside the workspace/
    ],
    [
      'a context outside the workspace',
      { image: 'hostile', context: '../..' },
      /Input `context` \(.*\) resolves outside the workspace/
    ],
    [
      'a Dockerfile that does not exist',
      { image: 'hostile', file: 'no/such/Dockerfile' },
      /No Dockerfile at .*no\/such\/Dockerfile\. Set `file`/
    ],
    [
      'a relative cache-root',
      { image: 'hostile', 'cache-backend': 'local', 'cache-root': '../cache' },
      /Input `cache-root` must be an absolute path/
    ],
    [
      'a cache backend with shell syntax',
      { image: 'hostile', 'cache-backend': `gha;${subst('backend')}` },
      /Input `cache-backend` must be one of gha, local/
    ],
    [
      'a timeout with shell syntax',
      { image: 'hostile', 'restore-timeout': `5${subst('timeout')}` },
      /Input `restore-timeout` must be a positive number of seconds/
    ],
    [
      'a key prefix on two lines',
      { image: 'hostile', 'key-prefix': `p\n${subst('prefix')}` },
      /Input `key-prefix` must be a single line/
    ],
    [
      'a default branch on two lines',
      { image: 'hostile', 'default-branch': `master\n${subst('default')}` },
      /Input `default-branch` must be a single line/
    ]
  ])('%s', async (_, inputs, error) => {
    const r = await run(workspace, inputs)
    expect(r.main.exitCode).toBe(1)
    expect(
      r.main.log
        .split('\n')
        .filter(l => l.startsWith('::error::'))
        .join('\n')
    ).toMatch(error)
    expect(r.post?.exitCode).toBe(0)
    expect(fs.readdirSync(r.runnerTemp)).toEqual([])
  })

  it('never repeats a refused secret line, which may hold the secret', async () => {
    const r = await run(workspace, { image: 'hostile', secrets: `not an id=value-${NONCE}` })
    expect(r.main.exitCode).toBe(1)
    expect(r.log).not.toContain(`value-${NONCE}`)
  })

  it('says buildx is missing when the docker CLI has no buildx plugin', async () => {
    // The CLI runs the first docker-buildx it finds, in DOCKER_CONFIG/cli-plugins
    // before the system's plugin directories (/usr/libexec/docker/cli-plugins
    // and the like, where GitHub's runners have one), and takes a first one
    // that is not a plugin for none at all: a plain file there hides them all.
    const config = fs.mkdtempSync(path.join(os.tmpdir(), 'no-plugins-'))
    fs.mkdirSync(path.join(config, 'cli-plugins'))
    fs.writeFileSync(path.join(config, 'cli-plugins', 'docker-buildx'), '')
    const r = await run(workspace, { image: 'hostile' }, { env: { DOCKER_CONFIG: config, HOME: config } })
    expect(r.main.exitCode).toBe(1)
    expect(r.main.log).toMatch(/::error::docker buildx is not available \(.*\)\. Install Docker with the buildx plugin/)
    expect(r.post?.exitCode).toBe(0)
    expect(fs.readdirSync(r.runnerTemp)).toEqual([])
  })

  it('says docker is missing when no docker CLI is on PATH, and fails the job clearly', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-docker-'))
    const r = await run(workspace, { image: 'hostile' }, { env: { PATH: empty } })
    expect(r.main.exitCode).toBe(1)
    expect(r.main.log).toMatch(
      /::error::docker buildx is not available \(Unable to locate executable file: docker\b.*\)\. Install Docker/
    )
    expect(r.main.log).not.toContain('Unexpected error')
    expect(r.post?.exitCode).toBe(0)
    expect(fs.readdirSync(r.runnerTemp)).toEqual([])
  })

  it('does not let a file name carrying a newline issue a workflow command', async () => {
    // Git allows such a name, so a pull request can bring one; the key hashes
    // it and the log lists it.
    const ws = workspaceFrom('ci-image')
    fs.writeFileSync(path.join(ws, 'data', 'x\n::warning::injected by a file name'), 'x')
    const r = await run(ws, { image: 'hostile' })
    expect(r.main.exitCode).toBe(0)
    expect(r.log.split('\n').filter(l => l.includes('injected'))).not.toContainEqual(expect.stringMatching(/^::/))
  })

  it('does not let a ref carrying a newline issue a workflow command', async () => {
    // Git refuses such a name; the action must not depend on it.
    const event: EventSpec = { name: 'push', ref: 'refs/heads/x\n::error::injected', payload: { repository } }
    const r = await run(workspace, { image: 'hostile' }, { event })
    expect(r.main.exitCode).toBe(0)
    expect(r.log.split('\n').filter(l => l.startsWith('::error::'))).toEqual([])
  })
})

describe('secrets', () => {
  const workspace = workspaceFrom('ci-image')
  const secret = `s3cr3t ${NONCE} "dq" 'sq' ${subst('secret')}, ünï`
  const other = `second-${NONCE}-secret`
  const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-root-'))

  beforeAll(() => {
    // The RUN checks the secret by its digest: the value itself is nowhere in the Dockerfile.
    const digest = createHash('sha256').update(secret).digest('hex')
    fs.writeFileSync(
      path.join(workspace, 'Dockerfile.secret'),
      `${[
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        `RUN --mount=type=secret,id=tok --mount=type=secret,id=other test "$(sha256sum < /run/secrets/tok | cut -d' ' -f1)" = ${digest} && test -s /run/secrets/other && echo "saw both secrets"`
      ].join('\n')}\n`
    )
  })

  it('reach the build, and never the log, the summary, the state, the outputs or the cache', async () => {
    const r = await run(workspace, {
      image: 'hostile',
      file: 'Dockerfile.secret',
      secrets: `tok=${secret}\nother=${other}`,
      'cache-backend': 'local',
      'cache-root': cacheRoot,
      // Layers stored as plain tar, so a secret inside one would show.
      'cache-compression': 'uncompressed'
    })
    expect(r.main.exitCode).toBe(0)
    expect(r.main.log).toContain('saw both secrets')
    expect(r.post?.log).toContain('Cache saved with key:')
    // The runner reads `::add-mask::` and shows neither the command nor the value.
    const shown = r.log.split('\n').filter(l => !l.startsWith('::add-mask::'))
    for (const value of [secret, other]) {
      expect(r.log).toContain(`::add-mask::${value}`)
      expect(shown.join('\n')).not.toContain(value)
      expect(r.summary).not.toContain(value)
      expect(JSON.stringify(r.state)).not.toContain(value)
      expect(JSON.stringify(r.main.outputs)).not.toContain(value)
      expect(filesContaining(cacheRoot, value)).toEqual([])
    }
    expect(r.summary).toContain(r.main.outputs.key)
  })
})

describe('secrets that span lines or keep their spaces', () => {
  const workspace = workspaceFrom('ci-image')
  const pem = `-----BEGIN OPENSSH PRIVATE KEY-----\n${NONCE}AAAAB3NzaC1yc2EAAAADAQABAAABAQ\n-----END OPENSSH PRIVATE KEY-----\n`
  const spaced = `  padded ${NONCE}  `
  const fromEnv = `  {"token": "${NONCE}",\n "list": [1, 2]}\n`
  const fromFile = `\t${NONCE} file secret, "quoted"\n\n`
  const keyDir = path.join(workspace, 'keys, "old"')
  const digest = (value: string): string => createHash('sha256').update(value).digest('hex')

  beforeAll(() => {
    fs.mkdirSync(keyDir)
    fs.writeFileSync(path.join(keyDir, 'id.pem'), fromFile)
    const check = (id: string, value: string): string =>
      `RUN --mount=type=secret,id=${id} test "$(sha256sum < /run/secrets/${id} | cut -d' ' -f1)" = ${digest(value)} || { echo "secret ${id} is not as given"; exit 1; }`
    fs.writeFileSync(
      path.join(workspace, 'Dockerfile.secrets'),
      `${[
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        check('pem', pem),
        check('spaced', spaced),
        check('env', fromEnv),
        check('file', fromFile),
        'RUN echo "every secret as given"'
      ].join('\n')}\n`
    )
  })

  it('reach the build byte for byte, by value, from the environment and from a file', async () => {
    const r = await run(
      workspace,
      {
        image: 'hostile',
        file: 'Dockerfile.secrets',
        secrets: `"pem=${pem}"\n"spaced=${spaced}"`,
        'secret-envs': 'env=DEPLOY_JSON',
        'secret-files': `file=${path.relative(workspace, path.join(keyDir, 'id.pem'))}`
      },
      { env: { DEPLOY_JSON: fromEnv } }
    )
    expect(r.main.exitCode).toBe(0)
    expect(r.main.log).toContain('every secret as given')
    const shown = r.log.split('\n').filter(l => !l.startsWith('::add-mask::'))
    expect(shown.join('\n')).not.toContain(NONCE)
  })
})

function filesContaining(dir: string, text: string): string[] {
  const needle = Buffer.from(text)
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter(e => e.isFile())
    .map(e => path.join(e.parentPath, e.name))
    .filter(file => fs.readFileSync(file).includes(needle))
}
