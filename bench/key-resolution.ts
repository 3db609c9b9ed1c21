// The key of a large context: the main step reads the Dockerfile, lists the
// files its COPY sources cover and hashes each one before it can ask for the
// cache. Measured in process on the action's own modules, without the
// engine: this is pure file-system and hashing work.
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { imageHash } from '../src/key/hash.js'
import { parseInputs } from '../src/inputs.js'
import { keyPlan } from '../src/key/key.js'
import { stopwatch } from './timing.js'

export interface KeyResolution {
  files: number
  bytes: number
  seconds: number[]
}

const FILES_PER_DIR = 100

/**
 * A repository-like context of `count` files of 200 B to 16 KB (source files,
 * mostly small), laid out 100 to a directory, copied whole by the Dockerfile.
 */
export function makeKeyContext(workspace: string, count: number): number {
  const context = path.join(workspace, 'app')
  let bytes = 0
  for (let i = 0; i < count; i++) {
    const dir = path.join(context, 'src', `module-${Math.floor(i / FILES_PER_DIR)}`)
    if (i % FILES_PER_DIR === 0) fs.mkdirSync(dir, { recursive: true })
    const content = sourceFile(i)
    fs.writeFileSync(path.join(dir, `file-${i}.c`), content)
    bytes += content.length
  }
  fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM scratch\nCOPY . /app/\n')
  return bytes
}

// Deterministic, text-like, sizes skewed towards small files as in real trees.
function sourceFile(i: number): Buffer {
  const seed = createHash('sha256').update(String(i)).digest()
  const size = 200 + Math.floor(((seed[0] * 256 + seed[1]) / 65536) ** 3 * 16_000)
  const line = `/* ${seed.toString('hex')} */ int f${i}(int x) { return x * ${seed[2]}; }\n`
  return Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size))
}

/** Inputs as the action reads them, then the hash and the key plan, as the main step computes them. */
export async function resolveKey(workspace: string, files: number): Promise<number> {
  const values: Record<string, string> = { image: 'ci-app', context: 'app' }
  const elapsed = stopwatch()
  const inputs = parseInputs(name => values[name] ?? '', workspace)
  const hashed = await imageHash(inputs, workspace, () => 'linux/amd64')
  keyPlan({
    prefix: inputs.keyPrefix,
    image: inputs.image,
    branch: 'master',
    defaultBranch: 'master',
    hash: hashed.hash
  })
  const seconds = elapsed()
  // The Dockerfile and every context file: anything less measured less work.
  if (hashed.files.length < files + 1)
    throw new Error(`The key covered ${hashed.files.length} files, not the context's ${files} and the Dockerfile.`)
  return seconds
}

export async function keyResolution(workspace: string, count: number, runs: number): Promise<KeyResolution> {
  const bytes = makeKeyContext(workspace, count)
  const seconds: number[] = []
  for (let i = 0; i < runs; i++) seconds.push(await resolveKey(workspace, count))
  return { files: count, bytes, seconds }
}
