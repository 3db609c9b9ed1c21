import { describe, it, expect } from '@jest/globals'
import { contextSources, needsBuildPlatform, type BuildOptions } from '../../../src/key/dockerfile.js'

/** Joins lines so each Dockerfile in these tests reads as it would on disk. */
function df(...lines: string[]): string {
  return `${lines.join('\n')}\n`
}

/** The paths a build reads, and the variables that keep the key from knowing more. */
function read(dockerfile: string, options?: BuildOptions): { sources: string[]; unknown: string[] } {
  const result = contextSources(dockerfile, options)
  return {
    sources: result.reads.map(r => r.path),
    unknown: result.wholeContext.flatMap(r => (r.kind === 'unknown-word' ? [r.word.value.variable] : []))
  }
}

describe('contextSources', () => {
  describe('COPY and ADD', () => {
    it('takes every argument but the last as a source in shell form', () => {
      expect(read(df('FROM alpine', 'COPY a.txt b.txt dir/ /dst/', 'ADD archive.tar.gz /opt/'))).toEqual({
        sources: ['a.txt', 'b.txt', 'dir', 'archive.tar.gz'],
        unknown: []
      })
    })

    it('reads the JSON form, where a source may contain spaces', () => {
      expect(read(df('FROM alpine', 'COPY ["my file.txt", "c", "/dst/"]', 'ADD [ "d e" , "/x" ]'))).toEqual({
        sources: ['my file.txt', 'c', 'd e'],
        unknown: []
      })
    })

    it('reads the JSON form after flags', () => {
      expect(read(df('FROM alpine', 'COPY --chown=1:1 ["a", "/dst/"]'))).toEqual({
        sources: ['a'],
        unknown: []
      })
    })

    it('ignores an instruction without a destination', () => {
      expect(read(df('FROM alpine', 'COPY lonely', 'COPY'))).toEqual({ sources: [], unknown: [] })
    })

    it('treats instructions case-insensitively', () => {
      expect(read(df('from alpine', 'copy a /x', 'Add b /y', 'cOpY c /z'))).toEqual({
        sources: ['a', 'b', 'c'],
        unknown: []
      })
    })

    it('removes shell quotes from shell-form sources', () => {
      expect(read(df('FROM alpine', `COPY "quoted.txt" 'single.txt' /dst/`))).toEqual({
        sources: ['quoted.txt', 'single.txt'],
        unknown: []
      })
    })

    it('keeps glob characters as written', () => {
      expect(read(df('FROM alpine', 'COPY src/*.rs conf?.toml lib[0-9].so /dst/'))).toEqual({
        sources: ['src/*.rs', 'conf?.toml', 'lib[0-9].so'],
        unknown: []
      })
    })

    it('deduplicates in order of first appearance', () => {
      expect(read(df('FROM alpine', 'COPY b a /x/', 'COPY ./a b/ c /y/', 'ADD a /z'))).toEqual({
        sources: ['b', 'a', 'c'],
        unknown: []
      })
    })
  })

  describe('flags', () => {
    it('skips the flags that precede the sources', () => {
      const dockerfile = df(
        'FROM alpine',
        'COPY --chown=app:app --chmod=0755 a /dst/',
        'COPY --link b /dst/',
        'COPY --link=true c /dst/',
        'COPY --exclude=*.md --exclude=tmp f /dst/',
        'ADD --keep-git-dir=true g /dst/',
        'ADD --checksum=sha256:0123abcd i.tar /dst/',
        'COPY --chown="user name" j /dst/'
      )
      expect(read(dockerfile)).toEqual({
        sources: ['a', 'b', 'c', 'f', 'g', 'i.tar', 'j'],
        unknown: []
      })
    })

    it('skips a COPY from a stage, an image or a named context', () => {
      const dockerfile = df(
        'FROM rust AS builder',
        'COPY src /src',
        'FROM alpine',
        'COPY --from=builder /src/target/release/app /usr/bin/',
        'COPY --from=docker.io/library/busybox:latest /bin/busybox /bin/',
        'COPY --chown=0:0 --from=0 /etc/passwd /etc/',
        'COPY --link --from="builder" /x /x',
        'COPY --FROM=builder /y /y',
        'COPY config.toml /etc/app/'
      )
      expect(read(dockerfile)).toEqual({ sources: ['src', 'config.toml'], unknown: [] })
    })

    it('treats an empty --from= as the context', () => {
      expect(read(df('FROM alpine', 'COPY --from= a /dst/'))).toEqual({ sources: ['a'], unknown: [] })
    })

    it('stops reading flags at a bare --', () => {
      expect(read(df('FROM alpine', 'COPY -- --odd-name /dst/'))).toEqual({
        sources: ['--odd-name'],
        unknown: []
      })
    })
  })

  describe('heredocs', () => {
    it('reads no context file for a heredoc source and skips its body', () => {
      const dockerfile = df(
        'FROM alpine',
        'COPY <<EOF /etc/app.conf',
        'COPY not-a-source /nowhere',
        'EOF',
        'COPY after.txt /dst/'
      )
      expect(read(dockerfile)).toEqual({ sources: ['after.txt'], unknown: [] })
    })

    it('handles <<- with a tab-indented terminator', () => {
      const dockerfile = df('FROM alpine', 'COPY <<-EOT /x', '\tCOPY hidden /y', '\tEOT', 'COPY seen /z')
      expect(read(dockerfile)).toEqual({ sources: ['seen'], unknown: [] })
    })

    it('does not accept an indented terminator without <<-', () => {
      const dockerfile = df('FROM alpine', 'COPY <<EOT /x', '\tEOT', 'COPY hidden /y', 'EOT', 'COPY seen /z')
      expect(read(dockerfile)).toEqual({ sources: ['seen'], unknown: [] })
    })

    it('unquotes quoted delimiters', () => {
      const dockerfile = df(
        'FROM alpine',
        `COPY <<"EOF" /a`,
        'COPY hidden1 /x',
        'EOF',
        `COPY <<'END' /b`,
        'COPY hidden2 /x',
        'END',
        `COPY <<-"TABBED" /c`,
        'COPY hidden3 /x',
        '\t\tTABBED',
        'COPY seen /z'
      )
      expect(read(dockerfile)).toEqual({ sources: ['seen'], unknown: [] })
    })

    it('skips several heredoc bodies in order and keeps a file source next to them', () => {
      const dockerfile = df(
        'FROM nginx',
        'COPY <<robots.txt inline.txt <<humans.txt /usr/share/nginx/html/',
        'User-agent: *',
        'COPY hidden1 /x',
        'robots.txt',
        'COPY hidden2 /x',
        'humans.txt',
        'COPY seen /z'
      )
      expect(read(dockerfile)).toEqual({ sources: ['inline.txt', 'seen'], unknown: [] })
    })

    it('skips RUN heredoc bodies, including redirections and file descriptors', () => {
      const dockerfile = df(
        'FROM python',
        'RUN <<EOF',
        'COPY hidden1 /x',
        'EOF',
        'RUN python3 <<EOF > /hello',
        'ADD hidden2 /x',
        'EOF',
        'RUN 3<<EOF cat /dev/fd/3',
        'COPY hidden3 /x',
        'EOF',
        'RUN <<-EOF bash',
        '\tCOPY hidden4 /x',
        '\tEOF',
        'COPY seen /z'
      )
      expect(read(dockerfile)).toEqual({ sources: ['seen'], unknown: [] })
    })

    it('finds a heredoc marker on a continued line and reads its body after the instruction', () => {
      const dockerfile = df(
        'FROM alpine',
        'RUN --network=none \\',
        '    <<EOF',
        'COPY hidden /x',
        'EOF',
        'COPY seen /z'
      )
      expect(read(dockerfile)).toEqual({ sources: ['seen'], unknown: [] })
    })

    it('does not take quoted or exec-form text for a heredoc marker', () => {
      const dockerfile = df('FROM alpine', 'RUN echo "<<EOF"', 'COPY a /x', 'RUN ["cat", "<<EOF"]', 'COPY b /y')
      expect(read(dockerfile)).toEqual({ sources: ['a', 'b'], unknown: [] })
    })

    it('does not look for heredocs in other instructions', () => {
      const dockerfile = df('FROM alpine', 'CMD cat <<EOF', 'COPY a /x', 'EOF', 'LABEL note <<EOF', 'COPY b /y', 'EOF')
      expect(read(dockerfile)).toEqual({ sources: ['a', 'b'], unknown: [] })
    })

    it('consumes an unterminated heredoc to the end of the file', () => {
      expect(read(df('FROM alpine', 'COPY a /x', 'RUN <<EOF', 'COPY hidden /y'))).toEqual({
        sources: ['a'],
        unknown: []
      })
    })
  })

  describe('ADD of remote sources', () => {
    it('skips URLs and git remotes but keeps local files, as BuildKit tells them apart', () => {
      const dockerfile = df(
        'FROM alpine',
        'ADD http://example.com/a.tar.gz /opt/',
        'ADD https://example.com/b.tar.gz local.tar.gz /opt/',
        'ADD git@github.com:moby/buildkit.git /src/buildkit',
        'ADD git://example.com/repo /src/repo',
        'ADD ssh://git@example.com/org/repo.git /src/other',
        'ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.10.1 /buildkit',
        'ADD HTTPS://example.com/repo.git /src/upper',
        'ADD https://example.com/${VERSION}/d.tar.gz /opt/',
        'ADD vendor.tar.gz /opt/',
        // BuildKit takes only a lower-case http(s):// for a URL, and github.com/ without a scheme for a path.
        'ADD HTTPS://example.com/c /opt/',
        'ADD github.com/org/repo /src/'
      )
      expect(read(dockerfile)).toEqual({
        sources: ['local.tar.gz', 'vendor.tar.gz', 'HTTPS:/example.com/c', 'github.com/org/repo'],
        unknown: []
      })
    })
  })

  describe('RUN --mount', () => {
    it('reads bind mounts without from= from the context', () => {
      const dockerfile = df(
        'FROM rust',
        'RUN --mount=type=bind,source=Cargo.toml,target=/src/Cargo.toml cargo fetch',
        'RUN --mount=type=bind,src=./crates/,target=/src/crates,rw cargo build',
        'RUN --mount=type=bind,target=/ctx ls /ctx',
        'RUN --mount=target=/scripts,source=scripts sh /scripts/run.sh',
        'RUN --mount=TYPE=BIND,SOURCE=upper,target=/u true'
      )
      expect(read(dockerfile)).toEqual({
        sources: ['Cargo.toml', 'crates', '.', 'scripts', 'upper'],
        unknown: []
      })
    })

    it('ignores bind mounts from a stage and the other mount types', () => {
      const dockerfile = df(
        'FROM rust',
        'RUN --mount=type=bind,from=builder,source=/out,target=/out true',
        'RUN --mount=type=cache,target=/root/.cargo/registry cargo build',
        'RUN --mount=type=cache,from=builder,source=/cache,target=/c true',
        'RUN --mount=type=secret,id=token,target=/run/secrets/token true',
        'RUN --mount=type=ssh git clone git@github.com:org/repo',
        'RUN --mount=type=tmpfs,target=/tmp true',
        'RUN --mount=from=builder,target=/b true'
      )
      expect(read(dockerfile)).toEqual({ sources: [], unknown: [] })
    })

    it('reads every mount of a RUN, next to other flags', () => {
      const dockerfile = df(
        'FROM rust',
        'RUN --network=none --mount=type=cache,target=/c \\',
        '    --mount=type=bind,source=a,target=/a \\',
        '    --mount="type=bind,source=b,target=/b" \\',
        '    --security=sandbox make'
      )
      expect(read(dockerfile)).toEqual({ sources: ['a', 'b'], unknown: [] })
    })

    it('reads a CSV-quoted source containing a comma', () => {
      expect(read(df('FROM alpine', `RUN --mount='type=bind,"source=a,b",target=/x' true`))).toEqual({
        sources: ['a,b'],
        unknown: []
      })
    })

    it('reports a mount source whose variable only the base image could set', () => {
      expect(read(df('FROM alpine', 'ARG DIR', 'RUN --mount=type=bind,source=$DIR,target=/x true'))).toEqual({
        sources: [],
        unknown: ['DIR']
      })
    })

    it('reads the mounts of an exec-form RUN', () => {
      expect(read(df('FROM alpine', 'RUN --mount=source=tools,target=/t ["/t/run"]'))).toEqual({
        sources: ['tools'],
        unknown: []
      })
    })
  })

  describe('ONBUILD', () => {
    it('skips ONBUILD triggers, and the heredoc body of one', () => {
      const dockerfile = df(
        'FROM alpine',
        'ONBUILD COPY app /app',
        'onbuild ADD pkg.tar /opt/',
        'ONBUILD RUN --mount=type=bind,source=x,target=/x true',
        'ONBUILD RUN <<EOF',
        'COPY hidden /x',
        'EOF',
        'COPY seen /z'
      )
      expect(read(dockerfile)).toEqual({ sources: ['seen'], unknown: [] })
    })
  })

  describe('normalisation', () => {
    it('strips ./, collapses //, drops a trailing / and a leading /', () => {
      const dockerfile = df('FROM alpine', 'COPY ./a .//b c// /d/e/ //f ./././g h/./i /dst/')
      expect(read(dockerfile)).toEqual({
        sources: ['a', 'b', 'c', 'd/e', 'f', 'g', 'h/i'],
        unknown: []
      })
    })

    it('maps every spelling of the root to .', () => {
      const dockerfile = df('FROM alpine', 'COPY . /a', 'COPY ./ /b', 'COPY / /c', 'COPY ["", "/d"]', 'COPY "" /e')
      expect(read(dockerfile)).toEqual({ sources: ['.'], unknown: [] })
    })

    it('resolves .. that stays inside the context', () => {
      expect(read(df('FROM alpine', 'COPY a/../b c/d/.. /dst/'))).toEqual({
        sources: ['b', 'c'],
        unknown: []
      })
    })

    it('clamps a source above the context to it, as BuildKit does', () => {
      const dockerfile = df('FROM alpine', 'COPY ../x a/../../y .. ok /dst/')
      const result = read(dockerfile)
      expect(result).toEqual({ sources: ['x', 'y', '.', 'ok'], unknown: [] })
      for (const path of [...result.sources, ...result.unknown]) expect(path.split('/')).not.toContain('..')
    })
  })

  describe('variables', () => {
    it('expands an ARG default and reports the variables only the base image could set', () => {
      const dockerfile = df(
        'FROM alpine',
        'ARG TARGET=x86_64',
        'COPY host-$TARGET/build.sh /tmp/',
        'COPY ${DIR}/conf ./plain /etc/',
        'COPY "${QUOTED}.txt" /etc/',
        'COPY ["$JSON", "/x"]'
      )
      expect(read(dockerfile)).toEqual({
        sources: ['host-x86_64/build.sh', 'plain'],
        unknown: ['DIR', 'QUOTED', 'JSON']
      })
    })

    it('drops escapes outside quotes and keeps those that escape nothing inside double quotes', () => {
      const dockerfile = df('FROM alpine', 'COPY a\\b.txt "c\\d.txt" "e\\\\f.txt" /dst/')
      expect(read(dockerfile)).toEqual({
        sources: ['ab.txt', 'c\\d.txt', 'e\\f.txt'],
        unknown: []
      })
    })

    it('keeps an escaped or single-quoted $ as a literal character', () => {
      const dockerfile = df('FROM alpine', 'COPY price\\$5.txt "cost\\$.txt" \'$literal\' /dst/')
      expect(read(dockerfile)).toEqual({
        sources: ['price$5.txt', 'cost$.txt', '$literal'],
        unknown: []
      })
    })
  })

  describe('parser directives, comments and continuations', () => {
    it('skips comments, blank lines and comment lines inside a continued instruction', () => {
      const dockerfile = df(
        '# syntax=docker/dockerfile:1',
        '',
        '# COPY commented /out',
        'FROM alpine',
        '   # indented comment',
        'COPY a \\',
        '  # a comment between the pieces',
        '',
        '  b \\   ',
        '  /dst/',
        'RUN echo # COPY not-a-comment-but-not-a-copy /x'
      )
      expect(read(dockerfile)).toEqual({ sources: ['a', 'b'], unknown: [] })
    })

    it('glues continued pieces without adding whitespace', () => {
      expect(read(df('FROM alpine', 'COPY long\\', 'name.txt /dst/'))).toEqual({
        sources: ['longname.txt'],
        unknown: []
      })
    })

    it('does not continue a line ending in an escaped escape character', () => {
      const dockerfile = df('FROM alpine', 'RUN echo \\\\', 'COPY a /x')
      expect(read(dockerfile)).toEqual({ sources: ['a'], unknown: [] })
    })

    it('honours # escape=` for continuations and escapes, leaving \\ literal', () => {
      const dockerfile = df(
        '# syntax=docker/dockerfile:1',
        '#  escape = `',
        '',
        'FROM mcr.microsoft.com/windows/servercore:ltsc2022',
        'COPY setup.ps1 `',
        '     tools C:/dst/',
        'COPY `$literal.txt C:/dst/',
        'RUN echo \\',
        'COPY dir\\file.txt C:/dst/'
      )
      expect(read(dockerfile)).toEqual({
        sources: ['setup.ps1', 'tools', '$literal.txt', 'dir\\file.txt'],
        unknown: []
      })
    })

    it('ignores an escape directive that follows a comment, a blank line or an instruction', () => {
      for (const before of ['# just a comment', '', 'FROM alpine', '# unknown=directive']) {
        const dockerfile = df(before, '# escape=`', 'FROM alpine', 'COPY a \\', '  b /dst/', 'COPY c`d /x')
        expect(read(dockerfile)).toEqual({ sources: ['a', 'b', 'c`d'], unknown: [] })
      }
    })

    it('reads CRLF line endings and a byte-order mark', () => {
      const dockerfile =
        '\uFEFF# escape=`\r\nFROM alpine\r\nCOPY a `\r\n  b /dst/\r\nRUN <<EOF\r\nCOPY hidden /x\r\nEOF\r\nCOPY c /y\r\n'
      expect(read(dockerfile)).toEqual({ sources: ['a', 'b', 'c'], unknown: [] })
    })

    it('returns nothing for an empty Dockerfile', () => {
      expect(read('')).toEqual({ sources: [], unknown: [] })
    })
  })

  it('reads a multi-stage CI image Dockerfile', () => {
    const dockerfile = df(
      '# syntax=docker/dockerfile:1',
      '# Toolchain for the dist-x86_64-linux builder.',
      'FROM ubuntu:22.04 AS builder',
      '',
      'COPY scripts/cross-apt-packages.sh /scripts/',
      'RUN sh /scripts/cross-apt-packages.sh',
      '',
      'RUN apt-get update && apt-get install -y --no-install-recommends \\',
      '      g++ \\',
      '      make \\',
      '      # keep curl for the downloads below',
      '      curl \\',
      '      xz-utils \\',
      '    && rm -rf /var/lib/apt/lists/*',
      '',
      'WORKDIR /tmp',
      'COPY host-x86_64/dist-x86_64-linux/shared.sh /tmp/',
      'COPY host-x86_64/dist-x86_64-linux/build-gcc.sh /tmp/',
      'RUN ./build-gcc.sh && rm -rf /tmp/gcc-build',
      '',
      'COPY scripts/cmake.sh /scripts/',
      'RUN --mount=type=cache,target=/root/.cache /scripts/cmake.sh',
      '',
      'RUN <<EOF',
      'set -eux',
      'mkdir -p /rustroot/bin',
      'EOF',
      '',
      'FROM ubuntu:22.04',
      'ENV PATH=/rustroot/bin:$PATH',
      'COPY --from=builder /rustroot /rustroot',
      'COPY scripts/sccache.sh /scripts/',
      'RUN sh /scripts/sccache.sh',
      'COPY host-x86_64/dist-x86_64-linux/shared.sh /tmp/',
      'ENV RUST_CONFIGURE_ARGS="--enable-full-tools --enable-sanitizers"',
      'ENV SCRIPT="python3 ../x.py dist --host $HOSTS --target $HOSTS"'
    )
    expect(read(dockerfile)).toEqual({
      sources: [
        'scripts/cross-apt-packages.sh',
        'host-x86_64/dist-x86_64-linux/shared.sh',
        'host-x86_64/dist-x86_64-linux/build-gcc.sh',
        'scripts/cmake.sh',
        'scripts/sccache.sh'
      ],
      unknown: []
    })
  })

  describe('the stages the target needs', () => {
    const flavours = df(
      '# syntax=docker/dockerfile:1',
      'ARG UBUNTU=22.04',
      'FROM ubuntu:${UBUNTU} AS base',
      'COPY scripts/common.sh /tmp/',
      'RUN /tmp/common.sh',
      '',
      'FROM base AS cpu',
      'COPY requirements/cpu.txt /tmp/requirements.txt',
      'RUN pip install -r /tmp/requirements.txt',
      '',
      'FROM nvidia/cuda:12.4.1-devel-ubuntu22.04 AS cuda',
      'COPY scripts/common.sh /tmp/',
      'COPY requirements/cuda.txt /tmp/requirements.txt',
      'RUN /tmp/common.sh && pip install -r /tmp/requirements.txt',
      '',
      'FROM rocm/dev-ubuntu-22.04:6.1 AS rocm',
      'COPY scripts/rocm/ /tmp/rocm/',
      'RUN /tmp/rocm/install.sh'
    )
    const build = (target: string, buildArgs: BuildOptions['buildArgs'] = []): BuildOptions => ({
      buildArgs,
      target,
      platforms: ['linux/amd64']
    })

    it('reads only the sources of the target flavour and of the stages it starts from', () => {
      expect(contextSources(flavours, build('cpu'))).toEqual({
        reads: [
          { path: 'scripts/common.sh', exclude: [] },
          { path: 'requirements/cpu.txt', exclude: [] }
        ],
        wholeContext: [],
        stages: ['base', 'cpu'],
        cacheMounts: []
      })
      expect(read(flavours, build('CUDA')).sources).toEqual(['scripts/common.sh', 'requirements/cuda.txt'])
      expect(contextSources(flavours, build('')).stages).toEqual(['rocm'])
      expect(read(flavours, build('')).sources).toEqual(['scripts/rocm'])
    })

    it('leaves out an unused stage that binds the whole context, and keeps the stages COPY --from needs', () => {
      const dockerfile = df(
        'FROM golang:1.22 AS build',
        'WORKDIR /src',
        'COPY go.mod go.sum ./',
        'RUN go mod download',
        'COPY cmd/ cmd/',
        'RUN --mount=type=cache,target=/root/.cache/go-build go build -o /out/app ./cmd/app',
        '',
        'FROM golangci/golangci-lint:v1.59 AS lint',
        'WORKDIR /src',
        'RUN --mount=type=bind,target=. golangci-lint run',
        '',
        'FROM gcr.io/distroless/static:nonroot AS release',
        'COPY --from=build /out/app /app',
        'COPY LICENSE /'
      )
      expect(contextSources(dockerfile, build(''))).toMatchObject({
        reads: [
          { path: 'go.mod', exclude: [] },
          { path: 'go.sum', exclude: [] },
          { path: 'cmd', exclude: [] },
          { path: 'LICENSE', exclude: [] }
        ],
        stages: ['build', 'release']
      })
      expect(read(dockerfile, build('lint')).sources).toEqual(['.'])
    })

    it('follows COPY --from by index and RUN --mount=from= to the stages they name', () => {
      const dockerfile = df(
        'FROM alpine AS tools',
        'COPY tools/ /tools/',
        'FROM alpine AS assets',
        'COPY assets/ /assets/',
        'FROM alpine AS unused',
        'COPY unused/ /unused/',
        'FROM alpine',
        'COPY --from=0 /tools /tools',
        'RUN --mount=type=bind,from=assets,source=/assets,target=/a cp -r /a /srv',
        'COPY --from=alpine:3.20 /etc/os-release /etc/',
        'RUN --mount=type=cache,from=unused-image,target=/c true'
      )
      expect(contextSources(dockerfile, build(''))).toMatchObject({
        reads: [
          { path: 'tools', exclude: [] },
          { path: 'assets', exclude: [] }
        ],
        stages: ['tools', 'assets', 'stage-3']
      })
    })

    it('takes a FROM for a stage only when the stage is defined above it, as BuildKit does', () => {
      const dockerfile = df('FROM tools AS first', 'COPY a /a', 'FROM alpine AS tools', 'COPY b /b', 'FROM first')
      expect(contextSources(dockerfile, build(''))).toMatchObject({ stages: ['first', 'stage-2'] })
      expect(read(dockerfile, build('')).sources).toEqual(['a'])
    })

    it('picks the stage a FROM names through a global ARG and the build args', () => {
      const dockerfile = df(
        'ARG FLAVOUR=cpu',
        'FROM python:3.12 AS cpu',
        'COPY requirements-cpu.txt /r.txt',
        'FROM python:3.12 AS gpu',
        'COPY requirements-gpu.txt /r.txt',
        'FROM ${FLAVOUR} AS final',
        'RUN pip install -r /r.txt'
      )
      expect(read(dockerfile, build('')).sources).toEqual(['requirements-cpu.txt'])
      expect(read(dockerfile, build('', [{ name: 'FLAVOUR', value: 'gpu' }])).sources).toEqual(['requirements-gpu.txt'])
    })

    it('counts every stage for a target the file does not define: the build fails anyway', () => {
      expect(read(flavours, build('tpu')).sources).toEqual([
        'scripts/common.sh',
        'requirements/cpu.txt',
        'requirements/cuda.txt',
        'scripts/rocm'
      ])
    })

    it('ignores what an unused stage cannot resolve', () => {
      const dockerfile = df('FROM node:20 AS docs', 'COPY ${DOCS_DIR} /docs', 'FROM node:20 AS app', 'COPY app/ /app/')
      expect(read(dockerfile, build('app'))).toEqual({ sources: ['app'], unknown: [] })
      expect(read(dockerfile, build('docs'))).toEqual({ sources: [], unknown: ['DOCS_DIR'] })
    })
  })

  describe('variable expansion', () => {
    const options = (overrides: Partial<BuildOptions> = {}): BuildOptions => ({
      buildArgs: [],
      target: '',
      platforms: ['linux/amd64'],
      ...overrides
    })

    it('expands a build arg the action passes, and gives up on it when it is not passed', () => {
      const dockerfile = df('FROM node:20-alpine', 'WORKDIR /app', 'ARG FILE_ENV', 'COPY ./${FILE_ENV} ./.env')
      expect(read(dockerfile, options({ buildArgs: [{ name: 'FILE_ENV', value: '.env.production' }] }))).toEqual({
        sources: ['.env.production'],
        unknown: []
      })
      // Unset, it could still come from the image's ENV.
      expect(read(dockerfile, options())).toEqual({ sources: [], unknown: ['FILE_ENV'] })
      // A build arg the stage does not declare is not seen by it.
      expect(
        read(df('FROM scratch', 'COPY ./${FILE_ENV} /x'), options({ buildArgs: [{ name: 'FILE_ENV', value: 'a' }] }))
      ).toEqual({ sources: ['.'], unknown: [] })
    })

    it('expands the predefined platform args for each platform built', () => {
      const dockerfile = df(
        'FROM --platform=$BUILDPLATFORM alpine AS fetch',
        'ARG TARGETPLATFORM TARGETARCH TARGETVARIANT',
        'ADD ${TARGETPLATFORM}/bin /opt/bin',
        'COPY tools/${TARGETARCH}${TARGETVARIANT:+-$TARGETVARIANT}.tar /opt/'
      )
      expect(read(dockerfile, options({ platforms: ['linux/amd64', 'linux/arm/v7', 'linux/aarch64'] }))).toEqual({
        sources: [
          'linux/amd64/bin',
          'tools/amd64.tar',
          'linux/arm/v7/bin',
          'tools/arm-v7.tar',
          'linux/arm64/bin',
          'tools/arm64.tar'
        ],
        unknown: []
      })
      // No platforms: the builder's own, once it is known.
      const unasked = contextSources(dockerfile, options({ platforms: [] }))
      expect(needsBuildPlatform(unasked)).toBe(true)
      expect(read(dockerfile, options({ platforms: [], buildPlatform: 'linux/arm64' })).sources).toEqual([
        'linux/arm64/bin',
        'tools/arm64.tar'
      ])
      expect(read(dockerfile, options({ platforms: ['local'] })).unknown).toEqual(['TARGETPLATFORM', 'TARGETARCH'])
    })

    it('takes BUILDPLATFORM from the builder, whatever the platforms built', () => {
      const dockerfile = df('FROM scratch', 'ARG BUILDARCH', 'COPY bin/${BUILDARCH}/ /bin/')
      const sources = contextSources(dockerfile, options({ platforms: ['linux/arm64'] }))
      expect(needsBuildPlatform(sources)).toBe(true)
      expect(read(dockerfile, options({ platforms: ['linux/arm64'], buildPlatform: 'linux/amd64' })).sources).toEqual([
        'bin/amd64'
      ])
      expect(needsBuildPlatform(contextSources(df('FROM scratch', 'COPY a /a'), options({ platforms: [] })))).toBe(
        false
      )
    })

    it('uses ARG defaults, global ARGs re-declared in the stage, and build args over both', () => {
      const dockerfile = df(
        'ARG ALPINE=3.20',
        'ARG FLAVOUR=cpu',
        'FROM alpine:${ALPINE}',
        'ARG ALPINE',
        'ARG FLAVOUR',
        'ARG REQUIREMENTS=requirements/${FLAVOUR}.txt',
        'COPY conf/alpine-${ALPINE}/ /etc/',
        'COPY ${REQUIREMENTS} /tmp/'
      )
      expect(read(dockerfile, options()).sources).toEqual(['conf/alpine-3.20', 'requirements/cpu.txt'])
      expect(read(dockerfile, options({ buildArgs: [{ name: 'FLAVOUR', value: 'rocm' }] })).sources).toEqual([
        'conf/alpine-3.20',
        'requirements/rocm.txt'
      ])
      // Not re-declared, a global ARG is not seen inside the stage.
      expect(read(df('ARG DIR=conf', 'FROM alpine', 'COPY ${DIR} /etc/'), options()).unknown).toEqual(['DIR'])
    })

    it('uses ENV set earlier in the stage, and ARG and ENV of the stage a stage starts from', () => {
      const dockerfile = df(
        'FROM scratch AS base',
        'ARG APP=web',
        'ENV APP_DIR=apps/${APP} OLD=${APP_DIR}',
        'FROM base',
        'COPY ${APP_DIR}/ /srv/',
        'COPY x${OLD}y /srv/'
      )
      expect(read(dockerfile, options()).sources).toEqual(['apps/web', 'xy'])
    })

    it('applies the ${VAR:-default}, ${VAR:+alt} forms and the pattern modifiers', () => {
      const dockerfile = df(
        'FROM scratch',
        'ARG EMPTY=',
        'ARG FILE=archive.tar.gz',
        'COPY ${UNSET:-default} ${EMPTY:-empty} x${EMPTY-set} ${FILE:+alt} ${UNSET:+never}y /d/',
        'COPY ${FILE%%.*} ${FILE%.*} ${FILE#*.} ${FILE##*.} ${FILE/a/A} ${FILE//a/A} /d/',
        'COPY "${FILE}" \'${FILE}\' \\$FILE /d/'
      )
      expect(read(dockerfile, options()).sources).toEqual([
        'default',
        'empty',
        'x',
        'alt',
        'y',
        'archive',
        'archive.tar',
        'tar.gz',
        'gz',
        'Archive.tar.gz',
        'Archive.tAr.gz',
        'archive.tar.gz',
        '${FILE}',
        '$FILE'
      ])
    })

    it('reads nothing for an ARG that expands to a git repository or a URL', () => {
      const dockerfile = df(
        'FROM alpine',
        'ARG TOOLS_REPO=https://github.com/acme/ci-tools.git#v1.4.0',
        'ARG PLUGINS=git@github.com:acme/plugins.git',
        'ARG SCRIPT_URL=https://example.com/install.sh',
        'ADD ${TOOLS_REPO} /opt/ci-tools',
        'ADD --keep-git-dir ${PLUGINS} /opt/plugins',
        'ADD ${SCRIPT_URL} /tmp/',
        'COPY config.toml /etc/'
      )
      expect(read(dockerfile, options())).toEqual({ sources: ['config.toml'], unknown: [] })
    })
  })

  describe('COPY --exclude and --parents', () => {
    it('keeps the exclusions with the sources they apply to', () => {
      const dockerfile = df(
        'FROM scratch',
        'COPY --exclude=*.md --exclude=docs/ . /app/',
        'ADD --exclude=**/*.test.js src/ /app/src/',
        'COPY --exclude=${TMP} --exclude=/abs --exclude=!keep.md notes/ /n/'
      )
      expect(contextSources(dockerfile).reads).toEqual([
        { path: '.', exclude: ['*.md', 'docs/'] },
        { path: 'src', exclude: ['**/*.test.js'] },
        // A pattern with a variable or from / is left out: the key covers more, never less.
        { path: 'notes', exclude: ['!keep.md'] }
      ])
    })

    it('splits a --parents source at /./ into the directory and the pattern below it', () => {
      const dockerfile = df(
        'FROM scratch',
        'COPY --parents ./src/./pkg/**/*.go go.mod /app/',
        'COPY --parents=true --exclude=*_test.go cmd/*/main.go /app/',
        'COPY --parents=false plain/ /app/'
      )
      expect(contextSources(dockerfile).reads).toEqual([
        { path: 'src', parents: 'pkg/**/*.go', exclude: [] },
        { path: '.', parents: 'go.mod', exclude: [] },
        { path: '.', parents: 'cmd/*/main.go', exclude: ['*_test.go'] },
        { path: 'plain', exclude: [] }
      ])
    })
  })

  describe('ONBUILD of the stages of the same file', () => {
    it("runs a base stage's triggers in the stage that starts FROM it, with the base's variables", () => {
      const dockerfile = df(
        'FROM node:20 AS onbuild',
        'ARG APP=web',
        'WORKDIR /app',
        'ONBUILD COPY package.json package-lock.json ./',
        'ONBUILD RUN --mount=type=bind,source=patches/${APP},target=/patches npm ci',
        'ONBUILD COPY --from=assets /assets /app/public',
        '',
        'FROM alpine AS assets',
        'COPY assets/ /assets/',
        '',
        'FROM onbuild AS app',
        'COPY src/ ./src/',
        '',
        'FROM app',
        'CMD ["node", "src/index.js"]'
      )
      expect(contextSources(dockerfile)).toMatchObject({
        reads: [
          { path: 'assets', exclude: [] },
          { path: 'package.json', exclude: [] },
          { path: 'package-lock.json', exclude: [] },
          { path: 'patches/web', exclude: [] },
          { path: 'src', exclude: [] }
        ],
        wholeContext: [],
        stages: ['onbuild', 'assets', 'app', 'stage-3']
      })
      // The stage with the triggers, built itself, does not run them.
      expect(read(dockerfile, { buildArgs: [], target: 'onbuild', platforms: [] }).sources).toEqual([])
    })
  })

  describe('the frontend', () => {
    it('hashes the whole context for a custom frontend, named by # syntax= or BUILDKIT_SYNTAX', () => {
      const dockerfile = df('# syntax=ghcr.io/acme/dockerfile-frontend:2', 'FROM scratch', 'COPY a /a')
      expect(contextSources(dockerfile)).toEqual({
        reads: [],
        wholeContext: [
          { kind: 'custom-frontend', frontend: 'ghcr.io/acme/dockerfile-frontend:2', source: 'directive' }
        ],
        stages: [],
        cacheMounts: []
      })
      const viaArg = {
        buildArgs: [{ name: 'BUILDKIT_SYNTAX', value: 'acme/frontend:1 --opt' }],
        target: '',
        platforms: []
      }
      expect(contextSources(df('FROM scratch', 'COPY a /a'), viaArg).wholeContext).toEqual([
        { kind: 'custom-frontend', frontend: 'acme/frontend:1', source: 'build-arg' }
      ])
      expect(
        contextSources(df('#!/usr/bin/env buildctl', '#syntax = acme/frontend', 'FROM scratch')).wholeContext
      ).toHaveLength(1)
    })

    it('reads the Dockerfile itself for the standard frontend, under any tag, registry spelling or digest', () => {
      for (const syntax of [
        'docker/dockerfile:1',
        'docker/dockerfile:1.7-labs',
        'docker.io/docker/dockerfile:1',
        'docker/dockerfile-upstream:master',
        `docker/dockerfile:1.9@sha256:${'a'.repeat(64)}`,
        'docker/dockerfile'
      ]) {
        expect(contextSources(df(`# syntax=${syntax}`, 'FROM scratch', 'COPY a /a'))).toMatchObject({
          reads: [{ path: 'a', exclude: [] }],
          wholeContext: []
        })
      }
    })

    it('does not take a syntax line below a comment for a directive', () => {
      expect(
        contextSources(df('# a comment', '# syntax=acme/frontend', 'FROM scratch', 'COPY a /a')).wholeContext
      ).toEqual([])
    })
  })
})
