import { megabytes } from '../megabytes.js'
import type { MountReport } from './report.js'

// One row per cache mount under the image's own, in the same six columns,
// so that the job's table stays one table: image and mount id, what was
// restored and how long it took, and what was saved.

export function mountRows(image: string, reports: MountReport[], entrySaved: boolean): string[] {
  return reports.map(r => {
    const cells = [
      `${cell(image)}: cache mount`,
      `<code>${cell(r.id)}</code>`,
      restoredCell(r),
      r.restoreSeconds === undefined ? '–' : `${r.restoreSeconds.toFixed(1)} s`,
      '–',
      savedCell(r, entrySaved)
    ]
    return `| ${cells.join(' | ')} |`
  })
}

function restoredCell(r: MountReport): string {
  if (r.restoredBytes !== undefined) return megabytes(r.restoredBytes)
  return r.restoreNote ? `nothing: ${cell(r.restoreNote)}` : 'nothing: empty'
}

function savedCell(r: MountReport, entrySaved: boolean): string {
  if (r.savedBytes !== undefined && r.saveSeconds !== undefined) {
    const size = `${megabytes(r.savedBytes)}, exported in ${r.saveSeconds.toFixed(1)} s`
    return entrySaved ? size : `no: the entry was not saved (${size})`
  }
  return r.saveNote ? `no: ${cell(r.saveNote)}` : 'no'
}

function cell(text: string): string {
  return text
    .replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string)
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, ' ')
}
