// Bump when the hash's make-up changes, so old entries stop matching exactly.
// v2: .dockerignore applied, links resolved inside the context, the engine's platform.
// v3: only the stages the target needs, their words expanded (args, build args,
// platform args, ENV), --exclude, --parents and ONBUILD of the file's own
// stages; the whole context for a custom frontend.
export const HASH_VERSION = 'v3'
