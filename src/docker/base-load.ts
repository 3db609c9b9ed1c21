import * as core from '@actions/core'
import * as exec from '@actions/exec'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { blobPath } from '../cache/integrity.js'
import { removeDir } from '../fsutil.js'
import type { KeptBase } from './base-images.js'
import { docker } from './docker-cli.js'
import { errorLine } from './error-line.js'

// The docker driver on the classic image store has no oci-layout source
// ("unknown scheme oci-layout"), but builds on an image the engine holds
// without asking a registry: a kept base is loaded there under its name.

/**
 * Loads each kept image into the engine, as `docker load` takes an archive:
 * the layout's own blobs (linked, not copied), an index, and the
 * manifest.json the classic store reads. A base that cannot be loaded is
 * said; the build then asks its registry.
 */
export async function loadIntoEngine(
  kept: KeptBase[],
  layout: string,
  workDir: string,
  env: Record<string, string>
): Promise<void> {
  try {
    for (const [n, base] of kept.entries()) {
      const problem = await loadOne(base, layout, path.join(workDir, `load-${n}`), env)
      if (problem === undefined)
        core.info(`Loaded the kept base image ${base.name} into the engine, which builds on it.`)
      else
        core.warning(
          `Could not load the kept base image ${base.name} into the engine (${problem}); the build asks its registry.`
        )
    }
  } finally {
    await removeDir(workDir)
  }
}

async function loadOne(
  base: KeptBase,
  layout: string,
  dir: string,
  env: Record<string, string>
): Promise<string | undefined> {
  // A tag names what is loaded: a reference pinned by digest has none to give it.
  if (base.name.includes('@')) return 'a reference pinned by digest cannot be tagged'
  const manifest = JSON.parse(await fs.promises.readFile(blobPath(layout, base.digest), 'utf8')) as {
    config?: { digest?: string }
    layers?: Array<{ digest?: string }>
  }
  const config = manifest.config?.digest
  if (config === undefined) return 'the kept copy is not an image manifest'
  const layers = (manifest.layers ?? []).map(l => l.digest ?? '')
  await fs.promises.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true })
  for (const digest of new Set([base.digest, config, ...layers]))
    await fs.promises.symlink(blobPath(layout, digest), blobPath(dir, digest))
  const blob = (digest: string): string => `blobs/sha256/${digest.slice('sha256:'.length)}`
  await fs.promises.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  await fs.promises.writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: base.mediaType, digest: base.digest, size: base.size }]
    })
  )
  await fs.promises.writeFile(
    path.join(dir, 'manifest.json'),
    JSON.stringify([{ Config: blob(config), RepoTags: [base.name], Layers: layers.map(blob) }])
  )
  const archive = `${dir}.tar`
  // -h: the archive holds the blobs the links point at.
  const packed = await exec.exec('tar', ['-c', '-h', '-f', archive, '-C', dir, '.'], {
    ignoreReturnCode: true,
    silent: true
  })
  if (packed !== 0) return `tar exit code ${packed}`
  const loaded = await docker(['load', '--input', archive], { env })
  return loaded.exitCode === 0 ? undefined : errorLine(loaded.output, `docker load exit code ${loaded.exitCode}`)
}
