#!/bin/sh
# Stands for the image's own test suites: CPU-bound checks of every toolchain
# file and dependency archive whose only output is a short report, so they
# cost build time without adding layer size.
set -e
. /ci/lib.sh
toolchain=$1
deps=$2
check() { echo "$(sha256sum | cut -c1-16) $1"; }
unit() { bzip2 -c "$1" | bunzip2 -c | check "$1"; }
integration() { gzip -c "$1" | gunzip -c | check "$1"; }
unpack() { bunzip2 -c "$1" | check "$1"; }
in_pairs unit "$toolchain"/bin/* "$toolchain"/lib/*
in_pairs integration "$toolchain"/bin/* "$toolchain"/lib/*
in_pairs unpack "$deps"/*.tar.bz2
