import * as core from '@actions/core'
import * as fs from 'node:fs'
import { isPartialKey } from '../key/key.js'
import { megabytes } from '../megabytes.js'
import { mountRows } from '../mounts/summary-rows.js'
import { progressSavedLine } from './progress-words.js'
import type { StepState, SaveOutcome } from './step-state.js'

// Markdown, not HTML: the row of a second image in the same job can then join
// the first image's table, so a job that builds several images shows one table.
const HEADER = '| Image | Primary key | Restored from | Restore | Build | Saved |'
const RULE = '| --- | --- | --- | --- | --- | --- |'

/** `file`: GITHUB_STEP_SUMMARY, which @actions/core appends to. */
export async function writeSummary(state: StepState, save: SaveOutcome, file: string | undefined): Promise<void> {
  const row = [summaryRow(state, save), ...mountRows(state.image, state.mounts ?? [], save.result.saved)].join('\n')
  await core.summary
    .addRaw(continuesTable(file) ? `${row}\n` : `\n### Build cache\n\n${HEADER}\n${RULE}\n${row}\n`)
    .write()
}

/** One image's row; every cell says what happened and why. */
export function summaryRow(state: StepState, save: SaveOutcome): string {
  const cells = [
    cell(state.image),
    code(state.key),
    restoredCell(state),
    restoreCell(state),
    buildCell(state),
    savedCell(state, save)
  ]
  return `| ${cells.join(' | ')} |`
}

function restoredCell(state: StepState): string {
  const partial = isPartialKey(state.matchedKey) ? ' (**partial**: what a failed build finished)' : ''
  const found = state.matchedKey
    ? `${SOURCE_WORDS[state.source] ?? state.source}: ${code(state.matchedKey)}${partial}`
    : state.unusable
      ? `nothing: ${code(state.unusable.key)} could not be used (${cell(state.unusable.problem)})`
      : 'nothing: cold build'
  return state.stale ? `${found}, **stale**: ${staleWords(state)}` : found
}

// What a reader needs to know about a stale entry: what went wrong, and who fixes it.
function staleWords(state: StepState): string {
  const steps = state.build?.steps ?? { total: 0, cached: 0 }
  const what = state.unusable
    ? 'the entry of this content is broken'
    : `${steps.total - steps.cached} of ${steps.total} steps were rebuilt (a base image may have moved)`
  return state.save.save ? `${what}; replaced by this run` : `${what}; the next run that may write refreshes it`
}

const SOURCE_WORDS: Record<string, string> = {
  exact: 'exact match',
  branch: 'this branch',
  'base-branch': 'the base branch',
  'default-branch': 'the default branch',
  engine: "the engine's own cache"
}

function restoreCell(state: StepState): string {
  const r = state.restore
  if (!r) return '–'
  if (r.served)
    return `index in ${seconds(r.seconds)}; ${megabytes(r.movedBytes ?? 0)} of ${megabytes(r.sizeBytes)} read by the builder during the build`
  const moved = r.movedBytes === undefined ? '' : `, ${megabytes(r.movedBytes)} downloaded`
  return `${megabytes(r.sizeBytes)} in ${seconds(r.seconds)} (${rate(r.sizeBytes, r.seconds)}${moved})`
}

function buildCell(state: StepState): string {
  const build = state.build
  if (!build) return 'not run'
  if (!build.succeeded) {
    const kept = state.progress ? `; the steps it finished exported in ${seconds(state.progress.cutSeconds)}` : ''
    return `failed after ${seconds(build.seconds)}${kept}`
  }
  const retry = build.retriedWithoutCache ? '; rebuilt without the broken cache' : ''
  return `${seconds(build.seconds)}, ${build.steps.cached}/${build.steps.total} steps cached${retry}${basesUsedWords(state)}`
}

function savedCell(state: StepState, save: SaveOutcome): string {
  const r = save.result
  if (r.saved) {
    const moved = r.movedBytes === undefined ? '' : `, ${megabytes(r.movedBytes)} uploaded`
    const saved = `${megabytes(r.sizeBytes)} in ${seconds(save.seconds)} (${rate(r.sizeBytes, save.seconds)}${moved})`
    const entry = state.progress
      ? `**partial**: ${progressSavedLine(state.progress, r.sizeBytes, code)}; ${saved}`
      : saved
    return `${entry}${basesKeptWords(state)}`
  }
  return `no: ${cell(r.reason)}`
}

// What the kept base images gained this run: the registry lookups it did not make.
function basesUsedWords(state: StepState): string {
  const from = state.bases?.fromCache ?? 0
  if (from === 0) return ''
  const why = state.bases?.fellBack ? ` (the registry: ${cell(state.bases.fellBack)})` : ''
  return `; ${from} base image(s) from the entry, ${from} registry lookup(s) avoided${why}`
}

// What keeping them costs the entry.
function basesKeptWords(state: StepState): string {
  const kept = state.bases?.kept
  if (!kept) return ''
  return kept.addedBytes === undefined
    ? `; keeps ${kept.count} base image(s) in the cache repository`
    : `; keeps ${kept.count} base image(s), adding ${megabytes(kept.addedBytes, 3)}`
}

// Our table continues only if nothing but its rows came after its rule.
function continuesTable(file: string | undefined): boolean {
  if (!file || !fs.existsSync(file)) return false
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n')
  let i = lines.length - 1
  while (i >= 0 && lines[i].startsWith('| ') && lines[i] !== RULE) i--
  return i >= 0 && lines[i] === RULE
}

function seconds(s: number): string {
  return `${s.toFixed(1)} s`
}

function rate(bytes: number, s: number): string {
  return s > 0 ? `${megabytes(bytes / s, 0)}/s` : '–'
}

function code(text: string): string {
  return `<code>${escapeHtml(text)}</code>`
}

// A cell must not break the table (|, newlines) or inject markup.
function cell(text: string): string {
  return escapeHtml(text).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string)
}
