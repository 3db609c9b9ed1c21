#!/usr/bin/env bash
# Brings up real Docker Engines with buildx on a bare Debian machine that has
# no daemon, and prints the environment that reaches them:
#
#   eval "$(bash scripts/engine-up.sh)"
#
# One Debian root (debootstrap) per suite, and in it, in a network namespace of
# their own:
#   - dockerd with the containerd image store (DOCKER_HOST), whose docker
#     driver exports a local cache, as on GitHub's ubuntu-26.04 runners;
#   - dockerd with the classic image store (CLASSIC_DOCKER_HOST), whose docker
#     driver imports a local cache but cannot export one, as on ubuntu-24.04;
#   - three CNCF distribution registries on 127.0.0.1: 5000 open, 5001 behind
#     an htpasswd login, 5002 the same storage and login, read-only;
#   - moby/buildkit:buildx-stable-1 in both engines, for the docker-container
#     builders the action creates on the classic store.
# Whatever BuildKit itself must reach (a registry, the cache service for
# type=gha) has to listen in that namespace; so do the tests, which run there
# (scripts/in-engine.sh), with a hosts file that resolves the cache service's
# blob host (CACHE_SERVICE_BLOB_HOST) to 127.0.0.1.
#
# ENGINE_SUITE picks the Debian suite, and with it the engine:
#   forky  (default) Docker 28.5, buildx 0.29, containerd 2.1
#   trixie           Docker 26.1, buildx 0.13 (older self-hosted runners)
# ENGINE_ROOT (/opt/engine-SUITE) and ENGINE_NETNS (engine-SUITE) give a second
# engine of the same suite, e.g. for benchmarks beside the tests.
# Idempotent: a second run finds the engines answering and only prints.
set -euo pipefail

SUITE=${ENGINE_SUITE:-forky}
case "$SUITE" in
  forky | trixie) ;;
  *)
    echo "engine-up: ENGINE_SUITE is forky (the default) or trixie, not '$SUITE'" >&2
    exit 2
    ;;
esac
ROOT=${ENGINE_ROOT:-/opt/engine-$SUITE}
NETNS=${ENGINE_NETNS:-engine-$SUITE}
LOG=${ENGINE_LOG:-/tmp/engine-$SUITE.log}
READY="$ROOT/.engine-ready"
SOCK="$ROOT/run/docker.sock"
CLASSIC_SOCK="$ROOT/run/docker-classic.sock"
# The mount namespace the daemons share, entered later with nsenter.
MNT_DIR=/run/engine-mnt
MNT="$MNT_DIR/$NETNS"
# A docker configuration per engine, holding its own buildx: two suites side
# by side must not swap each other's plugin.
CONFIG_DIR=${ENGINE_DOCKER_CONFIG:-$HOME/.docker-engines/$NETNS}
PLUGIN_DIR="$CONFIG_DIR/cli-plugins"
REGISTRY_CONF=/etc/engine-registry
REGISTRY_DATA=/var/lib/engine-registry
REGISTRY_USER=ci
BLOB_HOST=actionscache.blob.core.windows.net
# The classic-store engine's bridge: docker0 belongs to the other one.
CLASSIC_BRIDGE=docker1
CLASSIC_BRIDGE_ADDR=172.30.0.1/16
HERE=$(cd "$(dirname "$0")" && pwd)
BUILDKIT_IMAGE=moby/buildkit:buildx-stable-1
BUILDKIT_ARCHIVE=${BUILDKIT_ARCHIVE:-$(ls "$HERE"/../../shared/buildkit/moby-buildkit-*.tar.gz 2>/dev/null | head -n 1 || true)}

say() { echo "engine-up: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

answers() { # socket
  DOCKER_CONFIG=$CONFIG_DIR DOCKER_HOST="unix://$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

install_host_packages() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v zstd >/dev/null || missing+=(zstd)
  command -v nsenter >/dev/null || missing+=(util-linux)
  command -v ip >/dev/null || missing+=(iproute2)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} on the host"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The root: Debian SUITE with the engine, buildx, containerd, runc and the
# registry from Debian's own packages.
make_root() {
  if [ -f "$READY" ]; then return; fi
  if [ -e "$ROOT" ]; then
    # Never delete it in place: /dev and /sys may be bound inside.
    say "moving an unfinished engine root aside: $ROOT.unfinished.$$"
    as_root umount -R "$ROOT" 2>/dev/null || true
    as_root mv "$ROOT" "$ROOT.unfinished.$$"
  fi
  say "making the $SUITE engine root in $ROOT (debootstrap, about a minute)"
  as_root mkdir -p "$ROOT"
  local script=()
  # bookworm's debootstrap knows no script named forky; sid's is the same.
  [ -e "/usr/share/debootstrap/scripts/$SUITE" ] || script=(http://deb.debian.org/debian /usr/share/debootstrap/scripts/sid)
  as_root debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$ROOT" "${script[@]}" >>"$LOG" 2>&1
  # The mirror may serve a Release file past its Valid-Until: apt refuses it.
  echo 'Acquire::Check-Valid-Until "false";' | as_root tee "$ROOT/etc/apt/apt.conf.d/99engine-no-valid-until" >/dev/null
  as_root cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  as_root mount -t proc proc "$ROOT/proc"
  as_root chroot "$ROOT" apt-get update -qq >>"$LOG" 2>&1
  DEBIAN_FRONTEND=noninteractive as_root chroot "$ROOT" apt-get install -y -qq --no-install-recommends \
    docker.io docker-cli docker-buildx containerd runc iptables ca-certificates busybox-static \
    docker-registry apache2-utils >>"$LOG" 2>&1
  as_root umount "$ROOT/proc"
  as_root touch "$READY"
}

# The network namespace: loopback, the classic engine's bridge, and a hosts
# file that `ip netns exec` lays over /etc/hosts for whatever runs there.
make_netns() {
  [ -e "/run/netns/$NETNS" ] || as_root ip netns add "$NETNS"
  in_netns ip link set lo up
  if ! in_netns ip link show "$CLASSIC_BRIDGE" >/dev/null 2>&1; then
    in_netns ip link add "$CLASSIC_BRIDGE" type bridge
    in_netns ip addr add "$CLASSIC_BRIDGE_ADDR" dev "$CLASSIC_BRIDGE"
    in_netns ip link set "$CLASSIC_BRIDGE" up
  fi
  local hosts
  hosts=$(printf '127.0.0.1 localhost\n::1 localhost\n127.0.0.1 %s\n' "$BLOB_HOST")
  as_root mkdir -p "/etc/netns/$NETNS"
  echo "$hosts" | as_root tee "/etc/netns/$NETNS/hosts" >/dev/null
  # The daemons read the root's own: BuildKit's type=gha client resolves the blob host too.
  echo "$hosts" | as_root tee "$ROOT/etc/hosts" >/dev/null
}

in_netns() { as_root ip netns exec "$NETNS" "$@"; }

# The daemons share a mount namespace whose root is the Debian root, entered
# with pivot_root: under a plain chroot, `docker exec` into a container lands
# in the host's / and buildx cannot check a docker-container builder.
make_mount_namespace() {
  if [ -e "$MNT" ] && as_root nsenter --mount="$MNT" true 2>/dev/null; then return; fi
  as_root mkdir -p "$MNT_DIR"
  # The file that keeps the namespace must sit on a private mount.
  if ! mountpoint -q "$MNT_DIR"; then
    as_root mount --bind "$MNT_DIR" "$MNT_DIR"
    as_root mount --make-private "$MNT_DIR"
  fi
  as_root touch "$MNT"
  as_root unshare --mount="$MNT" --propagation private -- bash -euc '
    root=$1
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mkdir -p "$root/.host"
    cd "$root"
    pivot_root . .host
    umount -l /.host
  ' _ "$ROOT"
}

# Starts a daemon in the engine: its mount namespace, its network namespace.
in_engine() {
  as_root setsid nsenter --mount="$MNT" --net="/run/netns/$NETNS" -- "$@" >>"$LOG" 2>&1 </dev/null &
}

configure() {
  as_root mkdir -p "$ROOT/etc/docker"
  # Containers' name lookups are refused at once by an address where nothing
  # listens: a resolver that never answers makes every pull wait ~50 s.
  echo '{ "features": { "containerd-snapshotter": true }, "iptables": false, "ip6tables": false, "dns": ["172.17.0.1"] }' |
    as_root tee "$ROOT/etc/docker/daemon.json" >/dev/null
  echo "{ \"iptables\": false, \"ip6tables\": false, \"bridge\": \"$CLASSIC_BRIDGE\", \"dns\": [\"${CLASSIC_BRIDGE_ADDR%/*}\"] }" |
    as_root tee "$ROOT/etc/docker/daemon-classic.json" >/dev/null
  # The root's buildx runs from the host, from the engine's own docker
  # configuration. Replace it by rename, and only when it differs: a running
  # build holds the old file open.
  local plugin="$ROOT/usr/libexec/docker/cli-plugins/docker-buildx"
  mkdir -p "$PLUGIN_DIR"
  if ! cmp -s "$plugin" "$PLUGIN_DIR/docker-buildx"; then
    cp "$plugin" "$PLUGIN_DIR/.docker-buildx.$$"
    mv -f "$PLUGIN_DIR/.docker-buildx.$$" "$PLUGIN_DIR/docker-buildx"
  fi
}

wait_for() { # what seconds command...
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq 1 $((seconds * 2))); do "$@" && return; sleep 0.5; done
  say "$what did not answer within $seconds s; the engine log ($LOG) ends with:"
  tail -n 40 "$LOG" >&2
  exit 1
}

start_containerd() {
  if as_root nsenter --mount="$MNT" -- timeout 5 ctr version >/dev/null 2>&1; then return; fi
  say "starting containerd"
  as_root rm -f "$ROOT/run/containerd/containerd.sock"
  in_engine containerd
  wait_for containerd 30 test -S "$ROOT/run/containerd/containerd.sock"
}

start_dockerd() {
  if answers "$SOCK"; then return; fi
  say "starting dockerd (containerd image store)"
  as_root rm -f "$ROOT/run/docker.pid"
  in_engine dockerd --containerd=/run/containerd/containerd.sock
  wait_for dockerd 60 answers "$SOCK"
}

# Shares the root and containerd, with state, socket, bridge and containerd
# namespace of its own.
start_classic() {
  if answers "$CLASSIC_SOCK"; then return; fi
  say "starting dockerd (classic image store)"
  as_root rm -f "$ROOT/run/docker-classic.pid"
  in_engine dockerd \
    --config-file=/etc/docker/daemon-classic.json \
    --containerd=/run/containerd/containerd.sock \
    --containerd-namespace=moby-classic --containerd-plugins-namespace=plugins.moby-classic \
    --data-root=/var/lib/docker-classic --exec-root=/run/docker-classic \
    --pidfile=/run/docker-classic.pid -H unix:///run/docker-classic.sock
  wait_for "the classic-store dockerd" 60 answers "$CLASSIC_SOCK"
}

# What `docker buildx create --driver docker-container` runs. A machine that
# reaches a registry pulls it; here, none does, so it comes from the archive.
provide_buildkit() { # socket
  local host="unix://$1"
  export DOCKER_CONFIG=$CONFIG_DIR
  if DOCKER_HOST=$host docker image inspect "$BUILDKIT_IMAGE" >/dev/null 2>&1; then return; fi
  if DOCKER_HOST=$host timeout 60 docker pull -q "$BUILDKIT_IMAGE" >>"$LOG" 2>&1; then return; fi
  if [ -n "$BUILDKIT_ARCHIVE" ] && [ -f "$BUILDKIT_ARCHIVE" ]; then
    say "loading $BUILDKIT_IMAGE from $BUILDKIT_ARCHIVE (no registry to pull it from)"
    DOCKER_HOST=$host docker load -q -i "$BUILDKIT_ARCHIVE" >>"$LOG" 2>&1
    return
  fi
  say "$BUILDKIT_IMAGE could not be pulled, and there is no archive of it (BUILDKIT_ARCHIVE, or shared/buildkit/ beside the checkout): the docker-container builder cannot start without it"
  exit 1
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
    in_engine docker-registry serve "$REGISTRY_CONF/$name.yml"
    wait_for "the $name registry" 10 port_answers "$port"
  done
}

install_host_packages
make_root
make_netns
make_mount_namespace
configure
start_containerd
start_dockerd
start_classic
provide_buildkit "$SOCK"
provide_buildkit "$CLASSIC_SOCK"
start_registries
export DOCKER_CONFIG=$CONFIG_DIR
say "$SUITE: engine $(DOCKER_HOST="unix://$SOCK" docker version --format '{{.Server.Version}}'), buildx $(DOCKER_HOST="unix://$SOCK" docker buildx version | awk '{print $2}'), both image stores, in network namespace $NETNS"
echo "export ENGINE_SUITE=$SUITE"
echo "export ENGINE_ROOT=$ROOT"
echo "export ENGINE_NETNS=$NETNS"
echo "export DOCKER_CONFIG=$CONFIG_DIR"
echo "export DOCKER_HOST=unix://$SOCK"
echo "export CLASSIC_DOCKER_HOST=unix://$CLASSIC_SOCK"
echo "export BUSYBOX=$ROOT/bin/busybox"
echo "export CACHE_SERVICE_BLOB_HOST=$BLOB_HOST"
echo "export ENGINE_REGISTRY=127.0.0.1:5000"
echo "export ENGINE_REGISTRY_AUTH=127.0.0.1:5001"
echo "export ENGINE_REGISTRY_READONLY=127.0.0.1:5002"
echo "export ENGINE_REGISTRY_USER=$REGISTRY_USER"
echo "export ENGINE_REGISTRY_PASSWORD=$(as_root cat "$ROOT$REGISTRY_CONF/password")"
