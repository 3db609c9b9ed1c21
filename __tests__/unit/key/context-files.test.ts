import { afterAll, describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { contextEntries, readIgnoreRules, resolveInside } from '../../../src/key/context-files.js'

const roots: string[] = []
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
})

function context(files: Record<string, string>, links: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'context-'))
  roots.push(dir)
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), text)
  }
  for (const [name, target] of Object.entries(links)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.symlinkSync(target, path.join(dir, name))
  }
  return dir
}

const sent = (dir: string, sources: string[]): string[] =>
  contextEntries(sources, dir, readIgnoreRules(dir, path.join(dir, 'Dockerfile')))

describe('resolveInside', () => {
  it('resolves relative and absolute targets inside the root, and stops `..` at it', () => {
    const dir = context(
      { 'etc/hostname': 'h', 'lib/x': 'x' },
      { 'a/up': '../../../lib', abs: '/etc', 'a/chain': '../abs' }
    )
    expect(resolveInside(dir, 'a/up/x')).toEqual({ kind: 'file', relative: 'lib/x', links: ['a/up'] })
    expect(resolveInside(dir, 'abs/hostname')).toEqual({ kind: 'file', relative: 'etc/hostname', links: ['abs'] })
    expect(resolveInside(dir, 'a/chain')).toEqual({ kind: 'directory', relative: 'etc', links: ['a/chain', 'abs'] })
  })

  it('gives up on a link loop and on a path through a file', () => {
    const dir = context({ file: 'f' }, { loop: 'loop/x', one: 'two', two: 'one' })
    expect(resolveInside(dir, 'loop').kind).toBe('missing')
    expect(resolveInside(dir, 'one/x').kind).toBe('missing')
    expect(resolveInside(dir, 'file/x').kind).toBe('missing')
    expect(resolveInside(dir, 'nothing').kind).toBe('missing')
  })
})

describe('contextEntries', () => {
  it('expands wildcards one level at a time, matching dot files, without entering links', () => {
    const dir = context(
      {
        'src/a.c': '',
        'src/.b.c': '',
        'src/sub/c.c': '',
        'src/d.h': '',
        'pkgs/one/meta.json': '',
        'pkgs/two/meta.json': ''
      },
      { 'src/e.c': '/etc/hostname', 'pkgs/three': '/' }
    )
    expect(sent(dir, ['src/*.c'])).toEqual(['src/.b.c', 'src/a.c', 'src/e.c'])
    expect(sent(dir, ['pkgs/*/meta.json'])).toEqual(['pkgs/one/meta.json', 'pkgs/two/meta.json'])
    expect(sent(dir, ['src/?.[ch]'])).toEqual(['src/a.c', 'src/d.h', 'src/e.c'])
  })

  it('lists regular files and links, nothing else, and nothing below a linked folder', () => {
    const dir = context({ 'a/b/c': 'c' }, { 'a/link': '/usr' })
    expect(sent(dir, ['.'])).toEqual(['a/b/c', 'a/link'])
  })
})

describe('readIgnoreRules', () => {
  it('reads rules as Docker does: byte order mark, CRLF, comments only at the start of a line', () => {
    const dir = context({
      '.dockerignore': '\uFEFFfirst\r\n# comment\r\n #kept\r\n',
      first: '',
      '#kept': '',
      '# comment': '',
      other: ''
    })
    expect(sent(dir, ['.'])).toEqual(['# comment', '.dockerignore', 'other'])
  })

  it('takes + ( ) | { } literally and matches `**name` by suffix, as Docker does', () => {
    const dir = context({
      '.dockerignore': 'c++\nlib(old)\na|b\n{x}\n**foo\n',
      'c++': '',
      'lib(old)': '',
      libold: '',
      'a|b': '',
      a: '',
      '{x}': '',
      barfoo: '',
      'd/xfoo': '',
      fox: ''
    })
    expect(sent(dir, ['.'])).toEqual(['.dockerignore', 'a', 'fox', 'libold'])
  })

  it('leaves out a rule Docker could not parse instead of failing', () => {
    const dir = context({ '.dockerignore': '[a-\nskipped\n', skipped: '', kept: '' })
    expect(sent(dir, ['.'])).toEqual(['.dockerignore', 'kept'])
  })

  it('reads a linked ignore file only inside its own tree', () => {
    const outside = context({ rules: 'kept\n' })
    const dir = context({ 'conf/ignore': 'gone\n', gone: '', kept: '' }, { '.dockerignore': 'conf/ignore' })
    expect(readIgnoreRules(dir, path.join(dir, 'Dockerfile')).file?.text).toBe('gone\n')
    fs.rmSync(path.join(dir, '.dockerignore'))
    fs.symlinkSync(path.join(outside, 'rules'), path.join(dir, '.dockerignore'))
    expect(readIgnoreRules(dir, path.join(dir, 'Dockerfile')).file?.text).toBe('')
  })
})
