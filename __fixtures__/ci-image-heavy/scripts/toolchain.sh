#!/bin/sh
# Stands for installing a compiler toolchain: about 130 MB of binaries.
set -e
. /ci/lib.sh
dest=$1
mkdir -p "$dest/bin" "$dest/lib"
tool() { pseudo_binary "$dest/bin/$1" 16777216; }
lib() { pseudo_binary "$dest/lib/$1.so" 4194304; }
in_pairs tool cc c++ ld as ar nm
in_pairs lib libc libm libstdc++ libgcc libz libssl libcrypto libffi
sha256sum "$dest"/bin/* "$dest"/lib/* > "$dest/MANIFEST"
