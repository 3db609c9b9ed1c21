#!/bin/sh
# Applies the configuration: a small layer that changes whenever config/ does.
set -e
dest=$1
mkdir -p "$dest"
cp /ci/config/ci.env "$dest/ci.env"
find / -xdev -type f 2>/dev/null | sort > "$dest/installed-files"
