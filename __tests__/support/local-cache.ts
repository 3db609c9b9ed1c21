// A buildx local cache written by hand, shaped as buildx exports one, for
// tests that damage it: the paths of one layer and of the manifest come back.
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

/** A buildx-shaped local cache: index.json → an OCI index → two layers and a cache config. */
export function writeLayeredCache(dir: string): { layer: string; manifest: string } {
  const blobs = path.join(dir, 'blobs', 'sha256')
  fs.mkdirSync(blobs, { recursive: true })
  const blob = (content: string | Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(content).digest('hex')
    fs.writeFileSync(path.join(blobs, hex), content)
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(content) }
  }
  const layer = blob(Buffer.alloc(4096, 1))
  const other = blob(Buffer.alloc(100, 2))
  const config = blob(JSON.stringify({ layers: [{ blob: layer.digest, parent: -1 }, { blob: other.digest }] }))
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...other },
        { mediaType: 'application/vnd.buildkit.cacheconfig.v0', ...config }
      ]
    })
  )
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...manifest }]
    })
  )
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  return { layer: path.join(blobs, layer.digest.slice(7)), manifest: path.join(blobs, manifest.digest.slice(7)) }
}
