import { describe, it, expect } from '@jest/globals'
import { contextSources } from '../../../src/key/dockerfile.js'

/** Joins lines so each Dockerfile in these tests reads as it would on disk. */
function df(...lines: string[]): string {
  return `${lines.join('\n')}\n`
}

describe('contextSources', () => {
  describe('COPY and ADD', () => {
    it('takes every argument but the last as a source in shell form', () => {
      expect(contextSources(df('FROM alpine', 'COPY a.txt b.txt dir/ /dst/', 'ADD archive.tar.gz /opt/'))).toEqual({
        sources: ['a.txt', 'b.txt', 'dir', 'archive.tar.gz'],
        dynamic: []
      })
    })

    it('reads the JSON form, where a source may contain spaces', () => {
      expect(contextSources(df('FROM alpine', 'COPY ["my file.txt", "c", "/dst/"]', 'ADD [ "d e" , "/x" ]'))).toEqual({
        sources: ['my file.txt', 'c', 'd e'],
        dynamic: []
      })
    })

    it('reads the JSON form after flags', () => {
      expect(contextSources(df('FROM alpine', 'COPY --chown=1:1 ["a", "/dst/"]'))).toEqual({
        sources: ['a'],
        dynamic: []
      })
    })

    it('ignores an instruction without a destination', () => {
      expect(contextSources(df('FROM alpine', 'COPY lonely', 'COPY'))).toEqual({ sources: [], dynamic: [] })
    })

    it('treats instructions case-insensitively', () => {
      expect(contextSources(df('from alpine', 'copy a /x', 'Add b /y', 'cOpY c /z'))).toEqual({
        sources: ['a', 'b', 'c'],
        dynamic: []
      })
    })

    it('removes shell quotes from shell-form sources', () => {
      expect(contextSources(df('FROM alpine', `COPY "quoted.txt" 'single.txt' /dst/`))).toEqual({
        sources: ['quoted.txt', 'single.txt'],
        dynamic: []
      })
    })

    it('keeps glob characters as written', () => {
      expect(contextSources(df('FROM alpine', 'COPY src/*.rs conf?.toml lib[0-9].so /dst/'))).toEqual({
        sources: ['src/*.rs', 'conf?.toml', 'lib[0-9].so'],
        dynamic: []
      })
    })

    it('deduplicates in order of first appearance', () => {
      expect(contextSources(df('FROM alpine', 'COPY b a /x/', 'COPY ./a b/ c /y/', 'ADD a /z'))).toEqual({
        sources: ['b', 'a', 'c'],
        dynamic: []
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
        'COPY --parents d/**/e.txt /dst/',
        'COPY --exclude=*.md --exclude=tmp f /dst/',
        'ADD --keep-git-dir=true g /dst/',
        'ADD --checksum=sha256:0123abcd i.tar /dst/',
        'COPY --chown="user name" j /dst/'
      )
      expect(contextSources(dockerfile)).toEqual({
        sources: ['a', 'b', 'c', 'd/**/e.txt', 'f', 'g', 'i.tar', 'j'],
        dynamic: []
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
      expect(contextSources(dockerfile)).toEqual({ sources: ['src', 'config.toml'], dynamic: [] })
    })

    it('treats an empty --from= as the context', () => {
      expect(contextSources(df('FROM alpine', 'COPY --from= a /dst/'))).toEqual({ sources: ['a'], dynamic: [] })
    })

    it('stops reading flags at a bare --', () => {
      expect(contextSources(df('FROM alpine', 'COPY -- --odd-name /dst/'))).toEqual({
        sources: ['--odd-name'],
        dynamic: []
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
      expect(contextSources(dockerfile)).toEqual({ sources: ['after.txt'], dynamic: [] })
    })

    it('handles <<- with a tab-indented terminator', () => {
      const dockerfile = df('FROM alpine', 'COPY <<-EOT /x', '\tCOPY hidden /y', '\tEOT', 'COPY seen /z')
      expect(contextSources(dockerfile)).toEqual({ sources: ['seen'], dynamic: [] })
    })

    it('does not accept an indented terminator without <<-', () => {
      const dockerfile = df('FROM alpine', 'COPY <<EOT /x', '\tEOT', 'COPY hidden /y', 'EOT', 'COPY seen /z')
      expect(contextSources(dockerfile)).toEqual({ sources: ['seen'], dynamic: [] })
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
      expect(contextSources(dockerfile)).toEqual({ sources: ['seen'], dynamic: [] })
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
      expect(contextSources(dockerfile)).toEqual({ sources: ['inline.txt', 'seen'], dynamic: [] })
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
      expect(contextSources(dockerfile)).toEqual({ sources: ['seen'], dynamic: [] })
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
      expect(contextSources(dockerfile)).toEqual({ sources: ['seen'], dynamic: [] })
    })

    it('does not take quoted or exec-form text for a heredoc marker', () => {
      const dockerfile = df('FROM alpine', 'RUN echo "<<EOF"', 'COPY a /x', 'RUN ["cat", "<<EOF"]', 'COPY b /y')
      expect(contextSources(dockerfile)).toEqual({ sources: ['a', 'b'], dynamic: [] })
    })

    it('does not look for heredocs in other instructions', () => {
      const dockerfile = df('FROM alpine', 'CMD cat <<EOF', 'COPY a /x', 'EOF', 'LABEL note <<EOF', 'COPY b /y', 'EOF')
      expect(contextSources(dockerfile)).toEqual({ sources: ['a', 'b'], dynamic: [] })
    })

    it('consumes an unterminated heredoc to the end of the file', () => {
      expect(contextSources(df('FROM alpine', 'COPY a /x', 'RUN <<EOF', 'COPY hidden /y'))).toEqual({
        sources: ['a'],
        dynamic: []
      })
    })
  })

  describe('ADD of remote sources', () => {
    it('skips URLs and git remotes but keeps local files', () => {
      const dockerfile = df(
        'FROM alpine',
        'ADD http://example.com/a.tar.gz /opt/',
        'ADD https://example.com/b.tar.gz local.tar.gz /opt/',
        'ADD git@github.com:moby/buildkit.git /src/buildkit',
        'ADD git://example.com/repo /src/repo',
        'ADD ssh://git@example.com/org/repo.git /src/other',
        'ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.10.1 /buildkit',
        'ADD "HTTPS://EXAMPLE.COM/c" /opt/',
        'ADD https://example.com/${VERSION}/d.tar.gz /opt/',
        'ADD vendor.tar.gz /opt/'
      )
      expect(contextSources(dockerfile)).toEqual({ sources: ['local.tar.gz', 'vendor.tar.gz'], dynamic: [] })
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
      expect(contextSources(dockerfile)).toEqual({
        sources: ['Cargo.toml', 'crates', '.', 'scripts', 'upper'],
        dynamic: []
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
      expect(contextSources(dockerfile)).toEqual({ sources: [], dynamic: [] })
    })

    it('reads every mount of a RUN, next to other flags', () => {
      const dockerfile = df(
        'FROM rust',
        'RUN --network=none --mount=type=cache,target=/c \\',
        '    --mount=type=bind,source=a,target=/a \\',
        '    --mount="type=bind,source=b,target=/b" \\',
        '    --security=sandbox make'
      )
      expect(contextSources(dockerfile)).toEqual({ sources: ['a', 'b'], dynamic: [] })
    })

    it('reads a CSV-quoted source containing a comma', () => {
      expect(contextSources(df('FROM alpine', `RUN --mount='type=bind,"source=a,b",target=/x' true`))).toEqual({
        sources: ['a,b'],
        dynamic: []
      })
    })

    it('reports a mount source with a variable as dynamic', () => {
      expect(contextSources(df('FROM alpine', 'ARG DIR', 'RUN --mount=type=bind,source=$DIR,target=/x true'))).toEqual({
        sources: [],
        dynamic: ['$DIR']
      })
    })

    it('reads the mounts of an exec-form RUN', () => {
      expect(contextSources(df('FROM alpine', 'RUN --mount=source=tools,target=/t ["/t/run"]'))).toEqual({
        sources: ['tools'],
        dynamic: []
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
      expect(contextSources(dockerfile)).toEqual({ sources: ['seen'], dynamic: [] })
    })
  })

  describe('normalisation', () => {
    it('strips ./, collapses //, drops a trailing / and a leading /', () => {
      const dockerfile = df('FROM alpine', 'COPY ./a .//b c// /d/e/ //f ./././g h/./i /dst/')
      expect(contextSources(dockerfile)).toEqual({
        sources: ['a', 'b', 'c', 'd/e', 'f', 'g', 'h/i'],
        dynamic: []
      })
    })

    it('maps every spelling of the root to .', () => {
      const dockerfile = df('FROM alpine', 'COPY . /a', 'COPY ./ /b', 'COPY / /c', 'COPY ["", "/d"]', 'COPY "" /e')
      expect(contextSources(dockerfile)).toEqual({ sources: ['.'], dynamic: [] })
    })

    it('resolves .. that stays inside the context', () => {
      expect(contextSources(df('FROM alpine', 'COPY a/../b c/d/.. /dst/'))).toEqual({
        sources: ['b', 'c'],
        dynamic: []
      })
    })

    it('clamps a source above the context and reports it as dynamic', () => {
      const dockerfile = df('FROM alpine', 'COPY ../x a/../../y .. ok /dst/')
      const result = contextSources(dockerfile)
      expect(result).toEqual({ sources: ['ok'], dynamic: ['x', 'y', '.'] })
      for (const path of [...result.sources, ...result.dynamic]) expect(path.split('/')).not.toContain('..')
    })
  })

  describe('variables', () => {
    it('reports $VAR and ${VAR} sources as dynamic', () => {
      const dockerfile = df(
        'FROM alpine',
        'ARG TARGET=x86_64',
        'COPY host-$TARGET/build.sh /tmp/',
        'COPY ${DIR}/conf ./plain /etc/',
        'COPY "${QUOTED}.txt" /etc/',
        'COPY ["$JSON", "/x"]'
      )
      expect(contextSources(dockerfile)).toEqual({
        sources: ['plain'],
        dynamic: ['host-$TARGET/build.sh', '${DIR}/conf', '${QUOTED}.txt', '$JSON']
      })
    })

    it('drops escapes outside quotes and keeps those that escape nothing inside double quotes', () => {
      const dockerfile = df('FROM alpine', 'COPY a\\b.txt "c\\d.txt" "e\\\\f.txt" /dst/')
      expect(contextSources(dockerfile)).toEqual({
        sources: ['ab.txt', 'c\\d.txt', 'e\\f.txt'],
        dynamic: []
      })
    })

    it('keeps an escaped or single-quoted $ as a literal character', () => {
      const dockerfile = df('FROM alpine', 'COPY price\\$5.txt "cost\\$.txt" \'$literal\' /dst/')
      expect(contextSources(dockerfile)).toEqual({
        sources: ['price$5.txt', 'cost$.txt', '$literal'],
        dynamic: []
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
      expect(contextSources(dockerfile)).toEqual({ sources: ['a', 'b'], dynamic: [] })
    })

    it('glues continued pieces without adding whitespace', () => {
      expect(contextSources(df('FROM alpine', 'COPY long\\', 'name.txt /dst/'))).toEqual({
        sources: ['longname.txt'],
        dynamic: []
      })
    })

    it('does not continue a line ending in an escaped escape character', () => {
      const dockerfile = df('FROM alpine', 'RUN echo \\\\', 'COPY a /x')
      expect(contextSources(dockerfile)).toEqual({ sources: ['a'], dynamic: [] })
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
      expect(contextSources(dockerfile)).toEqual({
        sources: ['setup.ps1', 'tools', '$literal.txt', 'dir\\file.txt'],
        dynamic: []
      })
    })

    it('ignores an escape directive that follows a comment, a blank line or an instruction', () => {
      for (const before of ['# just a comment', '', 'FROM alpine', '# unknown=directive']) {
        const dockerfile = df(before, '# escape=`', 'FROM alpine', 'COPY a \\', '  b /dst/', 'COPY c`d /x')
        expect(contextSources(dockerfile)).toEqual({ sources: ['a', 'b', 'c`d'], dynamic: [] })
      }
    })

    it('reads CRLF line endings and a byte-order mark', () => {
      const dockerfile =
        '\uFEFF# escape=`\r\nFROM alpine\r\nCOPY a `\r\n  b /dst/\r\nRUN <<EOF\r\nCOPY hidden /x\r\nEOF\r\nCOPY c /y\r\n'
      expect(contextSources(dockerfile)).toEqual({ sources: ['a', 'b', 'c'], dynamic: [] })
    })

    it('returns nothing for an empty Dockerfile', () => {
      expect(contextSources('')).toEqual({ sources: [], dynamic: [] })
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
    expect(contextSources(dockerfile)).toEqual({
      sources: [
        'scripts/cross-apt-packages.sh',
        'host-x86_64/dist-x86_64-linux/shared.sh',
        'host-x86_64/dist-x86_64-linux/build-gcc.sh',
        'scripts/cmake.sh',
        'scripts/sccache.sh'
      ],
      dynamic: []
    })
  })
})
