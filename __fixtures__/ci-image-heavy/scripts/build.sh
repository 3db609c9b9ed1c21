#!/bin/sh
# Stands for building the project's own tools with the toolchain: CPU-bound
# work (compressing every toolchain file) whose output is already compressed.
set -e
. /ci/lib.sh
toolchain=$1
dest=$2
mkdir -p "$dest"
pack() { gzip -c "$1" > "$dest/$(basename "$1").gz"; }
in_pairs pack "$toolchain"/bin/* "$toolchain"/lib/*
sha256sum "$dest"/*.gz > "$dest/SHA256SUMS"
