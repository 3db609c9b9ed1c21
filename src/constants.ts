// Every input and output name, so none is ever spelled twice (state names
// live in steps/step-state.ts, the only module that reads or writes state).

export const Input = {
  Image: 'image',
  Context: 'context',
  File: 'file',
  HashFiles: 'hash-files',
  KeyPrefix: 'key-prefix',
  DefaultBranch: 'default-branch',
  SaveBranches: 'save-branches',
  Tags: 'tags',
  BuildArgs: 'build-args',
  Secrets: 'secrets',
  SecretEnvs: 'secret-envs',
  SecretFiles: 'secret-files',
  Target: 'target',
  Platforms: 'platforms',
  Load: 'load',
  Push: 'push',
  Pull: 'pull',
  NoCache: 'no-cache',
  CreateBuilder: 'create-builder',
  CacheBackend: 'cache-backend',
  CacheRoot: 'cache-root',
  CacheRef: 'cache-ref',
  CacheCompression: 'cache-compression',
  MaxCacheSize: 'max-cache-size',
  DeleteSuperseded: 'delete-superseded',
  GithubToken: 'github-token',
  RestoreTimeout: 'restore-timeout',
  SaveTimeout: 'save-timeout',
  StallTimeout: 'stall-timeout',
  Summary: 'summary',
  SaveOnFailure: 'save-on-failure',
  CacheMounts: 'cache-mounts',
  MaxCacheMountSize: 'max-cache-mount-size',
  BaseImages: 'base-images'
} as const

export const Output = {
  Key: 'key',
  MatchedKey: 'matched-key',
  CacheHit: 'cache-hit',
  CacheSource: 'cache-source',
  ImageId: 'imageid',
  Digest: 'digest',
  CacheSize: 'cache-size',
  RestoreTime: 'restore-time',
  BuildTime: 'build-time',
  CachedSteps: 'cached-steps',
  CacheStale: 'cache-stale',
  CacheMountsRestored: 'cache-mounts-restored'
} as const

// engine: no entry was restored; the engine still held the image this very key built, and its build cache.
export type CacheSource = 'exact' | 'branch' | 'base-branch' | 'default-branch' | 'engine' | 'none'
export type CacheBackendName = 'gha' | 'local' | 'registry'
export type CacheCompression = 'gzip' | 'zstd' | 'uncompressed'
// cache: base images kept with the entry serve the runs that restore it; registry: every run asks the registry.
export type BaseImagesSource = 'cache' | 'registry'
