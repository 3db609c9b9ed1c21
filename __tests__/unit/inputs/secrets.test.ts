// The secrets inputs: values that span lines, keep their spaces or hold
// commas and quotes are read intact, or the input is refused with a message
// that never repeats a secret.
import { afterAll, describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { InputError, parseInputs, type Inputs } from '../../../src/inputs.js'
import { secretEntries } from '../../../src/inputs/secrets.js'

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-'))

fs.writeFileSync(path.join(workspace, 'Dockerfile'), 'FROM scratch\n')

fs.mkdirSync(path.join(workspace, 'keys'))

fs.writeFileSync(path.join(workspace, 'keys', 'deploy.pem'), '  -----BEGIN KEY-----\nabc\n-----END KEY-----  \n')

afterAll(() => fs.rmSync(workspace, { recursive: true, force: true }))

const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n'

const parse = (values: Record<string, string>, env: NodeJS.ProcessEnv = {}): Inputs =>
  parseInputs(name => values[name] ?? '', workspace, env)

const failure = (values: Record<string, string>, env: NodeJS.ProcessEnv = {}): string => {
  try {
    parse({ image: 'ci', ...values }, env)
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return (error as Error).message
  }
  throw new Error('expected an InputError')
}

describe('secretEntries', () => {
  it('reads one entry a line, trimmed, and skips blank lines', () => {
    expect(secretEntries('  a=1  \n\nb=x=y,z\n', 'secrets')).toEqual(['a=1', 'b=x=y,z'])
  })

  it('keeps a quoted entry exactly: its lines, its spaces, its commas, "" as one quote', () => {
    const text = `plain=1\n"pem=${PEM}"\n  "json={""a"": [1, 2]}  "\n"spaces=  padded  "\n`
    expect(secretEntries(text, 'secrets')).toEqual([
      'plain=1',
      `pem=${PEM}`,
      'json={"a": [1, 2]}  ',
      'spaces=  padded  '
    ])
  })

  it('takes quotes inside an unquoted line literally', () => {
    expect(secretEntries('json={"a": "b"}', 'secrets')).toEqual(['json={"a": "b"}'])
  })

  it('refuses a quote left open or text after a closing quote, without repeating the entry', () => {
    expect(secretEntries('a=1\n"b=hunter2\nmore', 'secrets')).toEqual({
      problem: 'Entry 2 of `secrets` opens a quote it never closes.'
    })
    expect(secretEntries('"b=hunter2" tail', 'secrets')).toEqual({
      problem: expect.stringMatching(/Entry 1 of `secrets` has text after its closing quote/)
    })
    expect(JSON.stringify(secretEntries('"b=hunter2" tail', 'secrets'))).not.toContain('hunter2')
  })
})

describe('secret inputs', () => {
  it('reads secrets by value, from the environment and from files', () => {
    const inputs = parse(
      {
        image: 'ci',
        secrets: `token=abc\n"key=${PEM}"`,
        'secret-envs': 'npm=NPM_TOKEN',
        'secret-files': 'deploy=keys/deploy.pem\nabs=/etc/hostname'
      },
      { NPM_TOKEN: '  spaced\nvalue  ' }
    )
    expect(inputs.secrets).toEqual([
      { id: 'token', value: 'abc' },
      { id: 'key', value: PEM }
    ])
    expect(inputs.secretEnvs).toEqual([{ id: 'npm', env: 'NPM_TOKEN' }])
    expect(inputs.secretFiles).toEqual([
      { id: 'deploy', path: path.join(workspace, 'keys', 'deploy.pem') },
      { id: 'abs', path: '/etc/hostname' }
    ])
  })

  it('refuses what buildx would take wrongly or quietly ignore, naming the input and never the value', () => {
    expect(failure({ secrets: 'hunter2-without-id' })).toBe(
      'Entry 1 of `secrets` must be id=value, with an id of letters, digits and . _ -; it is not.'
    )
    expect(failure({ secrets: 'a=hunter2\na=other' })).toBe(
      'Secret id "a" is given twice (in `secrets`); each id names one secret.'
    )
    expect(failure({ secrets: 'a=hunter2', 'secret-envs': 'a=X' }, { X: '1' })).toBe(
      'Secret id "a" is given twice (in `secrets` and `secret-envs`); each id names one secret.'
    )
    expect(failure({ 'secret-envs': 'npm=NOT SET' })).toMatch(/secret "npm" must name an environment variable/)
    expect(failure({ 'secret-envs': 'npm=NPM_TOKEN' })).toBe(
      'Input `secret-envs`: the variable NPM_TOKEN for secret "npm" is not set in this step\'s environment; set it with `env:`.'
    )
    expect(failure({ 'secret-files': 'deploy=keys/missing.pem' })).toBe(
      `Input \`secret-files\`: there is no file at ${path.join(workspace, 'keys', 'missing.pem')} for secret "deploy".`
    )
  })

  it('passes an empty variable: a fork gets one for a secret it may not see', () => {
    expect(parse({ image: 'ci', 'secret-envs': 'npm=NPM_TOKEN' }, { NPM_TOKEN: '' }).secretEnvs).toEqual([
      { id: 'npm', env: 'NPM_TOKEN' }
    ])
  })
})

describe('secrets', () => {
  it('reads id=value lines and never echoes a malformed one', () => {
    expect(parse({ image: 'ci', secrets: 'npm_token=abc=def\nother=x' }).secrets).toEqual([
      { id: 'npm_token', value: 'abc=def' },
      { id: 'other', value: 'x' }
    ])
    const message = failure({ image: 'ci', secrets: 'hunter2-without-id' })
    expect(message).toMatch(/id=value/)
    expect(message).not.toContain('hunter2')
  })
})
