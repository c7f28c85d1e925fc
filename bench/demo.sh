#!/usr/bin/env bash
# The one-minute demonstration: the same HTTP server source
# (example/http_server.cpp) on boost::asio::io_context (epoll) and on
# asio_uring::io_context, under wrk. Runs alternate between the servers; the
# server is pinned to CPU 0 and wrk to CPU 1. Prints requests per second,
# server CPU time per request and system calls per request with their
# ratios, and writes the same figures as a table and a PNG chart to
# results/demo-<date>.{txt,png}.
#   bench/demo.sh [RUNS] [SECONDS]    (defaults: 3 runs of 4 s per server)
#   BUILD=dir     build directory (default build-release)
#   SKIP_BUILD=1  use the binaries already in BUILD
#   CONNS=n       wrk connections (default 100)
#   JOBS=n        parallel compile jobs (default: the build tool's)
#   STRACE=1      count system calls with strace -c instead of perf
#   bench/demo.sh --plot results/demo-<date>.dat   redraws a chart
#   BEAST=        (empty) leave out Beast's own http_server_async; by
#                 default it is built ported by tools/port.sh (test/port)
#                 and unported on boost::asio (bench target
#                 beast_http_server_asio), and both are measured (about a
#                 minute more of build)
# Whenever the ported server exists (BUILD/test/port/port_http_server_async,
# or BEAST_SERVER=path) its rows are included; otherwise a note says so.
set -euo pipefail
cd "$(dirname "$0")/.."
BEAST=${BEAST-1}
# chart TABLE.dat PNG: the three panels of the demonstration's figures.
chart() {
  gnuplot <<EOF
set terminal pngcairo size 1200,460 font ",10" noenhanced
set output "$2"
set multiplot layout 1,3 title "HTTP hello, wrk -c${CONNS:-100}, $(date -r "$1" '+%Y-%m-%d'), $(uname -r), server on CPU 0, wrk on CPU 1 (bench/demo.sh)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.8
set key off
set grid ytics
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set xtics font ",8" rotate by -25
set title "requests per second (higher is better)"
plot "$1" using 2:xtic(1) lc rgb "#3a7bd5", "" using 0:2:(sprintf("%.0f", \$2)) with labels offset 0,0.8
set title "server CPU µs per request (lower is better)"
plot "$1" using 3:xtic(1) lc rgb "#e07b39", "" using 0:3:(sprintf("%.2f", \$3)) with labels offset 0,0.8
set title "system calls per request (lower is better)"
plot "$1" using 4:xtic(1) lc rgb "#5b9e47", "" using 0:4:(sprintf("%.3f", \$4)) with labels offset 0,0.8
unset multiplot
EOF
}
# bench/demo.sh --plot results/demo-<date>.dat: draws that table's chart again.
if [ "${1:-}" = --plot ]; then chart "$2" "${2%.dat}.png"; echo "chart: ${2%.dat}.png"; exit; fi
RUNS=${1:-3}
SECS=${2:-4}
B=${BUILD:-build-release}
CONNS=${CONNS:-100}
beast_ported=${BEAST_SERVER:-$B/test/port/port_http_server_async}

if [ -z "${SKIP_BUILD:-}" ]; then
  # apt only when a tool is missing (an apt-get update alone can take a minute).
  missing=""
  for tool in g++ cmake ninja wrk gnuplot perf bc python3 taskset; do
    command -v $tool >/dev/null || missing+=" $tool"
  done
  dpkg -s liburing-dev libboost1.81-all-dev ${BEAST:+libboost1.81-doc} >/dev/null 2>&1 || missing+=" libraries"
  [ -z "$missing" ] || ASIO_URING_EXTRA_PACKAGES="wrk gnuplot-nox linux-perf bc" .ci/deps
  t0=$(date +%s)
  if [ -n "${BEAST:-}" ]; then
    # The port's targets exist only with the tests configured; only the two
    # Beast servers are built.
    cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_URING_TESTS=ON \
      -DASIO_URING_PORT_TESTS=ON >/dev/null
    cmake --build "$B" ${JOBS:+-j"$JOBS"} --target port_http_server_async >/dev/null 2>&1 \
      || echo "note: Beast's ported http_server_async does not build on this tree; its rows are left out"
  else
    cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_URING_TESTS=OFF >/dev/null
  fi
  targets="http_server http_server_asio"
  [ -x "$beast_ported" ] && targets+=" beast_http_server_asio"
  cmake --build "$B" ${JOBS:+-j"$JOBS"} --target $targets >/dev/null
  echo "build: $(( $(date +%s) - t0 )) s (targets: $targets)"
fi

# name|label|command (PORT is appended; Beast's server takes its own arguments)
servers=("asio_uring|asio_uring::io_context|$B/example/http_server"
         "asio|boost::asio::io_context (epoll)|$B/bench/http_server_asio")
docroot=$(mktemp -d)
trap 'rm -rf "$docroot"; kill $(jobs -p) 2>/dev/null || true' EXIT
if [ -x "$beast_ported" ] && [ -x "$B/bench/beast_http_server_asio" ]; then
  printf 'Hello, World!' >"$docroot/index.html"
  servers+=("beast_uring|Beast http_server_async on asio_uring|$beast_ported 127.0.0.1 @PORT@ $docroot 1"
            "beast_asio|Beast http_server_async on boost::asio|$B/bench/beast_http_server_asio 127.0.0.1 @PORT@ $docroot 1")
else
  echo "note: no ported Beast server at $beast_ported (bench/demo.sh without BEAST= builds it and adds its rows)"
fi

# System calls are counted by the kernel's raw_syscalls:sys_enter tracepoint
# (perf stat), which does not stop the server at each call; strace -c is the
# fallback where perf cannot open it (it slows every call down, which lets a
# ring batch more: its counts favour asio_uring).
if [ -z "${STRACE:-}" ] && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null true 2>/dev/null; then
  counter=perf
else counter=strace; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "server on port $1 did not start" >&2
  return 1
}
cpu_ns() {  # on-CPU time of every thread of a process (ns, /proc/PID/task/*/schedstat)
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}
start_server() {  # command-with-@PORT@ port: starts it pinned to CPU 0, sets $pid
  local cmd=$1 port=$2
  if [[ $cmd == *@PORT@* ]]; then cmd=${cmd//@PORT@/$port}; else cmd="$cmd $port"; fi
  taskset -c 0 $cmd >/dev/null 2>&1 &
  pid=$!
}
stop_server() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
load() {  # port seconds -> requests served
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$2"s "http://127.0.0.1:$1/" | awk '/requests in/{print $1}'
}

# measure COMMAND -> "requests/s cpu_us_per_request"
measure() {
  local port pid c0 c1 n
  port=$(free_port)
  start_server "$1" "$port"
  wait_port "$port"
  c0=$(cpu_ns "$pid")
  n=$(load "$port" "$SECS")
  c1=$(cpu_ns "$pid")
  stop_server "$pid"
  echo "$(echo "$n / $SECS" | bc -l) $(echo "($c1 - $c0) / 1000 / $n" | bc -l)"
}

# syscalls COMMAND -> system calls per request over one 2 s run
syscalls() {
  local port pid tracer out n total cmd=$1
  port=$(free_port)
  out=$(mktemp)
  if [ $counter = perf ]; then
    start_server "$cmd" "$port"
    wait_port "$port"
    perf stat -e raw_syscalls:sys_enter -x, -o "$out" -p "$pid" &
    tracer=$!
    sleep 0.5
  else
    # Started under strace (attaching to a running process may be refused):
    # the count includes start-up, a few hundred calls.
    start_server "strace -f -c -o $out $cmd" "$port"
    wait_port "$port"
  fi
  n=$(load "$port" 2)
  if [ $counter = perf ]; then
    kill -INT $tracer; wait $tracer 2>/dev/null || true
    stop_server "$pid"
    total=$(awk -F, '/raw_syscalls/{print $1}' "$out")
  else
    kill -TERM "$(pgrep -P "$pid" | head -1)" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    total=$(awk '/total/{print $4}' "$out")
  fi
  rm -f "$out"
  echo "$total / $n" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

start=$(date +%s)
declare -A RS CS RATE CPU SYS
for s in "${servers[@]}"; do RS[${s%%|*}]=""; CS[${s%%|*}]=""; done
for r in $(seq "$RUNS"); do
  for s in "${servers[@]}"; do
    name=${s%%|*}
    echo "run $r/$RUNS: ${name} ($(( $(date +%s) - start )) s)" >&2
    read -r rate cpu < <(measure "${s##*|}")
    RS[$name]+="$rate "
    CS[$name]+="$cpu "
  done
done
for s in "${servers[@]}"; do
  name=${s%%|*}
  echo "system calls: ${name} ($counter)" >&2
  RATE[$name]=$(printf "%s\n" ${RS[$name]} | median)
  CPU[$name]=$(printf "%s\n" ${CS[$name]} | median)
  SYS[$name]=$(syscalls "${s##*|}")
done

mkdir -p results
stamp=$(date +%Y%m%d-%H%M%S)
txt=results/demo-$stamp.txt
dat=results/demo-$stamp.dat
{
  echo "bench/demo.sh $RUNS $SECS, $(date '+%Y-%m-%d %H:%M'), $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo))"
  echo "wrk -t1 -c$CONNS on CPU 1, server on CPU 0; medians of $RUNS alternating runs of $SECS s"
  echo "server CPU: /proc/PID/task/*/schedstat; system calls: $counter over one 2 s run"
  echo
  printf "%-40s %12s %14s %14s\n" server requests/s "CPU us/req" "syscalls/req"
  for s in "${servers[@]}"; do
    name=${s%%|*}; label=${s#*|}; label=${label%%|*}
    printf "%-40s %12.0f %14.2f %14.3f\n" "$label" "${RATE[$name]}" "${CPU[$name]}" "${SYS[$name]}"
  done
  ratio() { echo "$1 / $2" | bc -l; }
  for pair in "asio_uring asio" "beast_uring beast_asio"; do
    set -- $pair
    [ -n "${RATE[$1]:-}" ] || continue
    printf "%-40s %11.2fx %13.2fx %13.3fx\n" "ratio $1 / $2" "$(ratio "${RATE[$1]}" "${RATE[$2]}")" \
      "$(ratio "${CPU[$1]}" "${CPU[$2]}")" "$(ratio "${SYS[$1]}" "${SYS[$2]}")"
  done
} | tee "$txt"
for s in "${servers[@]}"; do
  name=${s%%|*}; label=${s#*|}; label=${label%%|*}
  case $name in
    asio_uring) label=asio_uring ;; asio) label="boost::asio" ;;
    beast_uring) label="Beast on asio_uring" ;; beast_asio) label="Beast on boost::asio" ;;
  esac
  printf '"%s" %s %s %s\n' "$label" "${RATE[$name]}" "${CPU[$name]}" "${SYS[$name]}"
done >"$dat"

if command -v gnuplot >/dev/null; then
  chart "$dat" "results/demo-$stamp.png"
  echo "chart: results/demo-$stamp.png, table: $txt ($(( $(date +%s) - start )) s)"
else
  echo "table: $txt (install gnuplot-nox for the chart)"
fi
