import { parseDockerfile } from '../key/dockerfile-parse.js'
import type { CacheMount } from '../key/dockerfile-stages.js'

// A cache mount lives in the builder, and only a RUN can reach it. The
// helper builds that fill or empty one are the user's own Dockerfile cut
// just before the first RUN that uses the mount, with one RUN of ours
// appended to that stage: its tools (sh, cp, chown) are the ones the mount's
// own RUN is about to use, its steps are the ones the build runs anyway (so
// the builder serves them, CACHED, or the build that follows does), and no
// image has to come from a registry. A nonce in each RUN keeps BuildKit from
// answering it from its cache, which would skip the copy.

/** The named build context the restore reads the mount's files from. */
export const RESTORED_CONTEXT = 'buildx-ci-cache-restored'
const MOUNT_DIR = '/buildx-ci-cache/mount'
const IN_DIR = '/buildx-ci-cache/in'
const OUT_DIR = '/buildx-ci-cache/out'
/**
 * Printed by the restore when the builder's mount already held files, which
 * are then kept. The command echoes it in two quoted halves, so that buildx's
 * echo of the command itself never contains it.
 */
export const NOT_EMPTY_MARK = 'buildx-ci-cache-mount-not-empty'

/** Why a mount can't be written into a generated RUN line; undefined when it can. */
export function unwritable(mount: CacheMount): string | undefined {
  for (const [name, value] of Object.entries(fieldsOf(mount)))
    if (!/^[^\s"'$\\`]+$/.test(value)) return `its ${name} (${JSON.stringify(value)}) holds quotes, spaces or variables`
  return undefined
}

/** The Dockerfile that copies the restored files (the named context's `source` folder) into an empty mount. */
export function restoreDockerfile(original: string, mount: CacheMount, source: string, nonce: string): string {
  const owner = `${mount.uid ?? '0'}:${mount.gid ?? '0'}`
  const script = [
    `: ${nonce}`,
    `if [ -n "$(ls -A ${MOUNT_DIR})" ]; then echo "${NOT_EMPTY_MARK.slice(0, 15)}""${NOT_EMPTY_MARK.slice(15)}"; exit 0; fi`,
    `cp -a ${IN_DIR}/. ${MOUNT_DIR}/`,
    // Files come from the runner's disk, owned by its user: given to the mount's owner, as BuildKit makes the mount.
    `chown -R ${owner} ${MOUNT_DIR}`
  ].join('\n')
  const bind = `--mount=type=bind,from=${RESTORED_CONTEXT},source=${source},target=${IN_DIR}`
  return `${cut(original, mount.line)}\nUSER 0:0\nRUN ${cacheFlag(mount)} ${bind} ${execForm(script)}\n`
}

/** The Dockerfile whose last stage holds nothing but the mount's files, for `--output type=tar`. */
export function saveDockerfile(original: string, mount: CacheMount, nonce: string): string {
  const kept = cut(original, mount.line)
  const helper = parseDockerfile(kept).instructions.filter(i => i.keyword === 'from').length - 1
  const script = [`: ${nonce}`, `mkdir -p ${OUT_DIR}`, `cp -a ${MOUNT_DIR}/. ${OUT_DIR}/`].join('\n')
  return `${kept}\nUSER 0:0\nRUN ${cacheFlag(mount)} ${execForm(script)}\n\nFROM scratch\nCOPY --from=${helper} ${OUT_DIR}/ /\n`
}

/** Everything before the 1-based `line`: the stages above, and the mount's stage up to its RUN. */
export function cut(original: string, line: number): string {
  const lines = original.split('\n')
  return lines.slice(0, Math.max(0, line - 1)).join('\n')
}

// The same mount the build uses: BuildKit tells cache mounts apart by id
// (and by `from`, the base they start from); sharing, mode and owner come
// along so that a mount made here is made as the build would make it.
function cacheFlag(mount: CacheMount): string {
  const fields = Object.entries(fieldsOf(mount)).map(([name, value]) => `${name}=${value}`)
  return `--mount=type=cache,target=${MOUNT_DIR},${fields.join(',')}`
}

function fieldsOf(mount: CacheMount): Record<string, string> {
  const fields: Record<string, string> = { id: mount.id, sharing: mount.sharing }
  for (const name of ['from', 'source', 'mode', 'uid', 'gid'] as const) {
    const value = mount[name]
    if (value !== undefined) fields[name] = value
  }
  return fields
}

// Exec form through /bin/sh: the stage's SHELL may be another shell
// (bash -o pipefail, or powershell), and JSON needs no escape character.
function execForm(script: string): string {
  return JSON.stringify(['/bin/sh', '-ec', script])
}
