#!/usr/bin/env bash
# Registered files (IOSQE_FIXED_FILE) in isolation: the hand-written liburing
# echo server with and without `fixed`, single-threaded and with an idle
# second thread sharing the file table, in alternating runs. Server on CPU 0,
# echo_client on CPU 1; prints the server's on-CPU time per round trip (its
# threads' schedstat, user + kernel) for each run, then the medians.
#   bench/fixed_files.sh [RUNS] [SECONDS] [CONNS] [BYTES]   (5 2 64 64)
#   LOOP=path/uring_loop_server CLIENT=path/echo_client
set -euo pipefail
RUNS=${1:-5}
SECS=${2:-2}
CONNS=${3:-64}
BYTES=${4:-64}
LOOP=${LOOP:-build-release/bench/uring_loop_server}
CLIENT=${CLIENT:-build-release/bench/echo_client}

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

# run VARIANT_ARGS -> ns of server CPU per round trip
run() {
  local port=$((10000 + RANDOM % 20000))
  taskset -c 0 "$LOOP" echo $port "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.05
  done
  local b0 b1 trips
  b0=$(cpu_ns $pid)
  read -r trips _ < <(taskset -c 1 "$CLIENT" $port "$CONNS" "$BYTES" "$SECS")
  b1=$(cpu_ns $pid)
  kill -TERM $pid; wait $pid 2>/dev/null || true
  echo $(( (b1 - b0) / trips ))
}

declare -A all
variants=("plain" "fixed" "plain_thread" "fixed_thread")
for r in $(seq "$RUNS"); do
  for v in "${variants[@]}"; do
    args=()
    [[ $v == fixed* ]] && args+=(fixed)
    [[ $v == *thread ]] && args+=(thread)
    ns=$(run "${args[@]}")
    all[$v]+="$ns "
    echo "run $r $v: $ns ns/round trip" >&2
  done
done
for v in "${variants[@]}"; do
  med=$(tr ' ' '\n' <<<"${all[$v]}" | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  echo "$v median ${med} ns/round trip (runs: ${all[$v]})"
done
