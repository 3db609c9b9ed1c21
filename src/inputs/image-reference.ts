import { Input } from '../constants.js'

// Image references and repositories as docker reads them, checked before the
// build: anything else would fail it later with a less helpful message. Each
// check says what is wrong, or nothing; inputs.ts refuses the input.

// Docker's reference grammar, loosely: lowercase repository path, optional
// registry port, tag or digest.
const REFERENCE =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/

// A repository, never a tag: the action names each entry's tag itself.
const REPOSITORY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/

/** Why `value` cannot tag the image; `input` names where it came from, unset for `image` used as the tag. */
export function referenceProblem(value: string, input?: string): string | undefined {
  if (REFERENCE.test(value)) return undefined
  return input
    ? `Tag "${value}" in \`${input}\` is not a valid image reference; use lowercase letters, digits and . _ - / : only.`
    : `Input \`image\` ("${value}") is used as the image's tag but is not a valid image reference; set \`tags\`, or use a name of lowercase letters, digits and . _ - /.`
}

/** Why `cache-ref` is not a repository the action can name its tags in. */
export function cacheRefProblem(cacheRef: string): string | undefined {
  if (/[\r\n]/.test(cacheRef)) return `Input \`${Input.CacheRef}\` must be a single line.`
  if (/@|:[^/]*$/.test(cacheRef.replace(/^[^/]*\//, ''))) {
    return `Input \`${Input.CacheRef}\` ("${cacheRef}") names a tag or digest; give the repository alone, e.g. ghcr.io/acme/ci-cache: the action names the tags.`
  }
  if (!REPOSITORY.test(cacheRef)) {
    return `Input \`${Input.CacheRef}\` ("${cacheRef}") is not a repository of the form <registry>/<name>; use lowercase letters, digits and . _ - / only (GitHub owner names may need lowercasing).`
  }
  return undefined
}
