// What the cache client reports about its open requests, read from real
// requests against a local server: a call left unanswered, a download that
// moves, and nothing once they are done.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { classify, NetworkActivity } from '../../../src/cache/network-activity.js'

let server: Server
let base = ''
let finishDownload: () => void = () => undefined
let now = 0
const activity = new NetworkActivity(() => now)
const tick = (): Promise<void> => new Promise(resolve => setTimeout(resolve, 50))

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/twirp/')) return // never answered
    res.writeHead(200, { 'Content-Length': 3 * 1024 })
    res.write(Buffer.alloc(2 * 1024))
    finishDownload = () => res.end(Buffer.alloc(1024))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise(resolve => server.close(resolve))
})

describe('NetworkActivity', () => {
  it('shows an unanswered call idling, and forgets it once it is closed', async () => {
    const req = request(`${base}/twirp/github.actions.results.api.v1.CacheService/CreateCacheEntry`, { method: 'POST' })
    req.on('error', () => undefined)
    req.end('{}')
    await tick()
    activity.pending()
    now += 5000
    await tick()
    expect(activity.pending()).toEqual([
      { kind: 'call', method: 'CreateCacheEntry', idleSeconds: 5, bytes: expect.any(Number) }
    ])
    req.destroy()
    await tick()
    expect(activity.pending()).toEqual([])
  })

  it('counts the bytes of a download as they arrive', async () => {
    const done = new Promise<void>(resolve => {
      const req = request(`${base}/devstoreaccount1/actions-cache/blob`, res => {
        res.resume()
        res.on('end', resolve)
      })
      req.end()
    })
    while (!(activity.pending()[0]?.bytes > 2 * 1024)) await tick()
    now += 1000
    expect(activity.pending()).toEqual([{ kind: 'download', method: '', idleSeconds: 1, bytes: expect.any(Number) }])
    finishDownload()
    await done
    await tick()
    expect(activity.pending()).toEqual([])
  })
})

describe('classify', () => {
  it('tells calls to the service from transfers to and from storage', () => {
    expect(classify('POST', '/twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL')).toEqual({
      kind: 'call',
      method: 'GetCacheEntryDownloadURL'
    })
    expect(classify('GET', '/devstoreaccount1/actions-cache/1-ab?sv=1&sig=x')).toEqual({ kind: 'download', method: '' })
    expect(classify('PUT', '/devstoreaccount1/actions-cache/1-ab?comp=block&blockid=AA')).toEqual({
      kind: 'upload',
      method: ''
    })
    // The v1 protocol (GitHub Enterprise Server): its chunks are uploads, the rest calls.
    expect(classify('GET', '/abc/_apis/artifactcache/cache?keys=k')).toEqual({ kind: 'call', method: '' })
    expect(classify('PATCH', '/abc/_apis/artifactcache/caches/7')).toEqual({ kind: 'upload', method: '' })
  })
})
