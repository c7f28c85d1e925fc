#!/usr/bin/env bash
# Compile time of one translation unit that uses asio_uring, with and
# without a precompiled header of <asio_uring.hpp> + <boost/asio.hpp>:
#   - include only: #include <asio_uring.hpp> and an empty main
#   - echo server:  example/echo_server.cpp (coroutines, sockets, acceptor)
# at -O0 and -O2 (g++ -std=c++20). CPU seconds (user + system) of the
# compiler, best of RUNS: unlike wall time, that does not grow when other
# jobs share the machine.
#   bench/compile_time.sh [RUNS]       (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
CXX=${CXX:-g++}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '#include <asio_uring.hpp>\nint main() {}\n' >"$work/include_only.cpp"
printf '#include <asio_uring.hpp>\n#include <boost/asio.hpp>\n' >"$work/pch.hpp"
common=(-std=c++20 -Iinclude -Iexample -c)

best() {  # command... -> best CPU time of RUNS, seconds
  local b="" t u s
  for _ in $(seq "$RUNS"); do
    read -r u s < <({ TIMEFORMAT='%3U %3S'; time "$@" >/dev/null 2>&1; } 2>&1)
    t=$(echo "$u + $s" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
  done
  printf "%.2f" "$b"
}

printf "%-14s %-4s %10s %10s %14s\n" "unit" opt "plain s" "with pch s" "pch build s"
for opt in -O0 -O2; do
  mkdir -p "$work/pch$opt"
  cp "$work/pch.hpp" "$work/pch$opt/pch.hpp"
  # The .gch must be built with the flags of the units that use it.
  pch_build=$(best "$CXX" "${common[@]:0:3}" $opt -x c++-header "$work/pch$opt/pch.hpp" -o "$work/pch$opt/pch.hpp.gch")
  for unit in include_only echo_server; do
    src=$work/include_only.cpp
    [ $unit = echo_server ] && src=example/echo_server.cpp
    plain=$(best "$CXX" "${common[@]}" $opt "$src" -o "$work/u.o")
    with=$(best "$CXX" "${common[@]}" $opt -Winvalid-pch -include "$work/pch$opt/pch.hpp" "$src" -o "$work/u.o")
    printf "%-14s %-4s %10s %10s %14s\n" $unit $opt "$plain" "$with" "$pch_build"
  done
done
