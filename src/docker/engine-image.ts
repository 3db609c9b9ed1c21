import { HASH_VERSION } from '../key/hash-version.js'
import { timeLimit, untilAborted } from '../time-limit.js'
import { docker } from './docker-cli.js'

// A persistent runner's engine may still hold what an earlier job built for
// this very key. The image says which key it was built for, and on which
// builder, through the labels a build on the current builder gives it; that
// builder's cache then holds its steps, so a restore would only download and
// import what is already there. A builder made for one job (ours, or one of
// docker/setup-buildx-action, named afresh each time) is gone with its cache
// by the next job: its images are not labelled, or name another builder.
// Whether the builder kept the build cache is judged afterwards, by the steps
// the build reused, as for any restored entry.

export const KEY_LABEL = 'io.github.buildx-ci-cache.key'
export const HASH_VERSION_LABEL = 'io.github.buildx-ci-cache.hash-version'
export const BUILDER_LABEL = 'io.github.buildx-ci-cache.builder'

// An inspect answers in a fraction of a second; an engine slower than this is
// asked nothing more, and the restore goes ahead.
const INSPECT_SECONDS = 10

/** What a build on the current builder labels its image with. */
export interface ImageOrigin {
  /** The content key. */
  key: string
  builder: string
}

/** The `--label` arguments of a build of the image for `origin`. */
export function imageLabelArgs(origin: ImageOrigin): string[] {
  return [
    '--label',
    `${KEY_LABEL}=${origin.key}`,
    '--label',
    `${HASH_VERSION_LABEL}=${HASH_VERSION}`,
    '--label',
    `${BUILDER_LABEL}=${origin.builder}`
  ]
}

export type EngineImage =
  | { kind: 'holds'; key: string }
  | { kind: 'other-key'; key: string }
  | { kind: 'unlabelled' }
  | { kind: 'absent'; detail: string }

/** Pure: what the labels of the engine's image say about this run's key and builder. */
export function judgeLabels(labels: unknown, wanted: ImageOrigin): EngineImage {
  if (typeof labels !== 'object' || labels === null) return { kind: 'unlabelled' }
  const label = (name: string): string | undefined => {
    const value = (labels as Record<string, unknown>)[name]
    return typeof value === 'string' ? value : undefined
  }
  const key = label(KEY_LABEL)
  const version = label(HASH_VERSION_LABEL)
  const builder = label(BUILDER_LABEL)
  if (key === undefined || version === undefined || builder === undefined) return { kind: 'unlabelled' }
  if (key !== wanted.key || version !== HASH_VERSION || builder !== wanted.builder)
    return { kind: 'other-key', key: `${key} (hash ${version}, builder ${builder})` }
  return { kind: 'holds', key }
}

/** What the engine's image `tag` was built for; never rejects: any failure to ask is an image that is not there. */
export async function engineImage(tag: string, wanted: ImageOrigin): Promise<EngineImage> {
  try {
    const inspected = await untilAborted(
      docker(['image', 'inspect', '--format', '{{json .Config.Labels}}', tag]),
      timeLimit(INSPECT_SECONDS, `docker image inspect did not answer within ${INSPECT_SECONDS} s`)
    )
    if (inspected.exitCode !== 0)
      return { kind: 'absent', detail: inspected.stderr.trim() || 'docker image inspect failed' }
    return judgeLabels(JSON.parse(inspected.stdout), wanted)
  } catch (error) {
    return { kind: 'absent', detail: (error as Error).message }
  }
}
