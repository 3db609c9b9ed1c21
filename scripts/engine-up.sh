#!/usr/bin/env bash
# Brings up a real Docker Engine with buildx on a bare Debian machine that has
# no daemon: the engine runs inside a Debian root made with debootstrap, and the
# host's docker CLI talks to it through DOCKER_HOST. Idempotent: a second run
# finds the engine answering and only prints the environment to use.
#
# Usage: scripts/engine-up.sh            (prints `export DOCKER_HOST=...`)
#        eval "$(scripts/engine-up.sh)"
# A second, independent engine (for benchmarks beside the tests) takes its own
# root and network namespace, so that its bridge does not clash with the first:
#        ENGINE_ROOT=/opt/engine-bench ENGINE_NETNS=bench scripts/engine-up.sh
# The same root also runs an engine with Docker's classic image store, as
# GitHub's ubuntu-24.04 runners have it (prints its own DOCKER_HOST):
#        ENGINE_STORE=classic scripts/engine-up.sh
# Beside the (containerd-store) engine, in its network namespace, three OCI
# registries (the CNCF distribution registry Debian packages) for the registry
# backend's tests: 127.0.0.1:5000 open; 127.0.0.1:5001 behind an htpasswd
# login; 127.0.0.1:5002 the same storage and login, read-only (every push
# refused). BuildKit pushes from the engine's namespace, so that is where they
# listen; a client that reaches them runs there too (`ip netns exec $ENGINE_NETNS ...`).
set -euo pipefail

ROOT=${ENGINE_ROOT:-/opt/engine-root}
NETNS=${ENGINE_NETNS:-}
READY="$ROOT/.engine-ready"
SOCK="$ROOT/run/docker.sock"
LOG=${ENGINE_LOG:-/tmp/engine.log}
PLUGIN_DIR="$HOME/.docker/cli-plugins"
STORE=${ENGINE_STORE:-containerd}
REGISTRY_CONF=/etc/engine-registry
REGISTRY_DATA=/var/lib/engine-registry
REGISTRY_USER=ci

say() { echo "engine-up: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

engine_answers() {
  DOCKER_HOST="unix://$SOCK" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

install_host_packages() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v zstd >/dev/null || missing+=(zstd)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} on the host"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

make_root() {
  if [ -f "$READY" ]; then return; fi
  # A root from before the marker existed: complete if its engine is installed.
  if [ -x "$ROOT/usr/sbin/dockerd" ] && [ -x "$ROOT/usr/libexec/docker/cli-plugins/docker-buildx" ]; then
    as_root touch "$READY"
    return
  fi
  if [ -e "$ROOT" ]; then
    # Never delete it in place: /dev and /sys are bound inside.
    say "moving an unfinished engine root aside: $ROOT.unfinished.$$"
    as_root umount -R "$ROOT" 2>/dev/null || true
    as_root mv "$ROOT" "$ROOT.unfinished.$$"
  fi
  say "making the engine root in $ROOT (debootstrap, about a minute)"
  as_root mkdir -p "$ROOT"
  as_root debootstrap --variant=minbase --include=ca-certificates trixie "$ROOT" >>"$LOG" 2>&1
  mount_root
  as_root cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  as_root chroot "$ROOT" apt-get update -qq >>"$LOG" 2>&1
  DEBIAN_FRONTEND=noninteractive as_root chroot "$ROOT" apt-get install -y -qq --no-install-recommends \
    docker.io docker-cli docker-buildx containerd runc iptables ca-certificates busybox-static \
    docker-registry apache2-utils >>"$LOG" 2>&1
  as_root touch "$READY"
}

# Roots made before the registries were part of the engine.
install_registry() {
  if [ -x "$ROOT/usr/bin/docker-registry" ] && [ -x "$ROOT/usr/bin/htpasswd" ]; then return; fi
  say "installing docker-registry in the engine root"
  as_root chroot "$ROOT" apt-get update -qq >>"$LOG" 2>&1
  DEBIAN_FRONTEND=noninteractive as_root chroot "$ROOT" apt-get install -y -qq --no-install-recommends \
    docker-registry apache2-utils >>"$LOG" 2>&1
}

# runc needs the root to be a mount point of its own.
mount_root() {
  if ! mountpoint -q "$ROOT"; then
    as_root mount --bind "$ROOT" "$ROOT"
    as_root mount --make-private "$ROOT"
  fi
  mountpoint -q "$ROOT/proc" || as_root mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/sys" || as_root mount --rbind /sys "$ROOT/sys"
  mountpoint -q "$ROOT/dev" || as_root mount --rbind /dev "$ROOT/dev"
}

configure() {
  # The containerd image store lets the default docker driver export a local cache.
  as_root mkdir -p "$ROOT/etc/docker"
  echo '{ "features": { "containerd-snapshotter": true }, "iptables": false }' |
    as_root tee "$ROOT/etc/docker/daemon.json" >/dev/null
  # Replace the plugin by rename, and only when it differs: a running build
  # holds the old file open.
  local plugin="$ROOT/usr/libexec/docker/cli-plugins/docker-buildx"
  mkdir -p "$PLUGIN_DIR"
  if ! cmp -s "$plugin" "$PLUGIN_DIR/docker-buildx"; then
    cp "$plugin" "$PLUGIN_DIR/.docker-buildx.$$"
    mv -f "$PLUGIN_DIR/.docker-buildx.$$" "$PLUGIN_DIR/docker-buildx"
  fi
}

# By its file, not `ip netns list`: a word match would take "x" for "x-classic".
ensure_netns() {
  [ -e "/run/netns/$1" ] || as_root ip netns add "$1"
  as_root ip netns exec "$1" ip link set lo up
}

# Runs a daemon in the root, inside the engine's network namespace if it has one.
in_engine() {
  if [ -n "$NETNS" ]; then
    ensure_netns "$NETNS"
    as_root setsid ip netns exec "$NETNS" chroot "$ROOT" "$@"
  else
    as_root setsid chroot "$ROOT" "$@"
  fi
}

# Runs a host command in the engine's network namespace.
in_netns() {
  if [ -n "$NETNS" ]; then
    ensure_netns "$NETNS"
    as_root ip netns exec "$NETNS" "$@"
  else
    "$@"
  fi
}

port_answers() {
  in_netns timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

registry_config() { # name port storage readonly auth
  local auth=''
  if [ "$5" = auth ]; then
    auth="auth:
  htpasswd:
    realm: engine-registry
    path: $REGISTRY_CONF/htpasswd"
  fi
  cat <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REGISTRY_DATA/$3
  delete:
    enabled: true
  maintenance:
    readonly:
      enabled: $4
$auth
http:
  addr: 127.0.0.1:$2
  secret: engine-registry-$1
EOF
}

start_registries() {
  local conf="$ROOT$REGISTRY_CONF"
  as_root mkdir -p "$conf" "$ROOT$REGISTRY_DATA"
  if [ ! -s "$conf/password" ]; then
    head -c 18 /dev/urandom | base64 | tr -d '/+=' | as_root tee "$conf/password" >/dev/null
    as_root chmod 600 "$conf/password"
  fi
  if [ ! -s "$conf/htpasswd" ]; then
    as_root chroot "$ROOT" htpasswd -Bbn "$REGISTRY_USER" "$(as_root cat "$conf/password")" | as_root tee "$conf/htpasswd" >/dev/null
  fi
  local spec name port
  for spec in "open 5000 open false none" "auth 5001 auth false auth" "readonly 5002 auth true auth"; do
    # shellcheck disable=SC2086
    set -- $spec
    name=$1 port=$2
    registry_config "$@" | as_root tee "$conf/$name.yml" >/dev/null
    if port_answers "$port"; then continue; fi
    say "starting the $name registry on 127.0.0.1:$port"
    in_engine docker-registry serve "$REGISTRY_CONF/$name.yml" >>"$LOG" 2>&1 </dev/null &
    for _ in $(seq 1 40); do port_answers "$port" && break; sleep 0.25; done
    if ! port_answers "$port"; then
      say "the $name registry did not start; the engine log follows"
      tail -n 20 "$LOG" >&2
      exit 1
    fi
  done
}

start_containerd() {
  if ! timeout 5 chroot "$ROOT" ctr version >/dev/null 2>&1; then
    say "starting containerd"
    as_root rm -f "$ROOT/run/containerd/containerd.sock"
    in_engine containerd >>"$LOG" 2>&1 </dev/null &
    for _ in $(seq 1 60); do [ -S "$ROOT/run/containerd/containerd.sock" ] && break; sleep 0.5; done
  fi
}

start() {
  start_containerd
  say "starting dockerd"
  as_root rm -f "$ROOT/run/docker.pid"
  in_engine dockerd --containerd=/run/containerd/containerd.sock >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 120); do engine_answers && return; sleep 0.5; done
  say "dockerd did not answer within 60 s; its log follows"
  tail -n 40 "$LOG" >&2
  exit 1
}

# The classic image store ---------------------------------------------------
# With it the docker driver imports a local cache but cannot export one. Its
# dockerd shares the root and its containerd, with state, socket and
# containerd namespace of its own, and runs in a network namespace of its own:
# a second dockerd beside the first tears down the first one's docker0 bridge.
CLASSIC_SOCK="$ROOT/run/docker-classic.sock"
CLASSIC_NETNS=${ENGINE_CLASSIC_NETNS:-${NETNS:-engine}-classic}

classic_answers() {
  DOCKER_HOST="unix://$CLASSIC_SOCK" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

start_classic() {
  # Without the containerd-snapshotter feature: the classic store.
  echo '{ "iptables": false }' | as_root tee "$ROOT/etc/docker/daemon-classic.json" >/dev/null
  start_containerd
  say "starting the classic-store dockerd in network namespace $CLASSIC_NETNS"
  as_root rm -f "$ROOT/run/docker-classic.pid"
  ensure_netns "$CLASSIC_NETNS"
  as_root setsid ip netns exec "$CLASSIC_NETNS" chroot "$ROOT" dockerd \
    --config-file=/etc/docker/daemon-classic.json \
    --containerd=/run/containerd/containerd.sock \
    --containerd-namespace=moby-classic --containerd-plugins-namespace=plugins.moby-classic \
    --data-root=/var/lib/docker-classic --exec-root=/run/docker-classic \
    --pidfile=/run/docker-classic.pid -H unix:///run/docker-classic.sock >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 120); do classic_answers && return; sleep 0.5; done
  say "the classic-store dockerd did not answer within 60 s; its log follows"
  tail -n 40 "$LOG" >&2
  exit 1
}

classic_up() {
  if ! classic_answers; then
    install_host_packages
    make_root
    mount_root
    configure
    start_classic
  else
    configure
  fi
  say "classic-store engine $(DOCKER_HOST="unix://$CLASSIC_SOCK" docker version --format '{{.Server.Version}}') ready"
  echo "export DOCKER_HOST=unix://$CLASSIC_SOCK"
  echo "export BUSYBOX=$ROOT/bin/busybox"
}

case "$STORE" in
  containerd) ;;
  classic)
    classic_up
    exit 0
    ;;
  *)
    say "ENGINE_STORE is containerd (the default) or classic, not '$STORE'"
    exit 2
    ;;
esac

if ! engine_answers; then
  install_host_packages
  make_root
  mount_root
  configure
  start
else
  configure
fi
install_registry
start_registries
say "engine $(DOCKER_HOST="unix://$SOCK" docker version --format '{{.Server.Version}}') ready, buildx $(DOCKER_HOST="unix://$SOCK" docker buildx version | awk '{print $2}')"
echo "export DOCKER_HOST=unix://$SOCK"
echo "export BUSYBOX=$ROOT/bin/busybox"
echo "export ENGINE_NETNS=$NETNS"
echo "export ENGINE_REGISTRY=127.0.0.1:5000"
echo "export ENGINE_REGISTRY_AUTH=127.0.0.1:5001"
echo "export ENGINE_REGISTRY_READONLY=127.0.0.1:5002"
echo "export ENGINE_REGISTRY_USER=$REGISTRY_USER"
echo "export ENGINE_REGISTRY_PASSWORD=$(as_root cat "$ROOT$REGISTRY_CONF/password")"
