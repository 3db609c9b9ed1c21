import { runMain } from './steps/main-step.js'

// Exit explicitly: a cache request that never answered must not hold the job.
await runMain()
process.exit()
