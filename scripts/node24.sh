#!/usr/bin/env bash
# Prints the path of a Node.js 24 for the tests and the local build: the
# action declares node24, and the tests run it as the runner would. The `node`
# on PATH when it is 24 or newer; else Node 24 from the npm registry, installed
# once into .tools/ (the node-<os>-<arch> packages carry the official binary).
# With a command, runs it with that Node first on PATH instead:
#   bash scripts/node24.sh node --version
set -euo pipefail
cd "$(dirname "$0")/.."

major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

found() {
  if [ $# -gt 1 ]; then
    PATH="$(dirname "$1"):$PATH"
    shift
    exec "$@"
  fi
  echo "$1"
  exit 0
}

if command -v node >/dev/null && [ "$(major node)" -ge 24 ]; then found "$(command -v node)" "$@"; fi
os=$(node -p process.platform)
arch=$(node -p process.arch)
package="node-$os-$arch"
binary=".tools/node24/node_modules/$package/bin/node"
if [ ! -x "$binary" ] || [ "$(major "$binary")" -lt 24 ]; then
  echo "node24: installing $package@24 into .tools/node24 (the node on PATH is $(node --version))" >&2
  if ! npm install --silent --no-audit --no-fund --no-save --prefix .tools/node24 "$package@24" >&2; then
    echo "node24: no $package@24 on the npm registry: install Node 24 (e.g. with nvm or fnm) and run again" >&2
    exit 1
  fi
fi
found "$PWD/$binary" "$@"
