// Registries a test starts and stops itself, in the engines' network
// namespace: the CNCF distribution registry of the engine's root (what
// scripts/engine-up.sh runs for the shared ones), and a stand-in that
// answers every request with one status, as a rate-limited registry does.
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'

export interface OwnRegistry {
  /** host:port, as BuildKit and the tests reach it. */
  address: string
  start(): Promise<void>
  stop(): Promise<void>
}

/** A free port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

/** A registry whose storage outlives its stops: stopped, it refuses connections, as one that is down. */
export async function ownRegistry(): Promise<OwnRegistry> {
  const root = process.env.ENGINE_ROOT
  if (!root) throw new Error('ENGINE_ROOT is not set: run the tests through `npm test`.')
  const binary = path.join(root, 'usr', 'bin', 'docker-registry')
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'own-registry-'))
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`
  )
  let child: ChildProcess | undefined
  const address = `127.0.0.1:${port}`
  return {
    address,
    async start() {
      child = spawn(binary, ['serve', config], { stdio: 'ignore' })
      for (let i = 0; i < 100; i++) {
        if (await answers(address)) return
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      throw new Error(`the registry at ${address} did not start`)
    },
    async stop() {
      const running = child
      child = undefined
      if (!running || running.exitCode !== null) return
      const exited = new Promise(resolve => running.once('exit', resolve))
      running.kill('SIGTERM')
      await exited
    }
  }
}

async function answers(address: string): Promise<boolean> {
  try {
    return (await fetch(`http://${address}/v2/`)).status === 200
  } catch {
    return false
  }
}

/** A registry that answers every request with `status` (429: Docker Hub's pull limit). */
export async function refusingRegistry(status: number): Promise<{ address: string; requests: number; stop(): void }> {
  const state = { requests: 0 }
  const server = http.createServer((_req, res) => {
    state.requests++
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit.' }] })
    )
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    address: `127.0.0.1:${port}`,
    get requests() {
      return state.requests
    },
    stop: () => void server.close()
  }
}
