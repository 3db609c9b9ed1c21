#!/usr/bin/env bash
# Runs the action's main and post steps locally, as a runner would, twice:
# a cold build on master that saves the cache, then a fresh runner (empty
# engine) that restores it and finds every step cached. Brings up everything it
# needs on a bare Debian machine: dependencies, the engine, a local cache service.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/main/index.js ] || npm run -s build
# Beside the engine, in its network namespace, as a runner's steps are.
exec bash scripts/in-engine.sh node scripts/local-build.ts "$@"
