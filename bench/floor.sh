#!/usr/bin/env bash
# The coroutine floor (bench/coro_floor.cpp): instructions per round trip
# (one read, one write) of example/echo_server.cpp's and http_server.cpp's
# loops on a stream whose operations complete at once (direct, post) or are
# io_uring NOPs on a ring of the program (ring, ring_asio,
# ring_asio_opalloc: our context only), under callgrind,
# as the difference of two round counts (no setup in it).
#   bench/floor.sh            BUILD=dir (default build-release) N=rounds (10000)
#                             MODES (default "direct post ring ring_asio ring_asio_opalloc")
#                             CONNS: connections of the ring modes (default "1 64")
#                             CG_DIR: keep the callgrind files there, as
#                             SOURCE.MODE.CONTEXT.ROUNDS (for
#                             bench/cg_components.py FILE_2N N --minus FILE_N)
# Prints: source mode context instructions_per_round_trip; a ring mode with
# more than one connection is printed as MODE@CONNS.
set -euo pipefail
B=${BUILD:-build-release}
N=${N:-10000}
MODES=${MODES:-direct post ring ring_asio ring_asio_opalloc}
CONNS=${CONNS:-1 64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {  # name source mode context rounds [conns]
  local name=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$B/bench/coro_floor" "$@" >/dev/null 2>&1
  awk '/^summary:/{print $2}' "$out/cg"
  [ -z "${CG_DIR:-}" ] || cp "$out/cg" "$CG_DIR/$1.$name.$3.$4"
}
for src in echo http; do
  for mode in $MODES; do
    case $mode in ring*) conns_list=$CONNS ;; *) conns_list=1 ;; esac
    for conns in $conns_list; do
      name=$mode
      [ "$conns" = 1 ] || name=$mode@$conns
      ctxs="uring asio"
      [ "$mode" != ring_asio_opalloc ] || ctxs=uring
      for ctx in $ctxs; do
        a=$(count "$name" $src $mode $ctx "$N" "$conns")
        b=$(count "$name" $src $mode $ctx $((2 * N)) "$conns")
        echo "$src $name $ctx $(( (b - a) / N ))"
      done
    done
  done
done
