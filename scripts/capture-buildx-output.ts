// Captures what the action parses from docker and buildx (progress lines,
// CACHED steps, layer downloads, import and export failures, error lines,
// `buildx inspect`, `docker info`, registry errors) from a real engine, into
// __fixtures__/buildx-output/buildx-<version>/, for the unit tests that run
// each parser on every version captured. Run beside the engines:
//   bash scripts/in-engine.sh node scripts/capture-buildx-output.ts
//   ENGINE_SUITE=trixie bash scripts/in-engine.sh node scripts/capture-buildx-output.ts
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function need(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: run this through scripts/in-engine.sh`)
  return value
}

const engine = need('DOCKER_HOST')
const classic = need('CLASSIC_DOCKER_HOST')
const registry = need('ENGINE_REGISTRY')
const authRegistry = need('ENGINE_REGISTRY_AUTH')

interface Run {
  status: number
  output: string
}

/** stdout then stderr, as the action reads them; buildx writes its progress to stderr. */
function docker(host: string, args: string[], config?: string): Run {
  const env = { ...process.env, DOCKER_HOST: host, ...(config ? { DOCKER_CONFIG: config } : {}) }
  const r = spawnSync('docker', args, { env, encoding: 'utf8' })
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}` }
}

function ok(host: string, args: string[], config?: string): string {
  const r = docker(host, args, config)
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed:\n${r.output}`)
  return r.output
}

const version = /v?(\d+\.\d+)/.exec(ok(engine, ['buildx', 'version']).split(' ')[1] ?? '')?.[1]
if (!version) throw new Error('buildx did not say its version')
const out = path.join(ROOT, '__fixtures__', 'buildx-output', `buildx-${version}`)
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

// Wall-clock figures and ids differ between captures; the parsers read neither.
function save(name: string, text: string): void {
  fs.writeFileSync(path.join(out, `${name}.txt`), text)
}

function fresh(host: string): void {
  docker(host, ['buildx', 'prune', '-af'])
  docker(host, ['image', 'rm', '-f', 'capture'])
}

const context = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-'))
fs.cpSync(path.join(ROOT, '__fixtures__', 'ci-image'), context, { recursive: true })
fs.copyFileSync(need('BUSYBOX'), path.join(context, 'busybox'))
// Steps of their own: nothing another build left can serve them.
fs.writeFileSync(path.join(context, 'nonce'), `${Date.now()}-${Math.random()}\n`)
const dockerfile = path.join(context, 'Dockerfile')
fs.writeFileSync(
  dockerfile,
  fs.readFileSync(dockerfile, 'utf8').replace(/^FROM scratch$/m, 'FROM scratch\nCOPY nonce /nonce')
)
const cacheDir = path.join(context, '.cache')
const build = (host: string, extra: string[]): Run =>
  docker(host, ['buildx', 'build', '--progress=plain', '--tag', 'capture', '--load', ...extra, context])

try {
  fresh(engine)
  save('cold-build', build(engine, ['--cache-to', `type=local,dest=${cacheDir},mode=max`]).output)
  fresh(engine)
  save('warm-local-import', build(engine, ['--cache-from', `type=local,src=${cacheDir}`]).output)

  const ref = `${registry}/capture:${version}`
  build(engine, ['--cache-to', `type=registry,ref=${ref},mode=max,image-manifest=true,oci-mediatypes=true`])
  fresh(engine)
  save('registry-import', build(engine, ['--cache-from', `type=registry,ref=${ref}`]).output)

  // A cache directory that lost a layer: the import fails part-way.
  const broken = path.join(context, '.broken')
  fs.cpSync(cacheDir, broken, { recursive: true })
  const blobs = path.join(broken, 'blobs', 'sha256')
  const largest = fs
    .readdirSync(blobs)
    .map(name => ({ name, size: fs.statSync(path.join(blobs, name)).size }))
    .sort((a, b) => b.size - a.size)[0]
  if (largest) fs.rmSync(path.join(blobs, largest.name))
  fresh(engine)
  save('import-missing-blob', build(engine, ['--cache-from', `type=local,src=${broken}`]).output)

  // A cache directory whose largest layer holds other bytes of the same size.
  const corrupt = path.join(context, '.corrupt')
  fs.cpSync(cacheDir, corrupt, { recursive: true })
  if (largest) {
    const file = path.join(corrupt, 'blobs', 'sha256', largest.name)
    fs.writeFileSync(file, Buffer.alloc(fs.statSync(file).size, 7))
  }
  fresh(engine)
  save('import-corrupt-blob', build(engine, ['--cache-from', `type=local,src=${corrupt}`]).output)

  const failing = path.join(context, 'Failing.Dockerfile')
  fs.writeFileSync(failing, `${fs.readFileSync(dockerfile, 'utf8')}RUN echo the tests failed >&2 && exit 3\n`)
  save('build-error', build(engine, ['--file', failing]).output)

  // Failed builds, for the step that failed and what finished before it
  // (docker/failed-step.ts): a named stage failing on a continued line, one
  // platform of two failing, a syntax error, a failing first step.
  const failure = (name: string, text: string, extra: string[] = []): void => {
    const file = path.join(context, `${name}.Dockerfile`)
    fs.writeFileSync(file, text)
    save(
      name,
      docker(engine, ['buildx', 'build', '--progress=plain', '--no-cache', '--file', file, ...extra, context]).output
    )
  }
  const busybox = 'COPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
  failure(
    'multistage-continuation-error',
    `FROM scratch AS base\n${busybox}\nFROM base AS toolchain\nRUN echo toolchain > /toolchain\nRUN echo more > /more \\\n  && echo second \\\n  && exit 5\n\nFROM base AS final\nCOPY --from=toolchain /toolchain /toolchain\nRUN echo done\n`
  )
  failure('syntax-error', 'FROM scratch\nCOPY busybox /bin/busybox\nFROBNICATE the tests\n')
  failure('first-step-error', 'FROM scratch\nRUN ["/bin/busybox", "false"]\nCOPY busybox /bin/busybox\n')
  failure(
    'multiplatform-error',
    `FROM scratch\n${busybox}ARG TARGETARCH\nRUN echo building for $TARGETARCH > /arch\nRUN [ "$TARGETARCH" = amd64 ] || exit 6\n`,
    ['--platform', 'linux/amd64,linux/386']
  )
  failure(
    'parallel-stage-error',
    `FROM scratch AS base\n${busybox}FROM base AS slow\nRUN sleep 5 && echo slow > /slow\nFROM base AS fails\nRUN exit 7\nFROM base\nCOPY --from=slow /slow /slow\nCOPY --from=fails /slow /x\n`
  )

  // The classic store's docker driver cannot export: refused, or ignored with ignore-error.
  save('classic-export-refused', build(classic, ['--cache-to', `type=local,dest=${cacheDir}.classic`]).output)
  save(
    'classic-export-ignored',
    build(classic, ['--cache-to', `type=local,dest=${cacheDir}.classic,ignore-error=true`]).output
  )

  save('inspect-docker-containerd', ok(engine, ['buildx', 'inspect']))
  save('inspect-docker-classic', ok(classic, ['buildx', 'inspect']))
  save('info-driver-status-containerd', ok(engine, ['info', '--format', '{{json .DriverStatus}}']))
  save('info-driver-status-classic', ok(classic, ['info', '--format', '{{json .DriverStatus}}']))
  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-config-'))
  fs.symlinkSync(path.join(need('DOCKER_CONFIG'), 'cli-plugins'), path.join(config, 'cli-plugins'))
  const builder = 'capture-builder'
  ok(
    classic,
    ['buildx', 'create', '--name', builder, '--driver', 'docker-container', '--driver-opt', 'network=host'],
    config
  )
  try {
    save('inspect-container-inactive', ok(classic, ['buildx', 'inspect', builder], config))
    save('inspect-container-bootstrapped', ok(classic, ['buildx', 'inspect', '--bootstrap', builder], config))
  } finally {
    docker(classic, ['buildx', 'rm', '--force', builder], config)
    fs.rmSync(config, { recursive: true, force: true })
  }

  const inspect = (target: string): string =>
    docker(engine, ['buildx', 'imagetools', 'inspect', '--raw', target]).output
  save('imagetools-not-found', inspect(`${registry}/capture:no-such-tag`))
  save('imagetools-unauthorized', inspect(`${authRegistry}/capture:${version}`))
  save('imagetools-refused', inspect('127.0.0.1:5999/capture:any'))
  console.log(`captured into ${path.relative(ROOT, out)}: ${fs.readdirSync(out).join(', ')}`)
} finally {
  fresh(engine)
  fs.rmSync(context, { recursive: true, force: true })
}
