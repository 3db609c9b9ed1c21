#!/bin/sh
# Stands for a slow toolchain install: its output must come back from the cache.
set -e
mkdir -p /opt/toolchain
head -c 1048576 /dev/urandom > /opt/toolchain/blob
date > /opt/toolchain/installed-at
