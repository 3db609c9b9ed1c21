#!/bin/sh
# Stands for fetching dependency archives: they arrive compressed, so the
# cache's own layer compression gains nothing on them. bzip2 is what makes
# this step slow, as a download and unpack would be.
set -e
. /ci/lib.sh
dest=$1
mkdir -p "$dest" /tmp
archive() {
  pseudo_binary "/tmp/$1" 16777216
  bzip2 -c "/tmp/$1" > "$dest/$1.tar.bz2"
  rm "/tmp/$1"
}
in_pairs archive boost llvm-src qt protobuf grpc openssl-src icu sqlite curl python perl ruby
ls -l "$dest" > "$dest/INDEX"
