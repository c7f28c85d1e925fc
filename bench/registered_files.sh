#!/usr/bin/env bash
# Registered files in the library (io_context_options::registered_files),
# off and on in alternating runs (doc/design.md, "Registered files"):
#   pingpong  bench/pingpong: two coroutines on one io_context(1) over
#             loopback, 64-byte round trips; its process CPU time (user +
#             kernel) per round trip. No tracer, no second process: the
#             library path alone, pinned to CPU 0.
#   echo      example/echo_server on CPU 0, bench/echo_client CONNS x 64 B on
#             CPU 1 for SECONDS: the server's on-CPU time (schedstat of its
#             threads) per round trip.
#   instr     user-space instructions per pingpong round trip under
#             callgrind (the difference of two round counts).
# Prints each run to stderr, then per variant the median and the minimum.
#   bench/registered_files.sh [RUNS] [ROUNDS] [SECONDS]   (9 200000 2)
#   BUILD=dir (build-release)  PARTS="pingpong echo instr"  CONNS="64 512"
#   BASE="-multishot_recv"  other ASIO_URING_FEATURES for both variants
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-9}
ROUNDS=${2:-200000}
SECS=${3:-2}
B=${BUILD:-build-release}
PARTS=${PARTS:-pingpong echo instr}
read -r -a CONNS <<<"${CONNS:-64 512}"
variants=(-registered_files +registered_files)
feat() { echo "${BASE:+$BASE,}$1"; }

stats() {  # label values... -> "label median M min m (runs: ...)"
  local label=$1; shift
  local sorted
  sorted=$(printf '%s\n' "$@" | sort -n)
  local n=$#
  local med min
  med=$(sed -n "$(( (n + 1) / 2 ))p" <<<"$sorted")
  min=$(head -1 <<<"$sorted")
  echo "$label median $med min $min (runs: $*)"
}

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

# alternate LABEL FN ARGS...: RUNS runs of `FN VARIANT RUN ARGS...` for
# each variant in turn (FN prints its number on stdout, its line on stderr),
# then per variant the stats of "LABEL" with @V@ the variant.
alternate() {
  local label=$1 fn=$2; shift 2
  local -A vals=()
  for r in $(seq "$RUNS"); do
    for v in "${variants[@]}"; do
      vals[$v]+="$("$fn" "$v" "$r" "$@") "
    done
  done
  for v in "${variants[@]}"; do
    # shellcheck disable=SC2086
    stats "${label//@V@/$v}" ${vals[$v]}
  done
}

pingpong_run() {  # variant run
  local ns
  ns=$(ASIO_URING_FEATURES=$(feat "$1") taskset -c 0 "$B/bench/pingpong" "$ROUNDS" | awk '{print $3}')
  echo "pingpong run $2 $1: $ns ns/round trip" >&2
  echo "$ns"
}

echo_run() {  # variant run conns
  local port pid b0 b1 trips ns
  port=$((10000 + RANDOM % 20000))
  ASIO_URING_FEATURES=$(feat "$1") taskset -c 0 "$B/example/echo_server" $port >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.05
  done
  b0=$(cpu_ns $pid)
  read -r trips _ < <(taskset -c 1 "$B/bench/echo_client" $port "$3" 64 "$SECS")
  b1=$(cpu_ns $pid)
  kill -TERM $pid
  wait $pid 2>/dev/null || true
  ns=$(( (b1 - b0) / trips ))
  echo "echo c=$3 run $2 $1: $ns ns/round trip ($trips round trips)" >&2
  echo "$ns"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ " $PARTS " == *" pingpong "* ]]; then
  alternate "pingpong @V@ ns/round trip:" pingpong_run
fi

if [[ " $PARTS " == *" echo "* ]]; then
  for conns in "${CONNS[@]}"; do
    alternate "echo c=$conns @V@ server ns/round trip:" echo_run "$conns"
  done
fi

if [[ " $PARTS " == *" instr "* ]]; then
  tmp=$(mktemp -d)
  for v in "${variants[@]}"; do
    tot=()
    for n in 2000 12000; do
      ASIO_URING_FEATURES=$(feat "$v") valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$n" \
        "$B/bench/pingpong" $n >/dev/null 2>"$tmp/err.$n"
      tot+=("$(awk '/^summary:/{print $2}' "$tmp/cg.$n")")
    done
    echo "instr $v: $(( (tot[1] - tot[0]) / 10000 )) instructions/round trip (user space)"
  done
  rm -rf "$tmp"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
