import * as core from '@actions/core'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { dirSize, removeDir } from '../fsutil.js'
import { branchScope, generationKey, keyComponent, type KeyPlan } from '../key/key.js'
import { megabytes } from '../megabytes.js'
import { runClient, type ClientOutcome } from './client-process.js'
import { restoreDirectly } from './direct-restore.js'
import type { ClientRequest } from './client-protocol.js'
import type { Bounds } from './deadline.js'
import { cacheProblem, checkLayout, type LayoutCheck } from './integrity.js'
import { MANIFEST_FILE, parseManifest, renderManifest, type PackManifest } from './packs/manifest.js'
import { MOUNTS_FOLDER } from '../mounts/folder.js'
import { planSave } from './packs/plan.js'
import { packsAvailable } from './packs/service.js'
import { BlobServer, type PackedBlob } from './packs/blob-server.js'
import type { CacheLocation, CacheStore, Exported, Released, Restored, SaveResult } from './store.js'

/**
 * The GitHub Actions cache service. An entry is the layout's index.json and
 * a manifest of packs (packs/manifest.ts): the blobs live in packs, entries
 * of their own, so that a save uploads only what the service does not hold
 * and a restore reads blobs straight into the layout. On a service without
 * the v2 API (GHES), entries are whole layouts; restores read both.
 *
 * The service's entry version hashes the
 * path strings the client is given, and the client archives paths relative to
 * GITHUB_WORKSPACE. Each call therefore runs in a client process whose
 * workspace and working directory are our own folder under RUNNER_TEMP, and
 * names the cache by a relative path: the version is the same on every
 * runner, however its directories are laid out, and the archive extracts
 * where we look. This process's environment and directory never change.
 */
export class GhaCacheStore implements CacheStore {
  readonly backend = 'gha'
  private readonly workRoot: string
  private readonly cacheName: string
  private readonly cacheDir: string
  private readonly exportDir: string
  // The client leaves empty directories in its temp dir after every call;
  // giving it one of ours lets us remove them all.
  private readonly clientTemp: string
  private server: BlobServer | undefined

  constructor(
    runnerTemp: string,
    image: string,
    private readonly bounds: Bounds,
    /** The step's environment: the client process starts from it, and the runner's cache mode and token are read from it. */
    private readonly env: NodeJS.ProcessEnv,
    /**
     * Whether the builder reaches this runner's loopback interface (the docker
     * driver, the builder the action creates on the host's network): then an
     * entry of packs is served to it during the build rather than written to
     * disk first.
     */
    private readonly serveBlobs = false
  ) {
    this.workRoot = path.join(runnerTemp, 'buildx-ci-cache')
    this.cacheName = keyComponent(image)
    this.cacheDir = path.join(this.workRoot, this.cacheName)
    this.exportDir = `${this.cacheDir}.new`
    this.clientTemp = path.join(this.workRoot, `${this.cacheName}.client-tmp`)
  }

  async restore(plan: KeyPlan, signal?: AbortSignal): Promise<Restored | undefined> {
    await removeDir(this.cacheDir)
    const request: ClientRequest = {
      op: 'restore',
      paths: [this.cacheName],
      key: plan.lookup,
      restoreKeys: plan.restoreKeys.map(r => r.key),
      blobs: this.serveBlobs ? 'locate' : 'fetch'
    }
    let outcome: ClientOutcome
    try {
      outcome = (await this.restoreDirectly(request, signal)) ?? (await this.call(request, signal))
    } catch (error) {
      // Given up on: whatever the client had unpacked is not a cache.
      await removeDir(this.cacheDir)
      throw error
    }
    const { reply, warnings } = outcome
    const said = warnings.length > 0 ? `: ${warnings.join('; ')}` : ''
    if (reply.kind === 'unavailable') {
      core.warning(
        'The GitHub Actions cache service is not available to this job (ACTIONS_RESULTS_URL or ACTIONS_RUNTIME_TOKEN is unset); building without a cache.'
      )
      return undefined
    }
    if (reply.kind !== 'restored') {
      core.warning(
        `Cache restore failed, building without a cache: ${reply.kind === 'refused' ? reply.message : 'the cache client gave no answer to the restore'}`
      )
      return undefined
    }
    const { found, matchedKey } = reply
    if (found === undefined) {
      if (warnings.length > 0) core.warning(`The cache lookup failed, building without a cache${said}`)
      return undefined
    }
    // A failed download can leave a half-extracted directory behind, and an
    // archive can hold anything: import only a complete buildx cache. The
    // entry found is still reported, so that a broken one gets replaced.
    if (matchedKey === undefined) {
      core.warning(
        `The cache entry ${found} was found but could not be downloaded or unpacked${said}; building without a cache.`
      )
      return await this.unusable(found, 'it could not be downloaded or unpacked')
    }
    const blobs = reply.blobs ?? { kind: 'whole' }
    if (blobs.kind === 'failed') {
      core.warning(`The entry ${found} could not be used (${blobs.problem}); building without it.`)
      return await this.unusable(found, blobs.problem)
    }
    if (blobs.kind === 'located') return await this.serve(found, blobs.urls)
    const problem = await cacheProblem(this.cacheDir)
    if (problem !== undefined) {
      core.warning(`The entry ${found} is not a complete buildx cache (${problem}); building without it.`)
      return await this.unusable(found, problem)
    }
    const sizeBytes = await dirSize(this.cacheDir)
    if (blobs.kind === 'fetched')
      core.info(`Fetched ${megabytes(blobs.bytes)} of blobs from ${blobs.packs} pack(s) into the layout.`)
    return {
      matchedKey: found,
      from: [{ type: 'local', dir: this.cacheDir }],
      sizeBytes,
      movedBytes: blobs.kind === 'fetched' ? blobs.bytes : sizeBytes
    }
  }

  // An entry served to the builder needs only its index on disk: that much is
  // read here, without the client process, when the service's answers are
  // plain (direct-restore.ts). Undefined: the client restores as before.
  private async restoreDirectly(
    request: Extract<ClientRequest, { op: 'restore' }>,
    signal?: AbortSignal
  ): Promise<ClientOutcome | undefined> {
    if (request.blobs !== 'locate') return undefined
    const { paths, key, restoreKeys } = request
    const direct = await restoreDirectly(
      { paths, key, restoreKeys, workRoot: this.workRoot },
      this.env,
      this.bounds,
      signal
    )
    if (direct.kind === 'miss') return { reply: { kind: 'restored' }, warnings: [] }
    if (direct.kind === 'hit') {
      const { matchedKey, blobs } = direct
      return { reply: { kind: 'restored', found: matchedKey, matchedKey, blobs }, warnings: [] }
    }
    core.info(`Restoring through the cache client (${direct.why}).`)
    await removeDir(this.cacheDir)
    return undefined
  }

  // The index and manifest are on disk; the blobs stay in their packs until
  // the builder asks for them.
  private async serve(matchedKey: string, urls: string[]): Promise<Restored> {
    const served = await servedEntry(this.cacheDir, urls)
    if ('problem' in served) {
      core.warning(`The entry ${matchedKey} could not be used (${served.problem}); building without it.`)
      return await this.unusable(matchedKey, served.problem)
    }
    try {
      this.server = await BlobServer.start(served.blobs, served.top, this.bounds.stallSeconds)
    } catch (error) {
      const problem = `its blobs could not be offered to the builder: ${(error as Error).message}`
      core.warning(`The entry ${matchedKey} could not be used (${problem}); building without it.`)
      return await this.unusable(matchedKey, problem)
    }
    const checked = await this.server.check()
    if (checked !== undefined) {
      await this.server.close()
      this.server = undefined
      core.warning(
        checked.kind === 'incomplete'
          ? `The entry ${matchedKey} is not a complete buildx cache (${checked.problem}); building without it.`
          : `The entry ${matchedKey} could not be used (${checked.problem}); building without it.`
      )
      return await this.unusable(matchedKey, checked.problem)
    }
    const sizeBytes = served.blobs.reduce((sum, b) => sum + b.size, 0)
    core.info(
      `The entry's ${served.blobs.length} blobs (${megabytes(sizeBytes)}) from ${urls.length} pack(s) are read by the builder as it needs them, from ${this.server.ref}.`
    )
    return {
      matchedKey,
      from: [{ type: 'registry', ref: this.server.ref }],
      sizeBytes,
      served: true,
      dir: this.cacheDir
    }
  }

  async release(): Promise<Released | undefined> {
    const server = this.server
    if (server === undefined) return undefined
    this.server = undefined
    const report = await server.close()
    // A blob that failed this run is not trusted by the save: every blob goes up again.
    if (report.problems.length > 0)
      await fs.promises.writeFile(path.join(this.cacheDir, DISTRUSTED_FILE), `${report.problems.join('\n')}\n`)
    return { movedBytes: report.fetchedBytes, problems: report.problems }
  }

  private async unusable(matchedKey: string, problem: string): Promise<Restored> {
    await removeDir(this.cacheDir)
    return { matchedKey, from: [], sizeBytes: 0, problem }
  }

  async exportTo(): Promise<CacheLocation> {
    await removeDir(this.exportDir)
    // Served to the builder: the export goes back through the same server,
    // and only what the entry lacks reaches the directory.
    if (this.server) return { type: 'local', dir: this.exportDir, through: this.server.acceptPushes(this.exportDir) }
    return { type: 'local', dir: this.exportDir }
  }

  async exported(): Promise<Exported> {
    if (!this.server?.pushing()) {
      const problem = await cacheProblem(this.exportDir)
      return { sizeBytes: await dirSize(this.exportDir), problem }
    }
    const layout = await this.completeLayout(this.server)
    if ('problem' in layout) return { sizeBytes: await dirSize(this.exportDir), problem: layout.problem }
    const elsewhere = layout.blobs.filter(b => b.elsewhere)
    core.info(
      `The builder exported ${megabytes(this.server.pushedBytes())} of new blobs; the ${elsewhere.length} it found in the restored entry (${megabytes(elsewhere.reduce((sum, b) => sum + b.size, 0))}) stay in their packs.`
    )
    return { sizeBytes: layout.blobs.reduce((sum, b) => sum + b.size, 0) }
  }

  // A layout pushed to the server lacks the blobs the entry's packs hold.
  // The save reads its manifests and writes again the live blobs of a pack
  // mostly dead: those are fetched now, while the packs' addresses are known.
  private async completeLayout(server: BlobServer): Promise<LayoutCheck> {
    const held = server.trusted() ? await this.restoredManifest() : undefined
    const sizes = heldSizes(held)
    for (let laid = 0; ; laid++) {
      const layout = await checkLayout(this.exportDir, sizes)
      if (!('problem' in layout)) {
        // The pack's scope names it, not what goes in it.
        const rewritten = planSave(layout.blobs, held, '').upload?.blobs.filter(b => b.elsewhere) ?? []
        for (const blob of rewritten)
          if (!(await server.lay(this.exportDir, blob.digest)))
            return { problem: `blob ${blob.digest} could not be read back from its pack` }
        return rewritten.length > 0 ? await checkLayout(this.exportDir, sizes) : layout
      }
      if (!layout.missing || laid >= MAX_LAID_MANIFESTS || !(await server.lay(this.exportDir, layout.missing.digest)))
        return layout
    }
  }

  async save(plan: Pick<KeyPlan, 'content'>, signal?: AbortSignal): Promise<SaveResult> {
    // Said plainly and before anything is uploaded: the client reports a
    // denied write only as a warning of its own, and we would blame a race.
    const denied = writeDenied(this.env)
    if (denied) return { saved: false, reason: denied }
    return packsAvailable(this.env) ? await this.savePacked(plan, signal) : await this.saveWhole(plan, signal)
  }

  // The entry names the exported layout's blobs; those the restored entry's
  // packs hold (read back and verified this run) are named where they are,
  // the rest go up in one new pack before the entry.
  private async savePacked(plan: Pick<KeyPlan, 'content'>, signal?: AbortSignal): Promise<SaveResult> {
    const held = await this.heldPacks()
    const layout = await checkLayout(this.exportDir, heldSizes(held))
    if ('problem' in layout) return { saved: false, reason: `the exported cache is incomplete (${layout.problem})` }
    const planned = planSave(layout.blobs, held, branchScope(plan.content))
    const sizeBytes = layout.blobs.reduce((sum, b) => sum + b.size, 0)
    core.info(
      planned.upload
        ? `Uploading ${megabytes(planned.upload.sizeBytes)} of new blobs; ${megabytes(planned.reusedBytes)} are held by the cache service already.`
        : `Every blob (${megabytes(planned.reusedBytes)}) is held by the cache service already: only the index is uploaded.`
    )
    if (planned.rewritten.length > 0)
      core.info(
        `Writing again the live blobs of ${planned.rewritten.length} pack(s) mostly made of blobs no longer named.`
      )
    await removeDir(this.cacheDir)
    await fs.promises.mkdir(this.cacheDir, { recursive: true })
    await fs.promises.copyFile(path.join(this.exportDir, 'index.json'), path.join(this.cacheDir, 'index.json'))
    await fs.promises.writeFile(path.join(this.cacheDir, MANIFEST_FILE), renderManifest(planned.manifest))
    // The build's cache mounts travel in the entry's own archive, beside the index.
    const mounts = path.join(this.exportDir, MOUNTS_FOLDER)
    if (fs.existsSync(mounts)) await fs.promises.rename(mounts, path.join(this.cacheDir, MOUNTS_FOLDER))
    const key = generationKey(plan.content)
    const upload = planned.upload && { ...planned.upload, layout: this.exportDir }
    const { reply, warnings } = await this.call({ op: 'save', paths: [this.cacheName], key, pack: upload }, signal)
    const refused = this.refusal(reply, warnings)
    if (refused) return refused
    const indexBytes = await dirSize(this.cacheDir)
    const packBytes = reply.kind === 'saved' && reply.pack?.kind === 'uploaded' ? reply.pack.bytes : 0
    return {
      saved: true,
      key,
      sizeBytes,
      movedBytes: packBytes + indexBytes,
      needs: planned.manifest.packs.map(p => p.key)
    }
  }

  /** The packs of the entry this run restored, if it restored one of packs. */
  private async heldPacks(): Promise<PackManifest | undefined> {
    const distrusted = await fs.promises
      .readFile(path.join(this.cacheDir, DISTRUSTED_FILE), 'utf8')
      .catch(() => undefined)
    if (distrusted !== undefined) {
      core.info(
        `The restored entry's packs are not reused, as the build could not read them all: every blob is uploaded.`
      )
      return undefined
    }
    return await this.restoredManifest(true)
  }

  private async restoredManifest(say = false): Promise<PackManifest | undefined> {
    const text = await fs.promises.readFile(path.join(this.cacheDir, MANIFEST_FILE), 'utf8').catch(() => undefined)
    if (text === undefined) return undefined
    const manifest = parseManifest(text)
    if ('problem' in manifest) {
      if (say) core.info(`The restored entry's packs cannot be reused (${manifest.problem}): every blob is uploaded.`)
      return undefined
    }
    return manifest
  }

  private async saveWhole(plan: Pick<KeyPlan, 'content'>, signal?: AbortSignal): Promise<SaveResult> {
    // The entry's version hashes the path the client is given, which must be
    // the one restores ask for: the export takes the restored cache's place.
    // buildx adds to a local cache and never removes from it; a fresh export
    // swapped in is what keeps the entry from growing forever.
    await removeDir(this.cacheDir)
    await fs.promises.rename(this.exportDir, this.cacheDir)
    const key = generationKey(plan.content)
    const { reply, warnings } = await this.call({ op: 'save', paths: [this.cacheName], key }, signal)
    const refused = this.refusal(reply, warnings)
    if (refused) return refused
    const sizeBytes = await dirSize(this.cacheDir)
    return { saved: true, key, sizeBytes, movedBytes: sizeBytes }
  }

  private refusal(reply: ClientOutcome['reply'], warnings: string[]): SaveResult | undefined {
    if (reply.kind === 'unavailable')
      return { saved: false, reason: 'the GitHub Actions cache service is not available to this job.' }
    if (reply.kind === 'refused') return { saved: false, reason: `the cache service refused it: ${reply.message}` }
    if (reply.kind === 'pack-failed')
      return { saved: false, reason: `the cache service did not accept the entry (${reply.reason})` }
    if (reply.kind !== 'saved' || reply.id === -1) {
      const why =
        warnings.length > 0
          ? warnings.join('; ')
          : 'another job may have saved this generation first, or the service failed; see above'
      return { saved: false, reason: `the cache service did not accept the entry (${why})` }
    }
    return undefined
  }

  temporaryPaths(): string[] {
    return [this.cacheDir, this.exportDir, this.clientTemp]
  }

  private async call(request: ClientRequest, signal?: AbortSignal): Promise<ClientOutcome> {
    await fs.promises.mkdir(this.clientTemp, { recursive: true })
    try {
      return await runClient(
        request,
        { workRoot: this.workRoot, temp: this.clientTemp, env: this.env },
        this.bounds,
        signal
      )
    } finally {
      await removeDir(this.clientTemp)
    }
  }
}

/** digest → size of the blobs a manifest of packs places: what checkLayout may find elsewhere. */
function heldSizes(held: PackManifest | undefined): Map<string, number> {
  return new Map((held?.blobs ?? []).map(b => [b.digest, b.size]))
}

/** Manifests of kept images an export names from the entry, fetched for the save to read. */
const MAX_LAID_MANIFESTS = 64

/** Beside the restored index: what went wrong while the builder read the entry. */
const DISTRUSTED_FILE = 'buildx-ci-cache-unread.txt'

type ServedEntry = { blobs: PackedBlob[]; top: { digest: string; mediaType: string } } | { problem: string }

/** The blobs of the entry restored at `dir` (index.json and its manifest of packs) where its packs hold them. */
export async function servedEntry(dir: string, urls: readonly string[]): Promise<ServedEntry> {
  const manifest = parseManifest(await fs.promises.readFile(path.join(dir, MANIFEST_FILE), 'utf8'))
  if ('problem' in manifest) return manifest
  let top: unknown
  try {
    const { manifests } = JSON.parse(await fs.promises.readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests?: Array<{ annotations?: Record<string, unknown> }>
    }
    // BuildKit imports the manifest tagged `latest`; kept base images may follow it.
    top = manifests?.find(m => m?.annotations?.['org.opencontainers.image.ref.name'] === 'latest') ?? manifests?.[0]
  } catch {
    return { problem: 'index.json is not valid JSON' }
  }
  const { digest, mediaType } = (top ?? {}) as { digest?: unknown; mediaType?: unknown }
  if (typeof digest !== 'string' || typeof mediaType !== 'string') return { problem: 'index.json names no manifest' }
  const blobs = manifest.blobs.map(b => ({
    digest: b.digest,
    size: b.size,
    offset: b.offset,
    url: urls[b.pack] as string
  }))
  if (!blobs.some(b => b.digest === digest)) return { problem: `its packs do not hold the manifest ${digest}` }
  if (blobs.some(b => b.url === undefined)) return { problem: 'its manifest names a pack that was not looked up' }
  return { blobs, top: { digest, mediaType } }
}

/**
 * Why this job may not write the cache, when the runner says so: the cache
 * mode it exports, or a runtime token whose cache scopes are all read-only
 * (GitHub gives those to untrusted triggers such as pull_request_target).
 * Undefined when writing is allowed or the token can't be read.
 */
export function writeDenied(env: NodeJS.ProcessEnv): string | undefined {
  const mode = (env.ACTIONS_CACHE_MODE ?? '').trim().toLowerCase()
  if (mode === 'none' || mode === 'read')
    return `the runner's cache mode (ACTIONS_CACHE_MODE=${mode}) does not permit writes, so nothing was uploaded.`
  const scopes = tokenScopes(env.ACTIONS_RUNTIME_TOKEN ?? '')
  if (scopes && !scopes.some(s => (s.permission & 2) !== 0)) {
    const readable = scopes.map(s => s.scope).join(', ') || 'none'
    return `this job's cache token may read but not write (cache write denied; its scopes: ${readable}), so nothing was uploaded.`
  }
  return undefined
}

/** The `ac` claim of a runtime token: the cache scopes and their permissions (1 read, 2 write). */
export function tokenScopes(token: string): Array<{ scope: string; permission: number }> | undefined {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { ac?: unknown }
    if (typeof claims.ac !== 'string') return undefined
    const ac = JSON.parse(claims.ac) as unknown
    if (!Array.isArray(ac)) return undefined
    return ac.map(s => ({
      scope: String((s as { Scope?: unknown }).Scope),
      permission: Number((s as { Permission?: unknown }).Permission)
    }))
  } catch {
    return undefined
  }
}
