import * as core from '@actions/core'
import { branchScope, type KeyPlan } from '../key/key.js'
import { ImagetoolsClient, type Lookup, type RegistryClient } from './registry-client.js'
import { explainPushFailure } from './registry-faults.js'
import { KEY_ANNOTATION, parseBranchPointer, parseCacheManifest } from './registry-manifest.js'
import { branchTag, contentTag } from './registry-tags.js'
import type { CacheLocation, CacheStore, Exported, Restored, SaveResult } from './store.js'

interface Candidate {
  /** The content key, or for a branch tag the restore key it stands for. */
  key: string
  ref: string
  /** `exact`: this run's content key; `content`: the same content on another branch; `branch`: a branch's newest entry. */
  kind: 'exact' | 'content' | 'branch'
}

/**
 * A repository in an OCI registry (`cache-ref`). BuildKit moves the data
 * itself: it pushes an entry during the build (`--cache-to type=registry`,
 * under the content key's tag, rewritten when a stale entry is refreshed) and
 * pulls only the layers a build needs (`--cache-from`), so nothing passes
 * through the runner's disk. This store finds out which entry exists before
 * the build, and on save moves the image's branch tag, which the fallbacks
 * read, to the entry the build pushed.
 */
export class RegistryCacheStore implements CacheStore {
  readonly backend = 'registry'
  // The build pushes under the content key's tag; the restore that precedes
  // every export is where the store learns the key.
  private plan?: KeyPlan
  // Set when the registry could not be used at all: a push would fail or hang too.
  private unusable?: string
  // The content key of the last export: the plan's, or a partial one.
  private exportKey?: string

  constructor(
    private readonly repository: string,
    private readonly client: RegistryClient = new ImagetoolsClient()
  ) {}

  async restore(plan: KeyPlan): Promise<Restored | undefined> {
    this.plan = plan
    const candidates: Candidate[] = [{ key: plan.content, ref: this.tagged(contentTag(plan.content)), kind: 'exact' }]
    for (const r of plan.restoreKeys) {
      // A restore key of the same content names it as a prefix (`<content>/`).
      const key = r.sameContent ? r.key.slice(0, -1) : r.key
      candidates.push({
        key,
        ref: this.tagged(r.sameContent ? contentTag(key) : branchTag(key)),
        kind: r.sameContent ? 'content' : 'branch'
      })
    }
    core.info(`Looking up ${candidates.map(c => c.ref).join(', ')}`)
    // All at once: each lookup is a registry round trip, and most are misses.
    const lookups = await Promise.all(candidates.map(c => this.client.inspect(c.ref)))
    const fault = lookups.find(l => l.kind !== 'found' && l.kind !== 'missing')
    if (fault) {
      this.warnAbout(fault)
      return undefined
    }
    let damagedExact: Restored | undefined
    for (const [i, candidate] of candidates.entries()) {
      const lookup = lookups[i]
      if (lookup.kind !== 'found') continue
      const entry =
        candidate.kind === 'branch'
          ? await this.branchEntry(candidate, lookup.raw)
          : this.contentEntry(candidate, lookup.raw)
      if (entry.problem === undefined) {
        core.info(`Cache found at ${candidate.ref} for key: ${entry.matchedKey}`)
        return entry
      }
      const fix =
        candidate.kind === 'exact'
          ? 'the next run that may write replaces it'
          : 'the next save on that branch replaces it'
      core.warning(`Skipping the damaged cache entry ${candidate.ref} (${entry.problem}); ${fix}.`)
      if (candidate.kind === 'exact') damagedExact = entry
    }
    // Reported, so that this run replaces it when it may write.
    return damagedExact
  }

  async exportTo(content?: string): Promise<CacheLocation> {
    if (this.unusable !== undefined) throw new Error(this.unusable)
    if (this.plan === undefined) throw new Error('the registry was not looked up before the build')
    this.exportKey = content ?? this.plan.content
    return { type: 'registry', ref: this.tagged(contentTag(this.exportKey)) }
  }

  // What the registry holds under the exported content's tag now: the build
  // pushed it, unless buildx said the push failed.
  async exported(buildError?: string): Promise<Exported> {
    if (this.plan === undefined) return { sizeBytes: 0, problem: 'the registry was not looked up before the build' }
    const ref = this.tagged(contentTag(this.exportKey ?? this.plan.content))
    if (buildError !== undefined) return { sizeBytes: 0, problem: explainPushFailure(buildError, ref) }
    const lookup = await this.client.inspect(ref)
    if (lookup.kind !== 'found')
      return {
        sizeBytes: 0,
        problem: `the build left nothing at ${ref} (${lookup.kind === 'missing' ? 'not found' : lookup.message})`
      }
    const manifest = parseCacheManifest(lookup.raw)
    return manifest.ok
      ? { sizeBytes: manifest.sizeBytes }
      : { sizeBytes: 0, problem: `${ref} does not hold the build's cache: ${manifest.problem}` }
  }

  // The entry is already in the registry: the build pushed it. What is left
  // is to make it the one the fallbacks find.
  async save(plan: Pick<KeyPlan, 'content'>): Promise<SaveResult> {
    const source = this.tagged(contentTag(plan.content))
    const lookup = await this.client.inspect(source)
    if (lookup.kind !== 'found') {
      return {
        saved: false,
        reason: `the build left no cache at ${source} (${lookup.kind === 'missing' ? 'not found' : lookup.message}).`
      }
    }
    const manifest = parseCacheManifest(lookup.raw)
    if (!manifest.ok) return { saved: false, reason: `${source} does not hold the build's cache: ${manifest.problem}.` }
    const target = this.tagged(branchTag(branchScope(plan.content)))
    const pointed = await this.client.point(target, source, { [KEY_ANNOTATION]: plan.content })
    if (!pointed.ok) {
      return {
        saved: false,
        reason: `the build pushed ${source}, but ${target} could not be moved to it: ${explainPushFailure(pointed.error, this.repository)}`
      }
    }
    core.info(`The build pushed the cache to ${source}; ${target} now points at it.`)
    return { saved: true, key: plan.content, sizeBytes: manifest.sizeBytes }
  }

  temporaryPaths(): string[] {
    return []
  }

  private contentEntry(candidate: Candidate, raw: string): Restored {
    const manifest = parseCacheManifest(raw)
    if (!manifest.ok) return { matchedKey: candidate.key, from: [], sizeBytes: 0, problem: manifest.problem }
    return {
      matchedKey: candidate.key,
      from: [{ type: 'registry', ref: candidate.ref }],
      sizeBytes: manifest.sizeBytes
    }
  }

  // A branch tag is an index that names the content key it follows; BuildKit
  // imports only a cache manifest, so it is given the manifest by digest.
  private async branchEntry(candidate: Candidate, raw: string): Promise<Restored> {
    const pointer = parseBranchPointer(raw, candidate.key)
    if (!pointer.ok) return { matchedKey: candidate.key, from: [], sizeBytes: 0, problem: pointer.problem }
    const ref = `${this.repository}@${pointer.digest}`
    const lookup = await this.client.inspect(ref)
    if (lookup.kind !== 'found') {
      const why =
        lookup.kind === 'missing'
          ? 'the entry it points at is gone'
          : `the entry it points at could not be read: ${lookup.message}`
      return { matchedKey: pointer.key, from: [], sizeBytes: 0, problem: why }
    }
    const manifest = parseCacheManifest(lookup.raw)
    if (!manifest.ok) return { matchedKey: pointer.key, from: [], sizeBytes: 0, problem: manifest.problem }
    return { matchedKey: pointer.key, from: [{ type: 'registry', ref }], sizeBytes: manifest.sizeBytes }
  }

  private warnAbout(fault: Exclude<Lookup, { kind: 'found' } | { kind: 'missing' }>): void {
    if (fault.kind === 'denied') {
      // The push is still tried: a registry may deny reading a repository
      // that does not exist yet, and the first push creates it.
      core.warning(
        `The registry refused to read ${this.repository} (${fault.message}); building without its cache. ` +
          'Log in before this step (docker/login-action; for ghcr.io the job needs `permissions: packages: read`, or `write` where it saves). ' +
          'A repository that does not exist yet is created by the first save.'
      )
      return
    }
    this.unusable = `the registry could not be used when the cache was looked up (${fault.message})`
    core.warning(`The registry of ${this.repository} could not be used (${fault.message}); building without its cache.`)
  }

  private tagged(tag: string): string {
    return `${this.repository}:${tag}`
  }
}
