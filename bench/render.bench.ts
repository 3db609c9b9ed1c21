// `npm run bench:report`: the report again from the last run's raw figures
// (.bench-work/results.json), measuring nothing: for a change to how the
// figures are presented, not to what was measured.
import { it } from '@jest/globals'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { renderReport } from './report.js'
import type { Results } from './results.js'
import { readSettings } from './settings.js'

it("writes the report from the last run's results", async () => {
  const settings = readSettings()
  const file = path.join(settings.workRoot, 'results.json')
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist: run \`npm run bench\` first.`)
  const results = JSON.parse(await fs.promises.readFile(file, 'utf8')) as Results
  const report = renderReport(results)
  await fs.promises.writeFile(results.settings.output, report)
  process.stdout.write(`Written to ${results.settings.output}\n`)
})
