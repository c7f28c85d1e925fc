#!/usr/bin/env bash
# The coroutine floor (bench/coro_floor.cpp): instructions per round trip
# (one read, one write) of example/echo_server.cpp's and http_server.cpp's
# loops on a stream whose operations complete at once, under callgrind, as
# the difference of two round counts (no setup in it).
#   bench/floor.sh            BUILD=dir (default build-release) N=rounds (10000)
# Prints: source mode context instructions_per_round_trip
set -euo pipefail
B=${BUILD:-build-release}
N=${N:-10000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {  # source mode context rounds
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$B/bench/coro_floor" "$@" >/dev/null 2>&1
  awk '/^summary:/{print $2}' "$out/cg"
}
for src in echo http; do
  for mode in direct post; do
    for ctx in uring asio; do
      a=$(count $src $mode $ctx "$N")
      b=$(count $src $mode $ctx $((2 * N)))
      echo "$src $mode $ctx $(( (b - a) / N ))"
    done
  done
done
