import * as path from 'node:path'
import { Input } from '../constants.js'
import { isFile } from '../fsutil.js'
import type { Inputs, ReadInput } from '../inputs.js'

// The secrets, secret-envs and secret-files inputs. A refused entry comes back
// as a Problem for inputs.ts to refuse the input with; no problem repeats a
// secret's value: an entry is named by its position, and its id only once the
// id is known to be one.

export type Secrets = Pick<Inputs, 'secrets' | 'secretEnvs' | 'secretFiles'>

/** Why an input cannot be read, in a sentence that names the input. */
export interface Problem {
  problem: string
}

export function isProblem<T>(checked: T | Problem): checked is Problem {
  return typeof checked === 'object' && checked !== null && 'problem' in checked
}

const SECRET_ID = /^[A-Za-z0-9_.-]+$/

/** `env`: the step's environment, in which each variable secret-envs names must be set. */
export function readSecrets(read: ReadInput, workspace: string, env: NodeJS.ProcessEnv): Secrets | Problem {
  const seen = new Map<string, string>()
  const idOf = (input: string, entry: string, n: number, what: string): { id: string; rest: string } | Problem => {
    const eq = entry.indexOf('=')
    const id = eq > 0 ? entry.slice(0, eq) : ''
    if (!SECRET_ID.test(id)) {
      return {
        problem: `Entry ${n} of \`${input}\` must be id=${what}, with an id of letters, digits and . _ -; it is not.`
      }
    }
    const first = seen.get(id)
    if (first !== undefined) {
      return {
        problem: `Secret id "${id}" is given twice (in \`${first}\`${first === input ? '' : ` and \`${input}\``}); each id names one secret.`
      }
    }
    seen.set(id, input)
    return { id, rest: entry.slice(eq + 1) }
  }

  const byValue = secretEntries(read(Input.Secrets), Input.Secrets)
  if (isProblem(byValue)) return byValue
  const secrets: Secrets['secrets'] = []
  for (const [i, entry] of byValue.entries()) {
    const parsed = idOf(Input.Secrets, entry, i + 1, 'value')
    if (isProblem(parsed)) return parsed
    secrets.push({ id: parsed.id, value: parsed.rest })
  }

  const byEnv = secretEntries(read(Input.SecretEnvs), Input.SecretEnvs)
  if (isProblem(byEnv)) return byEnv
  const secretEnvs: Secrets['secretEnvs'] = []
  for (const [i, entry] of byEnv.entries()) {
    const parsed = idOf(Input.SecretEnvs, entry, i + 1, 'ENV_NAME')
    if (isProblem(parsed)) return parsed
    const { id, rest } = parsed
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(rest)) {
      return {
        problem: `Input \`${Input.SecretEnvs}\`: secret "${id}" must name an environment variable (letters, digits and _), e.g. ${id}=MY_TOKEN.`
      }
    }
    // buildx would quietly mount nothing for a variable that is not set.
    if (env[rest] === undefined) {
      return {
        problem: `Input \`${Input.SecretEnvs}\`: the variable ${rest} for secret "${id}" is not set in this step's environment; set it with \`env:\`.`
      }
    }
    secretEnvs.push({ id, env: rest })
  }

  const byFile = secretEntries(read(Input.SecretFiles), Input.SecretFiles)
  if (isProblem(byFile)) return byFile
  const secretFiles: Secrets['secretFiles'] = []
  for (const [i, entry] of byFile.entries()) {
    const parsed = idOf(Input.SecretFiles, entry, i + 1, 'path')
    if (isProblem(parsed)) return parsed
    const { id, rest } = parsed
    if (rest === '' || /[\r\n]/.test(rest))
      return { problem: `Input \`${Input.SecretFiles}\`: secret "${id}" must name a file, on one line.` }
    const file = path.resolve(workspace, rest)
    if (!isFile(file))
      return { problem: `Input \`${Input.SecretFiles}\`: there is no file at ${file} for secret "${id}".` }
    secretFiles.push({ id, path: file })
  }
  return { secrets, secretEnvs, secretFiles }
}

/**
 * The entries of a secrets input, as build-push-action reads them: one a
 * line, or a double-quoted field that may span lines (a PEM key, JSON), with
 * "" inside it standing for one quote. A line is trimmed, as YAML leaves
 * spaces around it; a quoted field is kept exactly as written. Blank lines
 * are skipped.
 */
export function secretEntries(text: string, input: string): string[] | Problem {
  const entries: string[] = []
  let i = 0
  let n = 0
  while (i < text.length) {
    const lineEnd = text.indexOf('\n', i) === -1 ? text.length : text.indexOf('\n', i)
    const start = i + (/^[ \t]*/.exec(text.slice(i, lineEnd))?.[0].length ?? 0)
    if (text[start] !== '"') {
      const line = text.slice(i, lineEnd).trim()
      if (line !== '') entries.push(line)
      i = lineEnd + 1
      continue
    }
    n = entries.length + 1
    let value = ''
    let j = start + 1
    for (;;) {
      const quote = text.indexOf('"', j)
      if (quote === -1) return { problem: `Entry ${n} of \`${input}\` opens a quote it never closes.` }
      value += text.slice(j, quote)
      if (text[quote + 1] === '"') {
        value += '"'
        j = quote + 2
        continue
      }
      j = quote + 1
      break
    }
    const after = text.indexOf('\n', j) === -1 ? text.length : text.indexOf('\n', j)
    if (text.slice(j, after).trim() !== '') {
      return {
        problem: `Entry ${n} of \`${input}\` has text after its closing quote; write a quote inside a quoted entry as "".`
      }
    }
    entries.push(value)
    i = after + 1
  }
  return entries
}
