# Shared helpers for the build scripts (sourced, busybox sh).

# Writes $2 bytes of hex text: as compressible as typical executables (about
# 2:1 with gzip), and slow enough to generate to stand for real work.
pseudo_binary() {
  head -c "$(($2 / 3))" /dev/urandom | od -An -tx1 -v > "$1"
}

# Runs the given command once per argument after it, two at a time, the way a
# build uses `make -j$(nproc)` on a two-core runner.
in_pairs() {
  cmd=$1
  shift
  while [ $# -gt 0 ]; do
    $cmd "$1" &
    if [ $# -gt 1 ]; then $cmd "$2" & fi
    wait
    shift
    [ $# -gt 0 ] && shift
  done
  return 0
}
