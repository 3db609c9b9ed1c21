import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Inputs } from '../inputs.js'
import { attributes } from './attributes.js'
import type { ResolvedBase } from './base-images.js'
import { docker } from './docker-cli.js'
import { errorLine } from './error-line.js'

// A copy of a base image the build used, made by the builder that used it
// (which holds it already): `FROM <name>@<digest>` built and exported with
// the cache's compression, so its layers are the blobs the cache holds.

export interface ExportedBase {
  /** The copy's manifest. */
  descriptor: { digest: string; mediaType: string; size: number }
  /** With an OCI layout: where it is. */
  layout?: string
}

export interface BaseExport {
  /** The builder the build ran on, unless the current one. */
  builder?: string
  compression: Inputs['cacheCompression']
  workDir: string
  env: Record<string, string>
  /** An OCI layout in workDir, or pushed under this name (`<repository>:<tag>`). */
  to: { kind: 'layout' } | { kind: 'repository'; name: string }
}

export async function exportBase(
  base: ResolvedBase,
  n: number,
  how: BaseExport
): Promise<ExportedBase | { problem: string }> {
  const dir = path.join(how.workDir, `base-${n}`)
  const layout = path.join(dir, 'layout')
  const metadata = path.join(dir, 'metadata.json')
  await fs.promises.mkdir(dir, { recursive: true })
  const pinned = base.name.includes('@') ? base.name : `${base.name}@${base.digest}`
  await fs.promises.writeFile(path.join(dir, 'Dockerfile'), `FROM ${pinned}\n`)
  const compression: Array<[string, string]> = [
    ['compression', how.compression],
    ['force-compression', 'true']
  ]
  const output =
    how.to.kind === 'layout'
      ? attributes(['type', 'oci'], ['dest', layout], ['tar', 'false'], ...compression)
      : attributes(
          ['type', 'image'],
          ['name', how.to.name],
          ['push', 'true'],
          ['oci-mediatypes', 'true'],
          ...compression
        )
  const args = ['buildx', 'build', '--progress=plain', '--provenance=false', '--sbom=false']
  if (how.builder) args.push('--builder', how.builder)
  if (base.platform) args.push('--platform', base.platform)
  args.push('--output', output, '--metadata-file', metadata, '--file', path.join(dir, 'Dockerfile'), dir)
  const { exitCode, output: printed } = await docker(args, { env: how.env })
  if (exitCode !== 0) return { problem: errorLine(printed, `docker buildx exit code ${exitCode}`) }
  const descriptor =
    how.to.kind === 'layout' ? await firstInIndex(path.join(layout, 'index.json')) : await pushed(metadata)
  if (descriptor === undefined) return { problem: 'the export names no image' }
  return how.to.kind === 'layout' ? { descriptor, layout } : { descriptor }
}

type Descriptor = ExportedBase['descriptor']

function isDescriptor(d: unknown): d is Descriptor {
  const { digest, mediaType, size } = (d ?? {}) as Record<string, unknown>
  return typeof digest === 'string' && typeof mediaType === 'string' && typeof size === 'number'
}

async function firstInIndex(file: string): Promise<Descriptor | undefined> {
  const index = JSON.parse(await fs.promises.readFile(file, 'utf8')) as { manifests?: unknown[] }
  const first = index.manifests?.[0]
  return isDescriptor(first) ? { digest: first.digest, mediaType: first.mediaType, size: first.size } : undefined
}

async function pushed(file: string): Promise<Descriptor | undefined> {
  const metadata = JSON.parse(await fs.promises.readFile(file, 'utf8')) as Record<string, unknown>
  const d = metadata['containerimage.descriptor']
  return isDescriptor(d) ? { digest: d.digest, mediaType: d.mediaType, size: d.size } : undefined
}
