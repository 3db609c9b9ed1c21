// actions/cache's restore or save of one path, in a process of its own as an
// actions/cache step runs: how the docker save / load approach moves its image
// archive through the cache service. Node runs this file directly (its types
// stripped), with the cache service's variables in the environment:
//   node bench/cache-step.ts restore KEY PATH RESTORE_KEY_PREFIX
//   node bench/cache-step.ts save KEY PATH
// The last line printed is the key restored (empty on a miss) or saved.
import * as cache from '@actions/cache'

const [command, key, file, restorePrefix] = process.argv.slice(2)
if (command === 'restore' && key && file) {
  const matched = await cache.restoreCache([file], key, restorePrefix ? [restorePrefix] : [])
  process.stdout.write(`\n${matched ?? ''}\n`)
} else if (command === 'save' && key && file) {
  await cache.saveCache([file], key)
  process.stdout.write(`\n${key}\n`)
} else {
  process.stderr.write('usage: cache-step.ts restore KEY PATH [RESTORE_KEY_PREFIX] | save KEY PATH\n')
  process.exit(2)
}
// As actions/cache does: the client's idle keep-alive sockets must not hold the step open.
process.exit(0)
