import * as core from '@actions/core'
import { printable } from '../printable.js'
import type { ImageHash } from './hash.js'

const FILES_SHOWN = 200

/** What went into the key, so a user can see why two runs got different keys. */
export function logHashInputs(hashed: ImageHash): void {
  core.info(`Hashing ${printable(hashed.origin)}`)
  for (const file of hashed.files.slice(0, FILES_SHOWN))
    core.info(`  ${file.digest.slice(0, 13)}  ${printable(file.path)}`)
  if (hashed.files.length > FILES_SHOWN) core.info(`  ... and ${hashed.files.length - FILES_SHOWN} more files`)
  for (const setting of hashed.settings) core.info(`  ${setting}`)
  core.info(`Hash: ${hashed.hash}`)
}
