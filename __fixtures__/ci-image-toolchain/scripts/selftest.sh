#!/bin/sh
# The toolchain checks itself, as CI images do before they are used: compile
# and run a C and a C++ program, and run Perl with a core module.
set -e
mkdir -p /tmp
work=$(mktemp -d)
cd "$work"
cat > hello.c <<'C'
#include <stdio.h>
int main(void) { puts("gcc: ok"); return 0; }
C
cat > hello.cc <<'CXX'
#include <iostream>
#include <map>
#include <string>
int main() {
  std::map<std::string, int> checks{{"g++: ok", 1}};
  for (const auto &check : checks) std::cout << check.first << "\n";
}
CXX
x86_64-linux-gnu-gcc-12 -O2 -o hello-c hello.c && ./hello-c
x86_64-linux-gnu-g++-12 -O2 -o hello-cc hello.cc && ./hello-cc
perl -MFile::Find -e 'find(sub { $n++ if -f }, "/usr/share/perl"); print "perl: ok, $n modules\n"'
cd / && rm -rf "$work"
