import { runMain } from './main-step.js'

// Exit explicitly: a cache request that never answered must not hold the job.
await runMain()
process.exit()
