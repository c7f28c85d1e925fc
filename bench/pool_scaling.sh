#!/usr/bin/env bash
# Thread-per-core scaling of the HTTP example (issue 10): example/http_server
# with one context on one thread, and with `--threads N` (N contexts on N
# threads, an SO_REUSEPORT acceptor each: asio_uring::io_context_pool),
# under the same wrk load, runs alternating. Per column: requests/s and
# server CPU us per request (schedstat of the server's threads), medians of
# RUNS runs of SECS s.
#
# What it can show on a 2-core machine: the load generator needs a core of
# its own, so the server never has two free cores; the pool's throughput
# gain here is bounded by the CPU wrk leaves, and the useful figure is the
# per-request CPU (a pool adds no cross-thread cost if it stays flat).
#   bench/pool_scaling.sh [RUNS] [SECS]     (defaults 5 runs of 3 s)
#   BUILD=dir (default build-release) SKIP_BUILD=1  CONNS=100
#   THREADS="1 2"  the --threads values compared
#   PIN=1          server threads on CPU 0 (1 thread) / 0-1, wrk on CPU 1
#                  (default: nothing pinned, the scheduler decides)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
SECS=${2:-3}
B=${BUILD:-build-release}
CONNS=${CONNS:-100}
read -r -a THREADS <<<"${THREADS:-1 2}"
if [ -z "${SKIP_BUILD:-}" ]; then
  ASIO_URING_EXTRA_PACKAGES="wrk bc" .ci/deps
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_URING_TESTS=OFF >/dev/null
  cmake --build "$B" --target http_server >/dev/null
fi

cpu_ns() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# run_one THREADS -> "requests_per_s cpu_us_per_request"
run_one() {
  local n=$1 port=$((10000 + RANDOM % 20000)) srv_pin="" load_pin=""
  if [ -n "${PIN:-}" ]; then
    if [ "$n" -gt 1 ]; then srv_pin="taskset -c 0-1"; else srv_pin="taskset -c 0"; fi
    load_pin="taskset -c 1"
  fi
  $srv_pin "$B/example/http_server" $port --threads "$n" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.05
  done
  local c0 c1 out reqs rate
  c0=$(cpu_ns $pid)
  out=$($load_pin wrk -t"$n" -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$port/")
  c1=$(cpu_ns $pid)
  kill -TERM $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  reqs=$(awk '/requests in/{print $1}' <<<"$out")
  rate=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  echo "$rate $(echo "($c1 - $c0) / 1000 / $reqs" | bc -l)"
}

declare -A RS CS
for n in "${THREADS[@]}"; do RS[$n]=""; CS[$n]=""; done
for run in $(seq "$RUNS"); do
  echo "[pool_scaling] run $run/$RUNS, load average $(cut -d' ' -f1 /proc/loadavg)" >&2
  for n in "${THREADS[@]}"; do
    read -r r c < <(run_one "$n")
    RS[$n]+="$r "
    CS[$n]+="$c "
  done
done
base_n=${THREADS[0]}
base_r=$(printf "%s\n" ${RS[$base_n]} | median)
printf "%-10s %12s %10s %14s\n" threads "requests/s" "x ${base_n}" "CPU us/request"
for n in "${THREADS[@]}"; do
  r=$(printf "%s\n" ${RS[$n]} | median)
  c=$(printf "%s\n" ${CS[$n]} | median)
  printf "%-10s %12.0f %10.2f %14.2f\n" "$n" "$r" "$(echo "$r / $base_r" | bc -l)" "$c"
done
echo "(wrk -t<threads> -c$CONNS, $RUNS runs of $SECS s, medians; nproc $(nproc); load average at end $(cut -d' ' -f1-3 /proc/loadavg))"
