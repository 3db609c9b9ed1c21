#!/bin/sh
# Stages the C/C++ toolchain into $1, as `make install DESTDIR=$1` would:
# compilers, binutils and their libraries, without LLVM or Perl.
set -e
out=$1
mkdir -p "$out/usr/bin" "$out/usr/lib" "$out/usr/include"
# Both patterns match the x86_64-linux-gnu-*-12 names: copy each tool once.
for tool in /usr/bin/x86_64-linux-gnu-* /usr/bin/*-12; do
  [ -e "$out$tool" ] || [ -L "$out$tool" ] || cp -a "$tool" "$out/usr/bin/"
done
cp -a /usr/lib/gcc /usr/lib/x86_64-linux-gnu "$out/usr/lib/"
cp -a /usr/include/c++ "$out/usr/include/"
rm -f "$out"/usr/lib/x86_64-linux-gnu/libLLVM* "$out"/usr/lib/x86_64-linux-gnu/libz3* "$out"/usr/lib/x86_64-linux-gnu/libicu*
