#!/bin/sh
# Applies the configuration: a few MB that change whenever config/ does.
set -e
dest=$1
mkdir -p "$dest"
cp /ci/config/ci.env "$dest/ci.env"
head -c 4194304 /dev/urandom > "$dest/state.bin"
