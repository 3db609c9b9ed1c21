// The inputs parseInputs gives for `image: ci` in a workspace at /ws, every
// other input left to its default: what unit tests of the buildx command line
// start from, changing only what they are about.
import type { Inputs } from '../../src/inputs.js'

export const ciInputs: Inputs = {
  image: 'ci',
  context: '/ws',
  file: '/ws/Dockerfile',
  hashFiles: [],
  keyPrefix: 'buildx',
  defaultBranch: '',
  saveBranches: [],
  tags: [],
  buildArgs: [],
  secrets: [],
  secretEnvs: [],
  secretFiles: [],
  target: '',
  platforms: [],
  load: true,
  push: false,
  pull: false,
  noCache: false,
  createBuilder: true,
  cacheBackend: 'gha',
  cacheRoot: '',
  cacheRef: '',
  cacheCompression: 'zstd',
  maxCacheSizeBytes: 0,
  deleteSuperseded: false,
  stallTimeoutSeconds: 60,
  summary: true,
  saveOnFailure: true,
  cacheMounts: true,
  maxCacheMountSizeBytes: 2 * 1024 ** 3,
  baseImages: 'cache'
}
