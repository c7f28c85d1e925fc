#!/usr/bin/env bash
# The full benchmark matrix (bench/demo.sh is the one-minute version): build
# in release mode and print every table: the context (handlers per second
# and instructions per handler, asio_uring vs boost::asio::io_context), then
# the network servers (echo and HTTP: asio_uring vs Asio epoll vs Asio's
# io_uring backend vs a hand-written liburing loop), then system calls,
# allocations and instructions per request. Progress (part, cell, cells
# left, elapsed time) goes to stderr; the tables and their charts (PNG) go
# to results/run-<date>/.
#   bench/run.sh [runs]        default 5 runs per context row, medians printed
#   JOBS=n                     parallel compile jobs (default: the build tool's)
set -euo pipefail
cd "$(dirname "$0")/.."
ASIO_URING_EXTRA_PACKAGES="valgrind bc wrk strace gnuplot-nox" .ci/deps
started=$(date +%s)
progress() { echo "[run.sh] $* ($(( $(date +%s) - started )) s elapsed)" >&2; }
progress "building (release)"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_URING_TESTS=OFF >/dev/null
cmake --build build-release ${JOBS:+-j"$JOBS"} >/dev/null
RESULTS=results/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"
when="$(date '+%Y-%m-%d'), $(uname -r), $(nproc) CPUs"
bin=build-release/bench/bench_context

progress "part 1/4: handlers per second"
echo "== handlers per second (median of ${1:-5} runs) =="
"$bin" "${1:-5}" | tee "$RESULTS/context.txt"
# row what... asio uring ratio -> "row asio uring"
awk 'NR==1{print "row boost::asio asio_uring"; next} {print $1, $(NF-2), $(NF-1)}' \
  "$RESULTS/context.txt" >"$RESULTS/context.dat"
LOGY=1 bench/chart.sh "$RESULTS/context.dat" "$RESULTS/context.png" \
  "bench_context: million handlers per second, median of ${1:-5} ($when)" "M handlers/s"

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
rows="post_inside coro_post coro_call timer_churn"
echo "row boost::asio asio_uring" >"$RESULTS/instructions.dat"
i=0
for row in $rows; do
  i=$((i + 1))
  progress "part 2/4: instructions per handler, row $i/4 ($row)"
  declare -A per
  for impl in asio uring; do
    a=$(instr $row $impl 20000)
    b=$(instr $row $impl 120000)
    per[$impl]=$(( (b - a) / 100000 ))
  done
  printf "%-14s %12s %12s %7.2fx\n" $row "${per[asio]}" "${per[uring]}" \
    "$(echo "${per[asio]} / ${per[uring]}" | bc -l)"
  echo "$row ${per[asio]} ${per[uring]}" >>"$RESULTS/instructions.dat"
done
bench/chart.sh "$RESULTS/instructions.dat" "$RESULTS/instructions.png" \
  "bench_context under callgrind: instructions per handler ($when)" "instructions"

echo
echo "== network servers (bench/net.sh: median of 3 runs of 2 s per cell) =="
progress "part 3/4: network servers (9 cells x 3 runs x 4 servers x 2 s)"
SKIP_BUILD=1 RESULTS=$RESULTS bench/net.sh 3 2
echo
echo "== per request in steady state (bench/extras.sh) =="
progress "part 4/4: per request counts"
bench/extras.sh | tee "$RESULTS/extras.txt"
progress "done: tables and charts in $RESULTS/"
ls "$RESULTS"/*.png
