#!/usr/bin/env bash
# Runs a command where the end-to-end tests and the local build run: beside
# the engines scripts/engine-up.sh brings up, in their network namespace (so
# that the engines' BuildKit reaches the cache service and the registries the
# command starts, and the cache service's blob host resolves), with the
# environment that reaches them, and with Node 24 first on PATH.
#
#   bash scripts/in-engine.sh COMMAND [ARG...]
#
# ENGINE_SUITE and the other variables engine-up.sh reads pass through.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

node24=$(bash "$here/node24.sh")
eval "$(bash "$here/engine-up.sh")"
export ENGINE_SUITE ENGINE_ROOT ENGINE_NETNS DOCKER_CONFIG DOCKER_HOST CLASSIC_DOCKER_HOST BUSYBOX CACHE_SERVICE_BLOB_HOST \
  ENGINE_REGISTRY ENGINE_REGISTRY_AUTH ENGINE_REGISTRY_READONLY ENGINE_REGISTRY_USER ENGINE_REGISTRY_PASSWORD
export PATH="$(dirname "$node24"):$PATH"
# Already inside: a nested `ip netns exec` would only lay the hosts file again.
if [ "$(ip netns identify 2>/dev/null)" = "$ENGINE_NETNS" ]; then exec "$@"; fi
if [ "$(id -u)" -eq 0 ]; then exec ip netns exec "$ENGINE_NETNS" "$@"; fi
exec sudo --preserve-env ip netns exec "$ENGINE_NETNS" "$@"
