import { basesIndexAnnotations, keptInBasesIndex, type KeptBase } from '../docker/base-images.js'
import { ImagetoolsClient, type Pushed } from './registry-client.js'
import { basesTag } from './registry-tags.js'

// With the registry backend, an entry's base images are kept in the cache's
// own repository: each pushed with the cache's compression (so its layers
// are the very blobs the cache holds), then named by one index beside the
// entry, `<content tag>.bases`, whose annotations say which reference each
// manifest stands for. The docker driver cannot push by digest alone: each
// image is pushed under that same tag first, which the index then replaces.

/** Where the bases of this content key's entry are kept. */
export function basesRef(repository: string, contentKey: string): string {
  return `${repository}:${basesTag(contentKey)}`
}

/** The bases kept beside the entry of this content key; none when there is no index or it cannot be read. */
export async function keptInRepository(
  repository: string,
  contentKey: string,
  client = new ImagetoolsClient()
): Promise<KeptBase[]> {
  const lookup = await client.inspect(basesRef(repository, contentKey))
  return lookup.kind === 'found' ? keptInBasesIndex(lookup.raw) : []
}

/** Names the kept bases (already pushed to the repository) beside the entry of this content key. */
export function nameInRepository(
  repository: string,
  contentKey: string,
  kept: KeptBase[],
  client = new ImagetoolsClient()
): Promise<Pushed> {
  return client.combine(
    basesRef(repository, contentKey),
    kept.map(k => `${repository}@${k.digest}`),
    basesIndexAnnotations(kept)
  )
}
