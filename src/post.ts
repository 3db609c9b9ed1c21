import { runPost } from './steps/post-step.js'

// Exit explicitly: a cache request that never answered must not hold the job.
await runPost()
process.exit()
