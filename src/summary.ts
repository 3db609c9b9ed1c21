import * as core from '@actions/core'
import type { SaveOutcome } from './post-step.js'
import type { Report } from './state.js'

/** One table row per image, so a matrix's summaries line up. */
export async function writeSummary(report: Report, save: SaveOutcome): Promise<void> {
  await core.summary
    .addHeading(`Build cache: ${report.image}`, 3)
    .addTable([
      [
        { data: 'Image', header: true },
        { data: 'Key', header: true },
        { data: 'Restored from', header: true },
        { data: 'Build', header: true },
        { data: 'Saved', header: true }
      ],
      [report.image, code(report.key), restoredCell(report), buildCell(report), savedCell(save)]
    ])
    .write()
}

function code(text: string): string {
  return `<code>${escapeHtml(text)}</code>`
}

function restoredCell(report: Report): string {
  if (!report.matchedKey) return 'nothing (cold build)'
  const size = report.restore ? `, ${mb(report.restore.sizeBytes)} in ${report.restore.seconds.toFixed(1)} s` : ''
  return `${report.source}: ${code(report.matchedKey)}${size}`
}

function buildCell(report: Report): string {
  const build = report.build
  if (!build) return 'not run'
  if (!build.succeeded) return `failed after ${build.seconds.toFixed(1)} s`
  const retry = build.retriedWithoutCache ? ', rebuilt without the broken cache' : ''
  return `${build.seconds.toFixed(1)} s, ${build.steps.cached}/${build.steps.total} steps cached${retry}`
}

function savedCell(save: SaveOutcome): string {
  const r = save.result
  return r.saved ? `${mb(r.sizeBytes)} in ${save.seconds.toFixed(1)} s` : `no: ${escapeHtml(r.reason)}`
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string)
}
