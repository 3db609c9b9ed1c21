import { errorLine } from './error-line.js'

// What buildx 0.13 on Docker Engine 26 (containerd image store) prints last
// when a blob of the imported local cache is missing or damaged, found by
// breaking real caches. The blob is read either while the build computes
// cache keys or, when the engine already holds the layer, while the new cache
// is exported:
//   failed to solve: failed to compute cache key: NotFound: rpc error: code = NotFound desc = content sha256:<d>: not found
//   failed to solve: NotFound: rpc error: code = NotFound desc = content sha256:<d>: not found
//   failed to solve: error writing layer blob: NotFound: rpc error: code = NotFound desc = content sha256:<d>: not found
//   failed to solve: failed to compute cache key: failed commit on ref "layer-sha256:<d>": commit failed: unexpected commit digest sha256:<x>, expected sha256:<d>: failed precondition
//   failed to solve: failed to compute cache key: failed commit on ref "layer-sha256:<d>": commit failed: "layer-sha256:<d>" failed size validation: <n> != <m>: failed precondition
//   failed to solve: error writing layer blob: failed commit on ref "layer-sha256:<d>": commit failed: rpc error: code = FailedPrecondition desc = unexpected commit size <n>, expected <m>: failed precondition
//   failed to solve: failed to read expected number of bytes: unexpected EOF
// A registry cache is pulled lazily, layer by layer, while the image is
// exported; a layer its manifest names but the registry no longer has
// (deleted, garbage-collected) fails that export:
//   failed to solve: failed to copy: httpReadSeeker: failed open: could not fetch content descriptor sha256:<d> (application/vnd.oci.image.layer.v1.tar+gzip) from remote: not found
// An entry served to the builder from packs (cache/packs/blob-server.ts) is
// imported the same way; a blob the server cannot read is answered 404 (the
// line above), and one whose pack sends other bytes or too few is cut short:
//   failed to solve: short read: expected <n> bytes but got <m>: unexpected EOF
// Such a failed import leaves records in the engine that outlive
// `buildx prune -af`; on an engine that persists between jobs, every later
// build of the same steps fails, with or without a cache, until one runs with
// --no-cache:
//   failed to solve: failed to prepare sha256:<chain> as <id>: parent snapshot sha256:<chain> does not exist: not found
//   failed to solve: failed to compute cache key: parent snapshot sha256:<chain> does not exist: not found
//   failed to solve: failed to extract layer sha256:<diff>: failed to get reader from content store: content digest sha256:<d>: not found
// A damaged index.json, manifest or cache config fails nothing: buildx warns
// ("local cache import at <dir> not found due to err: ...") or reports the
// importer step as errored, and builds without the cache.
// Each pattern is anchored right after "failed to solve: ", so the line of a
// failing RUN (`failed to solve: process "<command>" did not complete
// successfully`) never matches, whatever its command says.
const STAGE = '^failed to solve: (?:failed to compute cache key: |error writing layer blob: )?'
const SHA = 'sha256:[a-f0-9]{64}'
const CACHE_IMPORT_FAILURES = [
  new RegExp(`${STAGE}NotFound: rpc error: code = NotFound desc = content ${SHA}: not found$`),
  new RegExp(
    `${STAGE}failed commit on ref "layer-${SHA}": commit failed: .*(?:unexpected commit (?:digest|size)|failed size validation)`
  ),
  new RegExp(`${STAGE}failed to read expected number of bytes: unexpected EOF$`),
  new RegExp(`${STAGE}short read: expected \\d+ bytes but got \\d+: unexpected EOF$`),
  new RegExp(
    `${STAGE}failed to copy: httpReadSeeker: failed open: could not fetch content descriptor ${SHA} \\([^)]*\\) from remote: not found$`
  ),
  new RegExp(`${STAGE}(?:failed to prepare ${SHA} as [a-z0-9]+: )?parent snapshot ${SHA} does not exist: not found$`),
  new RegExp(
    `${STAGE}failed to extract layer ${SHA}: failed to get reader from content store: content digest ${SHA}: not found$`
  )
]

/**
 * Whether a failed build's output points at a damaged cache: the one imported,
 * or records an earlier damaged import left in the engine. Either way, one
 * more build with --no-cache and without --cache-from gets past it.
 */
export function failedOnCacheImport(output: string): boolean {
  const lastError = errorLine(output)
  return CACHE_IMPORT_FAILURES.some(pattern => pattern.test(lastError))
}
