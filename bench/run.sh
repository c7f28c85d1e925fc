#!/usr/bin/env bash
# README's demonstration: build in release mode and print every benchmark
# table: the context (handlers per second and instructions per handler,
# asio_uring vs boost::asio::io_context), then the network servers (echo and
# HTTP: asio_uring vs Asio epoll vs Asio's io_uring backend vs a hand-written
# liburing loop), then system calls, allocations and instructions per request.
#   bench/run.sh [runs]        default 5 runs per context row, medians printed
set -euo pipefail
cd "$(dirname "$0")/.."
ASIO_URING_EXTRA_PACKAGES="valgrind bc wrk strace" .ci/deps
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_URING_TESTS=OFF >/dev/null
cmake --build build-release
bin=build-release/bench/bench_context
echo "== handlers per second (median of ${1:-5} runs) =="
"$bin" "${1:-5}"
echo
echo "== instructions per handler (callgrind, difference of two run lengths) =="
printf "%-14s %12s %12s %10s\n" row "asio Ir" "uring Ir" "asio/uring"
instr() {  # row impl iterations -> total instructions
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
# post_foreign is left out: valgrind runs one thread at a time and keeps its
# lock while a thread waits in io_uring_enter, so the posting thread never
# runs (the process hangs).
for row in post_inside coro_post coro_call timer_churn; do
  declare -A per
  for impl in asio uring; do
    a=$(instr $row $impl 20000)
    b=$(instr $row $impl 120000)
    per[$impl]=$(( (b - a) / 100000 ))
  done
  printf "%-14s %12s %12s %7.2fx\n" $row "${per[asio]}" "${per[uring]}" \
    "$(echo "${per[asio]} / ${per[uring]}" | bc -l)"
done

echo
echo "== network servers (bench/net.sh: median of 3 runs of 2 s per cell) =="
SKIP_BUILD=1 bench/net.sh 3 2
echo
echo "== per request in steady state (bench/extras.sh) =="
bench/extras.sh
