import { describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { archiveName, archiveProblem, readIndex, sha256Of, writeIndex } from '../../../src/mounts/folder.js'
import { restoredCount } from '../../../src/mounts/report.js'
import { mountRows } from '../../../src/mounts/summary-rows.js'

describe('the mounts folder', () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'mounts-folder-'))

  it('names each archive by a digest of its id, whatever characters the id holds', () => {
    expect(archiveName('/root/.cache/pip')).toMatch(/^[0-9a-f]{24}\.tar$/)
    expect(archiveName('a')).not.toBe(archiveName('b'))
  })

  it('reads back the index it wrote, and tells a damaged or missing archive apart', async () => {
    expect(await readIndex(folder)).toEqual({ version: 1, mounts: [] })
    const file = archiveName('ccache')
    fs.writeFileSync(path.join(folder, file), 'the archive')
    const saved = { id: 'ccache', file, bytes: 11, sha256: await sha256Of(path.join(folder, file)) }
    await writeIndex(folder, [saved])
    expect(await readIndex(folder)).toEqual({ version: 1, mounts: [saved] })
    expect(await archiveProblem(folder, saved)).toBeUndefined()
    fs.writeFileSync(path.join(folder, file), 'the ARCHIVE')
    expect(await archiveProblem(folder, saved)).toBe('its archive does not have the content saved (another digest)')
    fs.writeFileSync(path.join(folder, file), 'short')
    expect(await archiveProblem(folder, saved)).toBe('its archive has 5 bytes, not the 11 saved')
    fs.rmSync(path.join(folder, file))
    expect(await archiveProblem(folder, saved)).toBe('its archive is missing')
  })

  it('refuses an index that does not parse, and drops entries naming files outside the folder', async () => {
    fs.writeFileSync(path.join(folder, 'index.json'), '{')
    expect(await readIndex(folder)).toEqual({ problem: 'its index is not valid JSON' })
    fs.writeFileSync(
      path.join(folder, 'index.json'),
      JSON.stringify({ version: 1, mounts: [{ id: 'x', file: '../../etc/passwd', bytes: 1, sha256: 'a' }] })
    )
    expect(await readIndex(folder)).toEqual({ version: 1, mounts: [] })
  })
})

describe('the summary rows and output of mounts', () => {
  it('give each mount a row in the image table’s six columns', () => {
    const rows = mountRows(
      'ci',
      [
        {
          id: 'ccache',
          restoredBytes: 3 * 1024 * 1024,
          restoreSeconds: 1.25,
          savedBytes: 4 * 1024 * 1024,
          saveSeconds: 0.9
        },
        {
          id: 'a|b',
          restoreNote: 'its archive is missing',
          saveNote: 'it is 3.0 GB, above max-cache-mount-size (2.0 GB)'
        }
      ],
      true
    )
    expect(rows).toEqual([
      '| ci: cache mount | <code>ccache</code> | 3.0 MB | 1.3 s | – | 4.0 MB, exported in 0.9 s |',
      '| ci: cache mount | <code>a\\|b</code> | nothing: its archive is missing | – | – | no: it is 3.0 GB, above max-cache-mount-size (2.0 GB) |'
    ])
    expect(restoredCount([{ id: 'a', restoredBytes: 1 }, { id: 'b' }])).toBe('1/2')
  })
})
