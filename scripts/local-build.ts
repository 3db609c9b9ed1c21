// The cached build, locally: two jobs of a matrix's worth of one image.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runtimeToken, startCacheService } from '../__tests__/support/cache-service.ts'
import { freshRunner, workspaceFrom } from '../__tests__/support/engine.ts'
import { runJob } from '../__tests__/support/run-action.ts'

process.env.SHOW_ACTION_LOG = '1'
const service = await startCacheService()
const workspace = workspaceFrom('ci-image')
const image = 'ci-image'
try {
  for (const title of ['Cold build on master', 'Fresh runner on master']) {
    console.log(`\n===== ${title} =====`)
    freshRunner(image)
    const runnerTemp = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-temp-'))
    const job = await runJob({
      inputs: { image },
      event: { name: 'push', ref: 'refs/heads/master', payload: { repository: { default_branch: 'master' } } },
      workspace,
      runnerTemp,
      env: service.env(runtimeToken([{ scope: 'refs/heads/master', permission: 3 }]))
    })
    console.log(`\nOutputs: ${JSON.stringify(job.main.outputs, null, 2)}`)
    console.log(`Job summary:\n${job.summary}`)
    fs.rmSync(runnerTemp, { recursive: true, force: true })
    if (job.main.exitCode !== 0) process.exitCode = 1
  }
  console.log(`\nCache entries: ${JSON.stringify(service.entries().map(e => ({ key: e.key, bytes: e.sizeBytes })))}`)
} finally {
  await service.close()
  fs.rmSync(workspace, { recursive: true, force: true })
}
