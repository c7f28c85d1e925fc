#!/usr/bin/env bash
# Network benchmark: the same coroutine echo and HTTP servers (example/)
# built for asio_uring, boost::asio epoll, Asio's io_uring backend, a
# hand-written liburing loop (the ceiling), and asio_uring again on its
# emulated engine (ASIO_URING_ENGINE=emulated: what runs where the kernel
# refuses io_uring). Server pinned to CPU 0, load
# generator to CPU 1. For each cell: throughput, server CPU time per request
# (the server's on-CPU time from /proc/PID/task/*/schedstat), each the
# median of RUNS runs, and the ratio of asio_uring to each competitor.
#   bench/net.sh [RUNS] [SECONDS]          (defaults 3 runs of 2 s)
#   BUILD=dir    use an existing release build
#   ONLY=echo|http   just those cells
#   RESULTS=dir  where the tables (.dat) and charts (.png) go
#                (default results/net-<date>)
# Progress (cell, cells left, elapsed time) goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SECS=${2:-2}
BUILD=${BUILD:-build-release}
if [ -z "${SKIP_BUILD:-}" ]; then
  ASIO_URING_EXTRA_PACKAGES="wrk valgrind strace bc" .ci/deps
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_URING_TESTS=OFF >/dev/null
  cmake --build "$BUILD" >/dev/null
fi
B=$BUILD

declare -A SERVER
SERVER[asio_uring,echo]="$B/example/echo_server"
SERVER[asio_epoll,echo]="$B/bench/echo_server_asio"
SERVER[asio_iouring,echo]="$B/bench/echo_server_asio_uring_backend"
SERVER[uring_loop,echo]="$B/bench/uring_loop_server echo"
SERVER[asio_uring,http]="$B/example/http_server"
SERVER[asio_epoll,http]="$B/bench/http_server_asio"
SERVER[asio_iouring,http]="$B/bench/http_server_asio_uring_backend"
SERVER[uring_loop,http]="$B/bench/uring_loop_server http"
SERVER[emulated,echo]="env ASIO_URING_ENGINE=emulated $B/example/echo_server"
SERVER[emulated,http]="env ASIO_URING_ENGINE=emulated $B/example/http_server"
IMPLS="asio_uring asio_epoll asio_iouring uring_loop emulated"

# On-CPU time of the server's threads (ns; includes the kernel's network
# work done while they run). Not CPU 0's busy time from /proc/stat: on a
# shared machine that counts other jobs' time too.
cpu_ns() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

# run_cell KIND IMPL CONNS SIZE -> "requests_per_s cpu_us_per_request"
run_cell() {
  local kind=$1 impl=$2 conns=$3 size=$4
  # A fresh port each run (this runs in a subshell: a counter would not stick).
  PORT=$((10000 + RANDOM % 20000))
  taskset -c 0 ${SERVER[$impl,$kind]} $PORT >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
    sleep 0.05
  done
  local b0 b1 reqs rate
  b0=$(cpu_ns $pid)
  if [ "$kind" = echo ]; then
    read -r reqs _ rate < <(taskset -c 1 "$B/bench/echo_client" $PORT "$conns" "$size" "$SECS")
  else
    local out
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${SECS}s" "http://127.0.0.1:$PORT/")
    reqs=$(awk '/requests in/{print $1}' <<<"$out")
    rate=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  fi
  b1=$(cpu_ns $pid)
  kill -TERM $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  echo "$rate $(echo "($b1 - $b0) / 1000 / $reqs" | bc -l)"
}

median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

cells=("echo 1 64" "echo 64 64" "echo 512 64" "echo 1 4096" "echo 64 4096" "echo 512 4096"
       "http 10 0" "http 100 0" "http 1000 0")

printf "%-16s" "cell"
for impl in $IMPLS; do printf "%14s" "$impl"; done
printf "%12s%12s%12s   |" "vs epoll" "vs iouring" "vs loop"
for impl in $IMPLS; do printf "%12s" "$impl"; done
printf "%10s%10s%11s\n" "vs epoll" "vs loop" "emu/epoll"
printf "%-16s%70s%36s   |%60s%31s\n" "" "(requests/s, median)" "(throughput ratio)" "(server CPU us/request)" "(CPU ratio)"

todo=()
for cell in "${cells[@]}"; do
  set -- $cell
  [ -n "${ONLY:-}" ] && [ "$1" != "$ONLY" ] && continue
  todo+=("$cell")
done
RESULTS=${RESULTS:-results/net-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
echo "cell $IMPLS" >"$RESULTS/net_rate.dat"
echo "cell $IMPLS" >"$RESULTS/net_cpu.dat"
started=$(date +%s)
i=0
for cell in "${todo[@]}"; do
  set -- $cell
  kind=$1 conns=$2 size=$3
  i=$((i + 1))
  label="$kind c=$conns"
  [ "$kind" = echo ] && label="$label ${size}B"
  # Runs alternate between implementations, so drift of this shared
  # machine's speed during a cell hits every column alike.
  declare -A RATE CPU RS CS
  for impl in $IMPLS; do RS[$impl]=""; CS[$impl]=""; done
  for run in $(seq "$RUNS"); do
    printf "[net cell %d/%d, %d left] %s, run %d/%d, %d s elapsed\n" $i ${#todo[@]} $(( ${#todo[@]} - i )) \
      "$label" "$run" "$RUNS" $(( $(date +%s) - started )) >&2
    for impl in $IMPLS; do
      read -r r c < <(run_cell "$kind" "$impl" "$conns" "$size")
      RS[$impl]+="$r "
      CS[$impl]+="$c "
    done
  done
  for impl in $IMPLS; do
    RATE[$impl]=$(printf "%s\n" ${RS[$impl]} | median)
    CPU[$impl]=$(printf "%s\n" ${CS[$impl]} | median)
  done
  printf "%-16s" "$label"
  for impl in $IMPLS; do printf "%14.0f" "${RATE[$impl]}"; done
  printf "%11.2fx%11.2fx%11.2fx   |" \
    "$(echo "${RATE[asio_uring]} / ${RATE[asio_epoll]}" | bc -l)" \
    "$(echo "${RATE[asio_uring]} / ${RATE[asio_iouring]}" | bc -l)" \
    "$(echo "${RATE[asio_uring]} / ${RATE[uring_loop]}" | bc -l)"
  for impl in $IMPLS; do printf "%12.2f" "${CPU[$impl]}"; done
  printf "%9.2fx%9.2fx%10.2fx\n" \
    "$(echo "${CPU[asio_uring]} / ${CPU[asio_epoll]}" | bc -l)" \
    "$(echo "${CPU[asio_uring]} / ${CPU[uring_loop]}" | bc -l)" \
    "$(echo "${CPU[emulated]} / ${CPU[asio_epoll]}" | bc -l)"
  { printf '"%s"' "$label"; for impl in $IMPLS; do printf " %s" "${RATE[$impl]}"; done; echo; } >>"$RESULTS/net_rate.dat"
  { printf '"%s"' "$label"; for impl in $IMPLS; do printf " %s" "${CPU[$impl]}"; done; echo; } >>"$RESULTS/net_cpu.dat"
done
when="$(date '+%Y-%m-%d'), $(uname -r), $(nproc) CPUs, server on CPU 0, load on CPU 1"
bench/chart.sh "$RESULTS/net_rate.dat" "$RESULTS/net_rate.png" \
  "bench/net.sh $RUNS $SECS: requests (round trips) per second, median of $RUNS ($when)" "per second"
bench/chart.sh "$RESULTS/net_cpu.dat" "$RESULTS/net_cpu.png" \
  "bench/net.sh $RUNS $SECS: server CPU per request ($when)" "CPU µs per request"
echo "charts: $RESULTS/net_rate.png $RESULTS/net_cpu.png ($(( $(date +%s) - started )) s)"
