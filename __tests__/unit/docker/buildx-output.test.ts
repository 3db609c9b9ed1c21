// Every parser of docker and buildx output, run on what each buildx version
// really printed: __fixtures__/buildx-output/buildx-<version>/, captured from
// real engines by scripts/capture-buildx-output.ts (Docker 26.1 with buildx
// 0.13, Docker 28.5 with buildx 0.29). The same image each time: 7 steps.
import { describe, expect, it } from '@jest/globals'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { classifyError } from '../../../src/cache/registry-faults.js'
import { stepCounts } from '../../../src/docker/build-output.js'
import { errorLine } from '../../../src/docker/error-line.js'
import { failedOnCacheImport } from '../../../src/docker/import-failures.js'
import { parseDefaultPlatform, parseDriver, usesContainerdStore } from '../../../src/docker/builder.js'
import { ROOT } from '../../support/engine.js'

const CAPTURES = path.join(ROOT, '__fixtures__', 'buildx-output')
const VERSIONS = ['buildx-0.13', 'buildx-0.29']

it('has a capture of every buildx version the tests run on', () => {
  expect(fs.readdirSync(CAPTURES).sort()).toEqual(VERSIONS)
})

describe.each(VERSIONS)('%s', version => {
  const read = (name: string): string => fs.readFileSync(path.join(CAPTURES, version, `${name}.txt`), 'utf8')

  it('counts the steps of a cold build, none cached', () => {
    expect(stepCounts(read('cold-build'))).toEqual({ total: 7, cached: 0 })
  })

  it('counts every step cached from a local cache', () => {
    expect(stepCounts(read('warm-local-import'))).toEqual({ total: 7, cached: 7 })
  })

  it('counts every step cached from a registry cache, layer downloads included', () => {
    expect(stepCounts(read('registry-import'))).toEqual({ total: 7, cached: 7 })
  })

  it('sees a build that got past a missing blob as a build, not a failed import', () => {
    const output = read('import-missing-blob')
    expect(stepCounts(output)).toEqual({ total: 7, cached: 7 })
    expect(failedOnCacheImport(output)).toBe(false)
  })

  it('tells a blob of the right size but the wrong bytes for a failed cache import', () => {
    expect(failedOnCacheImport(read('import-corrupt-blob'))).toBe(true)
  })

  it("names a failing RUN's exit code, and never takes it for a failed import", () => {
    const output = read('build-error')
    expect(errorLine(output)).toBe(
      'failed to solve: process "/bin/sh -c echo the tests failed >&2 && exit 3" did not complete successfully: exit code: 3'
    )
    expect(failedOnCacheImport(output)).toBe(false)
  })

  it("reads the classic store's refusal to export a local cache, with or without ignore-error", () => {
    for (const name of ['classic-export-refused', 'classic-export-ignored']) {
      expect(errorLine(read(name))).toBe('Cache export is not supported for the docker driver.')
    }
  })

  it('reads the driver and the native platform from buildx inspect', () => {
    for (const name of ['inspect-docker-containerd', 'inspect-docker-classic']) {
      expect(parseDriver(read(name))).toBe('docker')
      expect(parseDefaultPlatform(read(name))).toBe('linux/amd64')
    }
    expect(parseDriver(read('inspect-container-bootstrapped'))).toBe('docker-container')
    expect(parseDefaultPlatform(read('inspect-container-bootstrapped'))).toBe('linux/amd64')
    // Before it starts, a docker-container builder lists no platforms.
    expect(parseDefaultPlatform(read('inspect-container-inactive'))).toBeUndefined()
  })

  it("tells the containerd image store from the classic one by docker info's driver status", () => {
    expect(usesContainerdStore(read('info-driver-status-containerd'))).toBe(true)
    expect(usesContainerdStore(read('info-driver-status-classic'))).toBe(false)
  })

  it("classifies the registry's answers to a cache lookup", () => {
    expect(classifyError(read('imagetools-not-found'))).toEqual({ kind: 'missing' })
    expect(classifyError(read('imagetools-unauthorized')).kind).toBe('denied')
    expect(classifyError(read('imagetools-refused')).kind).toBe('broken')
  })
})
