// The docs name only inputs and outputs the action has: a workflow pasted from
// them must not fail on an unknown input or read an output that is never set.
// And the README's tables list everything action.yml declares, and the
// CHANGELOG describes the version package.json says.
import { describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Input, Output } from '../../src/constants.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8')

/** The keys of one top-level mapping of action.yml (`inputs:` or `outputs:`), two spaces in. */
function declared(section: 'inputs' | 'outputs'): string[] {
  const lines = read('action.yml').split('\n')
  const start = lines.indexOf(`${section}:`)
  const names: string[] = []
  for (const line of lines.slice(start + 1)) {
    if (/^\S/.test(line)) break
    const key = /^ {2}([a-z][a-z0-9-]*):\s*$/.exec(line)
    if (key) names.push(key[1])
  }
  return names
}

const INPUTS = declared('inputs')
const OUTPUTS = declared('outputs')

const DOCS = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter(f => f.endsWith('.md'))
    .map(f => path.join('docs', f))
    .sort()
]

/** The backticked names in the first column of the table under a heading (`target`, `platforms` gives both). */
function tableNames(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n')
  const start = lines.indexOf(heading)
  if (start < 0) throw new Error(`no "${heading}" heading`)
  const names: string[] = []
  for (const line of lines.slice(start + 1)) {
    if (/^#/.test(line)) break
    if (!line.startsWith('| ') || line.startsWith('| ---')) continue
    const first = line.split('|')[1] ?? ''
    for (const m of first.matchAll(/`([^`]+)`/g)) names.push(m[1])
  }
  return names
}

interface Step {
  id?: string
  uses?: string
  with: string[]
}

/** The steps of a workflow snippet: each `- ` item and the lines indented below it. */
function steps(yaml: string): Step[] {
  const lines = yaml.split('\n')
  const found: Step[] = []
  for (let i = 0; i < lines.length; i++) {
    const item = /^(\s*)- /.exec(lines[i])
    if (!item) continue
    const indent = item[1].length
    const body = [`${lines[i].slice(0, indent)}  ${lines[i].slice(indent + 2)}`]
    for (let j = i + 1; j < lines.length; j++) {
      const own = /^(\s*)\S/.exec(lines[j])
      if (own && own[1].length <= indent) break
      body.push(lines[j])
    }
    const field = (name: string): string | undefined =>
      body.map(l => new RegExp(`^\\s{${indent + 2}}${name}:\\s*(\\S.*)$`).exec(l)?.[1]).find(Boolean)
    const withAt = body.findIndex(l => new RegExp(`^\\s{${indent + 2}}with:\\s*$`).test(l))
    const keys: string[] = []
    if (withAt >= 0) {
      for (const line of body.slice(withAt + 1)) {
        const own = /^(\s*)(\S)/.exec(line)
        if (!own) continue
        if (own[1].length <= indent + 2) break
        const key = new RegExp(`^\\s{${indent + 4}}([A-Za-z0-9_-]+):`).exec(line)
        if (key) keys.push(key[1])
      }
    }
    found.push({ id: field('id'), uses: field('uses'), with: keys })
  }
  return found
}

const ours = (step: Step): boolean =>
  step.uses !== undefined && (/buildx-ci-cache@/.test(step.uses) || step.uses === './')

function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)].map(m => m[1])
}

describe('action.yml', () => {
  it('declares every input and output the code reads or sets, and nothing else', () => {
    expect([...INPUTS].sort()).toEqual(Object.values(Input).sort())
    expect([...OUTPUTS].sort()).toEqual(Object.values(Output).sort())
  })
})

describe('README.md', () => {
  const readme = read('README.md')

  it('lists every input of action.yml in its Inputs table, and only those', () => {
    expect(tableNames(readme, '### Inputs').sort()).toEqual([...INPUTS].sort())
  })

  it('lists every output of action.yml in its Outputs table, and only those', () => {
    expect(tableNames(readme, '### Outputs').sort()).toEqual([...OUTPUTS].sort())
  })
})

describe.each(DOCS)('%s', file => {
  const markdown = read(file)
  const blocks = yamlBlocks(markdown)
  const all = blocks.flatMap(steps)
  const ourSteps = all.filter(ours)
  // A snippet may read the outputs of a step shown elsewhere on the page, or in the README.
  const ourIds = new Set([...ourSteps, ...yamlBlocks(read('README.md')).flatMap(steps).filter(ours)].map(s => s.id))
  const otherIds = new Set(all.filter(s => !ours(s)).map(s => s.id))

  it("finds every use of the action in the page's workflow snippets", () => {
    const uses = blocks.join('\n').match(/uses: \S*buildx-ci-cache@/g) ?? []
    expect(ourSteps.filter(s => s.uses !== './')).toHaveLength(uses.length)
  })

  it('gives the action only inputs it has', () => {
    const unknown = ourSteps.flatMap(s => s.with).filter(key => !INPUTS.includes(key))
    expect(unknown).toEqual([])
  })

  it("reads only outputs it sets, from a step that is the action's", () => {
    const reads = [...markdown.matchAll(/steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)/g)]
    expect(reads.filter(([, id]) => !ourIds.has(id) && !otherIds.has(id)).map(m => m[0])).toEqual([])
    expect(reads.filter(([, id, name]) => ourIds.has(id) && !OUTPUTS.includes(name)).map(m => m[0])).toEqual([])
  })

  it('pins the action to a release ref or a commit, never an unversioned one', () => {
    const refs = ourSteps.map(s => s.uses as string).filter(u => u !== './')
    expect(refs.filter(u => !/@(v\d+(\.\d+){0,2}|[0-9a-f]{40})(\s+#.*)?$/.test(u))).toEqual([])
  })
})

describe('the release', () => {
  it('CHANGELOG.md describes the version package.json names', () => {
    const version = (JSON.parse(read('package.json')) as { version: string }).version
    const first = /^## \[?v?(\d+\.\d+\.\d+)\]?/m.exec(read('CHANGELOG.md'))?.[1]
    expect(first).toBe(version)
  })
})
