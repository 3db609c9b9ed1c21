// The transport alone: the same entry downloaded from, and uploaded to, the
// same cache service by curl in a process of its own, with no archiving on
// either side. It is the ceiling any client of this service can reach, so it
// tells the action's own overhead apart from the HTTP transfer's.
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { runtimeToken } from '../__tests__/support/cache-service.js'
import type { Lab } from './lab.js'
import { run } from './proc.js'
import { timed } from './timing.js'

export interface TransportProbe {
  downloadSeconds: number
  uploadSeconds: number
  bytes: number
}

const TWIRP = '/twirp/github.actions.results.api.v1.CacheService/'
const token = runtimeToken([{ scope: 'refs/heads/master', permission: 3 }])

export async function probeTransport(lab: Lab, key: string): Promise<TransportProbe> {
  const { key: stored, version } = lab.entry(key)
  const dir = lab.tempDir('transport-')
  const file = path.join(dir, 'entry.tzst')
  const found = await twirp(lab, 'GetCacheEntryDownloadURL', { key: stored, restore_keys: [], version })
  const url = String(found.signed_download_url ?? '')
  if (!url) throw new Error(`The cache service did not find ${key} for the transport probe.`)
  const download = await timed(() => run('curl', ['-sS', '--fail', '-o', file, url]))

  // A reservation under a key of its own, never finalized: the probe leaves no entry.
  const reserved = await twirp(lab, 'CreateCacheEntry', {
    key: `${stored}-probe-${randomBytes(4).toString('hex')}`,
    version
  })
  const uploadUrl = String(reserved.signed_upload_url ?? '')
  if (!uploadUrl)
    throw new Error(`The cache service refused the transport probe's reservation: ${JSON.stringify(reserved)}`)
  const upload = await timed(() =>
    run('curl', ['-sS', '--fail', '-T', file, '-H', 'x-ms-blob-type: BlockBlob', uploadUrl])
  )

  const bytes = (await fs.promises.stat(file)).size
  await fs.promises.rm(dir, { recursive: true, force: true })
  return {
    downloadSeconds: download.seconds,
    uploadSeconds: upload.seconds,
    bytes
  }
}

async function twirp(lab: Lab, method: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { stdout } = await run('curl', [
    '-sS',
    '--fail',
    '-X',
    'POST',
    '-H',
    'Content-Type: application/json',
    '-H',
    `Authorization: Bearer ${token}`,
    '--data',
    JSON.stringify(body),
    `${lab.service.url}${TWIRP}${method}`
  ])
  return JSON.parse(stdout) as Record<string, unknown>
}
