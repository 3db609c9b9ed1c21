/**
 * BuildKit's predefined platform arguments (TARGETPLATFORM, BUILDARCH, ...)
 * for one platform built, with platforms normalised as containerd does, so
 * `linux/arm64/v8` and `linux/aarch64` give the same TARGETARCH.
 */
import type { UnknownCause, Value } from './word-expansion.js'

export interface Platform {
  os: string
  architecture: string
  variant: string
}

/** `os/arch[/variant]`, normalised; undefined for anything else (`local`, a bare OS). */
export function parsePlatform(text: string): Platform | undefined {
  const match = /^([a-z0-9_-]+)\/([a-z0-9_-]+)(?:\/([a-z0-9_.-]+))?$/.exec(text.trim().toLowerCase())
  if (!match) return undefined
  const os = match[1] === 'macos' ? 'darwin' : (match[1] as string)
  return { os, ...normaliseArchitecture(match[2] as string, match[3] ?? '') }
}

function normaliseArchitecture(architecture: string, variant: string): { architecture: string; variant: string } {
  switch (architecture) {
    case 'i386':
      return { architecture: '386', variant: '' }
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: variant === 'v1' ? '' : variant }
    case 'aarch64':
    case 'arm64':
      return { architecture: 'arm64', variant: variant === '8' || variant === 'v8' ? '' : variant }
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' }
    case 'armel':
      return { architecture: 'arm', variant: 'v6' }
    case 'arm':
      return { architecture: 'arm', variant: armVariant(variant) }
    default:
      return { architecture, variant }
  }
}

function armVariant(variant: string): string {
  if (variant === '') return 'v7'
  return /^[5-8]$/.test(variant) ? `v${variant}` : variant
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(part => part !== '').join('/')
}

/** Where a platform comes from: parsed, not asked for yet, or not `os/arch`. */
export type PlatformAnswer = Platform | { missing: Extract<UnknownCause, 'build-platform' | 'platform'> }

export function platformAnswer(text: string | undefined): PlatformAnswer {
  if (text === undefined) return { missing: 'build-platform' }
  return parsePlatform(text) ?? { missing: 'platform' }
}

/**
 * The predefined arguments of a build for `target` on a builder whose own
 * platform is `build`. TARGETSTAGE is left unknown: older frontends do not
 * define it, so what a word that uses it names depends on the frontend.
 */
export function predefinedArgs(target: PlatformAnswer, build: PlatformAnswer): Map<string, Value> {
  const args = new Map<string, Value>()
  const put = (prefix: string, platform: PlatformAnswer): void => {
    const value = (name: string, known: (p: Platform) => string): Value =>
      'missing' in platform ? { variable: name, cause: platform.missing } : known(platform)
    args.set(`${prefix}PLATFORM`, value(`${prefix}PLATFORM`, formatPlatform))
    args.set(
      `${prefix}OS`,
      value(`${prefix}OS`, p => p.os)
    )
    args.set(
      `${prefix}OSVERSION`,
      value(`${prefix}OSVERSION`, () => '')
    )
    args.set(
      `${prefix}ARCH`,
      value(`${prefix}ARCH`, p => p.architecture)
    )
    args.set(
      `${prefix}VARIANT`,
      value(`${prefix}VARIANT`, p => p.variant)
    )
  }
  put('BUILD', build)
  put('TARGET', target)
  args.set('TARGETSTAGE', { variable: 'TARGETSTAGE', cause: 'frontend-version' })
  return args
}
