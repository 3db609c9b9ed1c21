import { afterAll, describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { type ContextRead, contextEntries, readIgnoreRules, resolveInside } from '../../../src/key/context-files.js'

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

const sent = (dir: string, sources: Array<string | ContextRead>): string[] =>
  contextEntries(
    sources.map(source => (typeof source === 'string' ? { path: source, exclude: [] } : source)),
    dir,
    readIgnoreRules(dir, path.join(dir, 'Dockerfile'))
  )

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

describe('contextEntries with --exclude and --parents', () => {
  const files = {
    'app/main.py': '',
    'app/README.md': '',
    'app/docs/guide.md': '',
    'app/docs/keep.md': '',
    'app/tests/test_main.py': '',
    'NOTES.md': '',
    'src/pkg/a/a.go': '',
    'src/pkg/a/a_test.go': '',
    'src/pkg/b/deep/b.go': '',
    'src/pkg/b/deep/b.txt': '',
    'src/cmd/main.go': '',
    'tools/x/main.go': '',
    'tools/y/main.go': '',
    'tools/y/sub/main.go': ''
  }

  it('leaves out what an --exclude pattern matches below the copied directory, relative to it', () => {
    const dir = context(files)
    expect(sent(dir, [{ path: 'app', exclude: ['*.md', 'tests', 'docs/*', '!docs/keep.md'] }])).toEqual([
      'app/docs/keep.md',
      'app/main.py'
    ])
    // Relative to the copied directory, `*.md` matches only at its top.
    expect(sent(dir, [{ path: '.', exclude: ['*.md'] }])).toContain('app/README.md')
    expect(sent(dir, [{ path: '.', exclude: ['*.md'] }])).not.toContain('NOTES.md')
    // A copied file is copied whatever the patterns say: they apply below a directory.
    expect(sent(dir, [{ path: 'NOTES.md', exclude: ['*.md'] }])).toEqual(['NOTES.md'])
  })

  it('takes what a --parents pattern matches below the directory, with ** across levels', () => {
    const dir = context(files)
    expect(sent(dir, [{ path: 'src', parents: 'pkg/**/*.go', exclude: ['**/*_test.go'] }])).toEqual([
      'src/pkg/a/a.go',
      'src/pkg/b/deep/b.go'
    ])
    expect(sent(dir, [{ path: '.', parents: 'tools/*/main.go', exclude: [] }])).toEqual([
      'tools/x/main.go',
      'tools/y/main.go'
    ])
    // A matched directory brings everything below it.
    expect(sent(dir, [{ path: '.', parents: 'src/pkg/b', exclude: [] }])).toEqual([
      'src/pkg/b/deep/b.go',
      'src/pkg/b/deep/b.txt'
    ])
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
