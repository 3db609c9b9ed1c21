import type { CacheLocation } from '../cache/store.js'
import type { Inputs } from '../inputs.js'
import { attributes } from './attributes.js'
import { baseContextArgs, type KeptBase } from './base-images.js'
import { secretVariable } from './build-secrets.js'
import { imageLabelArgs, type ImageOrigin } from './engine-image.js'

// One `docker buildx build` command line. A build is described by three
// values: the action's inputs, its BuildCache (what it imports and exports)
// and its BuildSetup (builder, output, where it writes the image ID); what it
// came to is build.ts's BuildOutcome.

/** The caches one build imports and exports. */
export interface BuildCache {
  /** Restored caches to import. */
  from: CacheLocation[]
  /** Where to export the new cache; only when this run may save it. */
  to?: CacheLocation
  /**
   * Ignore the engine's own build cache as well: the retry after a damaged
   * cache, whose failed import can leave records in the engine that break
   * every later build of the same steps (see import-failures.ts).
   */
  noCache?: boolean
  /** Base images kept in a restored layout, which the build uses instead of asking their registries. */
  bases?: { kept: KeptBase[]; source: string }
}

/** The rest of one build's command line: where it writes the image ID and metadata, the builder, the output. */
export interface BuildSetup {
  iidFile: string
  metadataFile: string
  /** A builder other than the current one. */
  builder?: string
  /**
   * `cache`: the build only exports its cache (the image is already where
   * the first build put it), as when a stale entry is refreshed after it.
   * `cache-only`: nor is any image made or tagged (`type=cacheonly`): the
   * build of a cut Dockerfile, whose image is not the one the tags name.
   */
  output: 'image' | 'cache' | 'cache-only'
  /** The content key the image is built for, on the current builder: labelled on it, so that a later job on this engine knows it. */
  origin?: ImageOrigin
}

export function buildxArgs(inputs: Inputs, cache: BuildCache, run: BuildSetup): string[] {
  const args = ['buildx', 'build', '--progress=plain', '--file', inputs.file]
  if (run.builder) args.push('--builder', run.builder)
  if (run.output === 'cache-only') args.push('--output', 'type=cacheonly')
  else for (const tag of inputs.tags.length > 0 ? inputs.tags : [inputs.image]) args.push('--tag', tag)
  for (const { name, value } of inputs.buildArgs) args.push('--build-arg', `${name}=${value}`)
  for (const [i, { id }] of inputs.secrets.entries())
    args.push('--secret', attributes(['id', id], ['env', secretVariable(i)]))
  for (const { id, env } of inputs.secretEnvs) args.push('--secret', attributes(['id', id], ['env', env]))
  for (const { id, path } of inputs.secretFiles) args.push('--secret', attributes(['id', id], ['src', path]))
  if (inputs.target) args.push('--target', inputs.target)
  if (inputs.platforms.length > 0) args.push('--platform', inputs.platforms.join(','))
  if (run.output === 'image' && run.origin) args.push(...imageLabelArgs(run.origin))
  if (run.output === 'image' && inputs.load) args.push('--output', loaded(inputs.cacheCompression))
  if (run.output === 'image' && inputs.push) args.push('--push')
  if (inputs.pull) args.push('--pull')
  if (cache.bases) args.push(...baseContextArgs(cache.bases.kept, cache.bases.source))
  // no-cache: neither the engine's cache nor an imported one.
  const noCache = cache.noCache || inputs.noCache
  if (noCache) args.push('--no-cache')
  if (!noCache) for (const location of cache.from) args.push('--cache-from', cacheFrom(location))
  if (cache.to) args.push('--cache-to', `${cacheTo(cache.to)}${compression(inputs.cacheCompression)}`)
  args.push('--iidfile', run.iidFile, '--metadata-file', run.metadataFile)
  args.push(inputs.context)
  return args
}

function cacheFrom(location: CacheLocation): string {
  return location.type === 'local'
    ? attributes(['type', 'local'], ['src', location.dir])
    : attributes(['type', 'registry'], ['ref', location.ref])
}

// mode=max: every stage's layers, so that a builder stage is cached too.
// ignore-error: a failed export must not fail the build; the store checks
// what was exported before anything is saved. buildx still prints the error
// (see cacheExportError). image-manifest=true stores a registry cache as an
// OCI image manifest, which registries such as ghcr.io accept.
function cacheTo(location: CacheLocation): string {
  if (location.type === 'local' && location.through !== undefined)
    // Pushed as the index a local export writes (no image-manifest), so that
    // the layout is the same whichever way it was written.
    return attributes(
      ['type', 'registry'],
      ['ref', location.through],
      ['mode', 'max'],
      ['oci-mediatypes', 'true'],
      ['ignore-error', 'true']
    )
  return location.type === 'local'
    ? attributes(['type', 'local'], ['dest', location.dir], ['mode', 'max'], ['ignore-error', 'true'])
    : attributes(
        ['type', 'registry'],
        ['ref', location.ref],
        ['mode', 'max'],
        ['image-manifest', 'true'],
        ['oci-mediatypes', 'true'],
        ['ignore-error', 'true']
      )
}

// `--load` with the layers compressed as the cache wants them. The image
// export compresses every layer it built anyway; asked for gzip (--load's
// own choice) it did so once for the image and the cache export then did it
// again in zstd. Asked for the cache's compression, the cache export finds
// the layers already made: on the toolchain image, a cold build's image
// export took 7.7 s instead of 29 s and its cache export 3.0 s instead of
// 25.6 s (zstd is also the cheaper of the two to make). Every engine that
// reads zstd layers loads these (Docker 23 and later). A pushed image keeps
// --push's own gzip, which older pullers read.
function loaded(choice: Inputs['cacheCompression']): string {
  return `type=docker${compression(choice)}`
}

// Layers keep the compression they were built or imported with: layers
// built here come out gzip-compressed, those of a restored entry keep its
// compression. Forced, the export gives every layer the one asked for
// (recompressing only the layers that have another), so a cache never mixes
// two, even after the input changes.
function compression(choice: Inputs['cacheCompression']): string {
  return `,compression=${choice},force-compression=true`
}
