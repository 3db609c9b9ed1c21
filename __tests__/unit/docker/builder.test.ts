import { describe, expect, it } from '@jest/globals'
import {
  chooseBuilder,
  createFailedWarning,
  parseDefaultPlatform,
  parseBuilderName,
  parseDriver,
  usesContainerdStore,
  type BuilderFacts
} from '../../../src/docker/builder.js'

const dockerClassic: BuilderFacts = { driver: 'docker', containerdStore: false }
const dockerContainerd: BuilderFacts = { driver: 'docker', containerdStore: true }
const container: BuilderFacts = { driver: 'docker-container', containerdStore: false }

describe('chooseBuilder', () => {
  it('keeps the current builder when it can export, or when nothing is exported', () => {
    expect(chooseBuilder(dockerContainerd, true, true)).toEqual({ kind: 'current' })
    expect(chooseBuilder(container, true, true)).toEqual({ kind: 'current' })
    expect(chooseBuilder(dockerClassic, false, true)).toEqual({ kind: 'current' })
  })

  it('makes a docker-container builder for a run that saves on the classic docker driver', () => {
    expect(chooseBuilder(dockerClassic, true, true)).toEqual({ kind: 'create', name: 'buildx-ci-cache' })
  })

  it('says how to fix it when told not to create one', () => {
    const choice = chooseBuilder(dockerClassic, true, false)
    expect(choice.kind).toBe('no-export')
    if (choice.kind === 'no-export') {
      expect(choice.warning).toContain('set `create-builder: true`')
      expect(choice.warning).toContain('"containerd-snapshotter": true')
    }
  })
})

describe('createFailedWarning', () => {
  it('gives the reason and how to fix it', () => {
    const warning = createFailedWarning('could not create a docker-container builder (ERROR: network is unreachable)')
    expect(warning).toContain(
      'and could not create a docker-container builder (ERROR: network is unreachable), so nothing will be saved.'
    )
    expect(warning).toContain('Fix: let the runner pull the moby/buildkit image')
    expect(warning).toContain('"containerd-snapshotter": true')
  })
})

describe('reading the engine', () => {
  it('finds the driver in `docker buildx inspect`', () => {
    expect(parseDriver('Name:          default\nDriver:        docker\nLast Activity: 2026-11-22\n')).toBe('docker')
    expect(parseDriver('Name: b\nDriver: docker-container\n')).toBe('docker-container')
  })

  it('finds the builder name in `docker buildx inspect`, not a node name', () => {
    expect(parseBuilderName('Name:          default\nDriver:        docker\n\nNodes:\nName:   default\n')).toBe(
      'default'
    )
    expect(parseBuilderName('Name: builder-1f2e\nDriver: docker-container\n\nNodes:\nName: builder-1f2e0\n')).toBe(
      'builder-1f2e'
    )
    expect(parseBuilderName('Driver: docker\n')).toBeUndefined()
  })

  it('tells the containerd image store from the classic one', () => {
    expect(usesContainerdStore('[["driver-type","io.containerd.snapshotter.v1"]]')).toBe(true)
    expect(
      usesContainerdStore(
        '[["Backing Filesystem","extfs"],["Supports d_type","true"],["Using metacopy","false"],["Native Overlay Diff","true"],["userxattr","false"]]'
      )
    ).toBe(false)
    expect(usesContainerdStore('not json')).toBe(false)
  })
})

describe('parseDefaultPlatform', () => {
  it("takes the builder's first platform, its native one", () => {
    const inspect =
      'Name: default\nDriver: docker\n\nNodes:\nName: default\nStatus: running\nPlatforms:        linux/amd64, linux/amd64/v2, linux/386\nLabels:\n'
    expect(parseDefaultPlatform(inspect)).toBe('linux/amd64')
    expect(parseDefaultPlatform('Platforms: linux/arm64*, linux/arm/v7\n')).toBe('linux/arm64')
  })

  it('finds nothing for a builder that has not started', () => {
    expect(
      parseDefaultPlatform('Name: b\nDriver: docker-container\n\nNodes:\nName: b0\nStatus: inactive\nPlatforms:\n')
    ).toBeUndefined()
    expect(parseDefaultPlatform('Name: b\nDriver: docker-container\n')).toBeUndefined()
  })
})
