// `pull` and `no-cache`: what a maintainer sets to force a fresh image, and
// the arguments buildx gets for them.
import { afterAll, describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { buildxArgs } from '../../src/docker/buildx-args.js'
import { InputError, parseInputs } from '../../src/inputs.js'

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'fresh-build-'))
fs.writeFileSync(path.join(workspace, 'Dockerfile'), 'FROM scratch\n')
afterAll(() => fs.rmSync(workspace, { recursive: true, force: true }))

const parse = (values: Record<string, string>) => parseInputs(name => values[name] ?? '', workspace)
const run = { iidFile: '/t/iid', metadataFile: '/t/meta.json', output: 'image' as const }
const restored = [{ type: 'local' as const, dir: '/t/restored' }]
const exportTo = { type: 'local' as const, dir: '/t/new' }

describe('the pull and no-cache inputs', () => {
  it('are off unless set', () => {
    expect(parse({ image: 'ci' })).toMatchObject({ pull: false, noCache: false })
    expect(parse({ image: 'ci', pull: 'true', 'no-cache': 'TRUE' })).toMatchObject({ pull: true, noCache: true })
  })

  it('refuse anything but true or false, naming the input', () => {
    expect(() => parse({ image: 'ci', 'no-cache': 'yes' })).toThrow(InputError)
    expect(() => parse({ image: 'ci', 'no-cache': 'yes' })).toThrow(
      'Input `no-cache` must be true or false, not "yes".'
    )
    expect(() => parse({ image: 'ci', pull: '1' })).toThrow('Input `pull` must be true or false')
  })
})

describe('buildxArgs', () => {
  it('passes --pull, and keeps the restored cache', () => {
    const args = buildxArgs(parse({ image: 'ci', pull: 'true' }), { from: restored }, run)
    expect(args).toContain('--pull')
    expect(args).not.toContain('--no-cache')
    expect(args.join(' ')).toContain('--cache-from type=local,src=/t/restored')
  })

  it("with no-cache, imports nothing and ignores the engine's cache, but still exports for a save", () => {
    const args = buildxArgs(parse({ image: 'ci', 'no-cache': 'true' }), { from: restored, to: exportTo }, run)
    expect(args).toContain('--no-cache')
    expect(args).not.toContain('--cache-from')
    expect(args.join(' ')).toContain('--cache-to type=local,dest=/t/new,mode=max')
  })

  it('passes neither by default', () => {
    const args = buildxArgs(parse({ image: 'ci' }), { from: restored }, run)
    expect(args).not.toContain('--pull')
    expect(args).not.toContain('--no-cache')
  })
})
