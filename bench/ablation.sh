#!/usr/bin/env bash
# The fast path ablation (issue 10; doc/benchmarks.md, "Fast path
# ablation"): the example echo and HTTP servers on asio_uring with every
# fast-path feature on, with each feature off in turn (all others on), and
# with all of them off (ASIO_URING_FEATURES, see io_context_options.hpp),
# next to the same source on boost::asio (epoll) and on Asio's own io_uring
# backend, and the hand-written liburing loop. Server pinned to CPU 0, load
# to CPU 1, runs alternating between the columns. Per cell:
#   - server CPU µs per request (schedstat of the server's threads) and
#     requests/s, medians of RUNS runs of SECS s;
#   - system calls per request (perf's raw_syscalls:sys_enter on the
#     server's threads over one run);
#   - heap allocations per request (bench/alloc_count.c, the difference of
#     two runs of different lengths);
#   - user-space instructions per request (callgrind, bench/instr.sh) in
#     the INSTR_CELLS;
# and the resident memory (VmRSS, Pss) of IDLE_CONNS idle connections with
# a read pending (bench/idle_server.cpp), KiB per connection over the same
# server with no connection.
#   bench/ablation.sh              the full run (5 runs of 3 s per cell; about
#                                  half an hour: on a quiet machine only)
#   QUICK=1 bench/ablation.sh      a smoke of the script: 1 run of 1 s per
#                                  cell, short counting runs (about six minutes;
#                                  its numbers are not measurements)
#   RUNS=n SECS=s                  override either mode's runs and seconds
#   BUILD=dir (default build-release)  SKIP_BUILD=1  JOBS=n
#   CONFIGS="all_on -multishot_recv all_off"  our rows (default: all_on,
#                                  +batch_wait (all_on plus the opt-in batch wait),
#                                  -FEATURE for each feature, all_off;
#                                  "default" is the library's defaults)
#   REFS="asio_epoll asio_iouring uring_loop callbacks asio_epoll_callbacks"
#                                  the reference rows (callbacks: bench/echo_server_cb.cpp,
#                                  the echo protocol without coroutines, all features on;
#                                  asio_epoll_callbacks: the same on boost::asio; echo cells only)
#   CELLS="http:100 echo:64 echo:512 echo:10000"  kind:connections (echo:
#                                  64-byte messages)
#   INSTR_CELLS="http:100 echo:64" the cells measured under callgrind
#   PARTS="cpu syscalls alloc instr memory"    which parts to run
#   IDLE_CONNS=10000               connections of the memory part
#   RESULTS=dir                    default results/ablation-<date>
# Progress (part, cell, run, column, elapsed time) goes to stderr; the
# tables go to stdout and RESULTS/ablation.txt, with .dat tables and PNG
# charts beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
# QUICK counts system calls during the CPU runs (perf attached: their CPU
# figures include perf's cost) instead of in runs of their own.
if [ -n "${QUICK:-}" ]; then
  RUNS=${RUNS:-1} SECS=${SECS:-1}
  ECHO_N=${ECHO_N:-2000} ALLOC_X=3 HTTP_S="1 2" INSTR_N=${INSTR_N:-5000}
else
  RUNS=${RUNS:-5} SECS=${SECS:-3}
  ECHO_N=${ECHO_N:-20000} ALLOC_X=6 HTTP_S="1 3" INSTR_N=${INSTR_N:-20000}
fi
B=${BUILD:-build-release}
FEATURES="single_issuer register_ring_fd multishot_accept multishot_recv send_zc registered_files"
# Opt-in features (off by default): a column +FEATURE is all_on plus it.
OPT_IN="batch_wait"
default_configs="all_on"
for f in $OPT_IN; do default_configs+=" +$f"; done
for f in $FEATURES; do default_configs+=" -$f"; done
default_configs+=" all_off"
read -r -a CONFIGS <<<"${CONFIGS:-$default_configs}"
read -r -a REFS <<<"${REFS-asio_epoll asio_iouring uring_loop callbacks asio_epoll_callbacks}"
read -r -a CELLS <<<"${CELLS:-http:100 echo:64 echo:512 echo:10000}"
read -r -a INSTR_CELLS <<<"${INSTR_CELLS:-http:100 echo:64}"
PARTS=${PARTS:-cpu syscalls alloc instr memory}
IDLE_CONNS=${IDLE_CONNS:-10000}
COLS=("${CONFIGS[@]}" "${REFS[@]}")
started=$(date +%s)
progress() { echo "[ablation] $* ($(( $(date +%s) - started )) s elapsed)" >&2; }
has_part() { [[ " $PARTS " == *" $1 "* ]]; }

# --- build ------------------------------------------------------------------
if [ -z "${SKIP_BUILD:-}" ]; then
  missing=""
  for tool in g++ cmake ninja wrk gnuplot perf valgrind callgrind_control bc python3 taskset; do
    command -v $tool >/dev/null || missing+=" $tool"
  done
  dpkg -s liburing-dev libboost1.81-all-dev >/dev/null 2>&1 || missing+=" libraries"
  [ -z "$missing" ] || ASIO_URING_EXTRA_PACKAGES="wrk gnuplot-nox linux-perf valgrind bc" .ci/deps
  progress "building (release) in $B"
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_URING_TESTS=OFF -DASIO_URING_BENCH=ON \
    -DASIO_URING_EXAMPLES=ON >/dev/null
  targets="echo_server http_server echo_server_asio http_server_asio echo_server_asio_uring_backend
    http_server_asio_uring_backend uring_loop_server echo_client alloc_count idle_server_uring idle_server_asio
    echo_server_cb echo_server_cb_asio"
  [ -f include/asio_uring/provided_buffer.hpp ] && targets+=" idle_server_uring_provided"
  cmake --build "$B" ${JOBS:+-j"$JOBS"} --target $targets >/dev/null
fi

# --- limits: 10,000 connections need as many descriptors in the client and
# in the server (each its own process; the hard limit may stop a non-root
# user, or a container without CAP_SYS_RESOURCE, at less).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
fits() { [ "$NOFILE" = unlimited ] || [ $(( $1 + 64 )) -le "$NOFILE" ]; }

# --- the columns --------------------------------------------------------------
is_ref() { [[ " ${REFS[*]} " == *" $1 "* ]]; }
# feat_env COLUMN -> the ASIO_URING_FEATURES value of that column
feat_env() {
  local col=$1 f out=""
  [ "$col" = callbacks ] && col=all_on  # the callback source, every feature on
  is_ref "$col" && return 0
  case $col in
    default) return 0 ;;
    all_on) for f in $FEATURES; do out+=",+$f"; done ;;
    all_off) for f in $FEATURES; do out+=",-$f"; done ;;
    -*) [[ " $FEATURES " == *" ${col#-} "* ]] || { echo "ablation.sh: unknown feature in column $col" >&2; exit 2; }
        for f in $FEATURES; do if [ "-$f" = "$col" ]; then out+=",-$f"; else out+=",+$f"; fi; done ;;
    +*) local name=${col#+}; name=${name%%=*}  # +batch_wait=USEC:COUNT tunes it
        [[ " $OPT_IN " == *" $name "* ]] || { echo "ablation.sh: unknown opt-in feature in column $col" >&2; exit 2; }
        for f in $FEATURES; do out+=",+$f"; done; out+=",$col" ;;
    *) echo "ablation.sh: unknown column $col (all_on, all_off, default, -FEATURE, +OPT_IN_FEATURE)" >&2; exit 2 ;;
  esac
  echo "${out#,}"
}
# server COLUMN echo|http -> the server's command (the port is appended)
server() {
  case $1 in
    asio_epoll) echo "$B/bench/${2}_server_asio" ;;
    asio_iouring) echo "$B/bench/${2}_server_asio_uring_backend" ;;
    uring_loop) echo "$B/bench/uring_loop_server $2" ;;
    callbacks) if [ "$2" = echo ]; then echo "$B/bench/echo_server_cb"; fi ;;
    asio_epoll_callbacks) if [ "$2" = echo ]; then echo "$B/bench/echo_server_cb_asio"; fi ;;
    *) echo "$B/example/${2}_server" ;;
  esac
}
for c in "${COLS[@]}"; do feat_env "$c" >/dev/null; done  # reject unknown names before starting

# --- helpers (as in bench/net.sh, bench/extras.sh, bench/demo.sh) -------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # port pid: fails when the server exits or never listens
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || break
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "ablation.sh: server did not start on port $1" >&2
  return 1
}
wait_conns() {  # pid n: until the server holds n descriptors (30 s at most)
  for _ in $(seq 300); do
    [ "$(ls /proc/"$1"/fd 2>/dev/null | wc -l)" -ge "$2" ] && { sleep 0.3; return 0; }
    sleep 0.1
  done
  echo "ablation.sh: the server did not accept $2 connections" >&2
  return 1
}
# On-CPU time of the server's threads (ns), not CPU 0's busy time (on a
# shared machine that counts other jobs too).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
# start_server COLUMN KIND PORT [WRAPPER...]: pinned to CPU 0; sets $pid
start_server() {
  local col=$1 kind=$2 port=$3
  shift 3
  # shellcheck disable=SC2046
  ASIO_URING_FEATURES=$(feat_env "$col") taskset -c 0 "$@" $(server "$col" "$kind") "$port" >/dev/null 2>&1 &
  pid=$!
}
stop_server() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# Echo clients above 10,000 connections spread over more source addresses.
sources() { echo $(( 1 + $1 / 10000 )); }
num() { [[ $1 =~ ^[0-9.eE+-]+$ ]]; }
sub() { if num "$1" && num "$2"; then echo "$1 - $2" | bc -l; else echo nan; fi; }
div() { if num "$1" && num "$2" && [ "$(echo "$2 != 0" | bc -l)" = 1 ]; then echo "$1 / $2" | bc -l; else echo nan; fi; }
median() { { grep -E '^[0-9.eE+-]+$' || true; } | sort -g | awk '{a[NR]=$1} END{if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
label() { local kind=${1%%:*} conns=${1#*:}; if [ "$kind" = echo ]; then echo "echo c=$conns"; else echo "http c=$conns"; fi; }

# measure COLUMN CELL cpu|syscalls -> "requests_per_s cpu_us_per_request syscalls_per_request"
# Echo connections are all open before the measured window starts
# (ECHO_CLIENT_WAIT): the 10,000-connection cell measures steady state, not
# set-up.
measure() {
  local col=$1 kind=${2%%:*} conns=${2#*:} mode=$3 port tmp pid c0 c1 reqs rate="" calls=nan perfpid="" client=""
  [ -n "$(server "$col" "$kind")" ] || { echo "nan nan nan"; return; }  # no such server for this cell
  port=$(free_port)
  tmp=$(mktemp -d)
  start_server "$col" "$kind" "$port"
  if ! wait_port "$port" "$pid"; then echo "nan nan nan"; rm -rf "$tmp"; return; fi
  if [ "$kind" = echo ]; then
    mkfifo "$tmp/in" "$tmp/out"
    ECHO_CLIENT_WAIT=1 ECHO_CLIENT_SOURCES=$(sources "$conns") taskset -c 1 \
      "$B/bench/echo_client" "$port" "$conns" 64 "$SECS" <"$tmp/in" >"$tmp/out" 2>"$tmp/client.err" &
    client=$!
    exec 7>"$tmp/in" 8<"$tmp/out"
    if ! read -r -u 8 _ _ || ! wait_conns "$pid" "$conns"; then
      sed 's/^/ablation.sh: echo_client: /' "$tmp/client.err" >&2
      exec 7>&- 8<&-
      kill "$client" 2>/dev/null || true
      stop_server "$pid"; rm -rf "$tmp"; echo "nan nan nan"; return
    fi
  fi
  if [ "$mode" = syscalls ]; then
    perf stat -e raw_syscalls:sys_enter -x, -o "$tmp/perf" -p "$pid" &
    perfpid=$!
    sleep 0.5
  fi
  c0=$(cpu_ns "$pid")
  if [ "$kind" = echo ]; then
    echo go >&7
    read -r -u 8 reqs _ rate || reqs=nan
  else
    local out
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${SECS}s" "http://127.0.0.1:$port/")
    reqs=$(awk '/requests in/{print $1}' <<<"$out")
    rate=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  fi
  c1=$(cpu_ns "$pid")
  if [ -n "$perfpid" ]; then
    kill -INT "$perfpid" 2>/dev/null || true
    wait "$perfpid" 2>/dev/null || true
    calls=$(div "$(awk -F, '/raw_syscalls/{print $1}' "$tmp/perf")" "$reqs")
  fi
  if [ -n "$client" ]; then  # the client closes its connections now, outside the window
    exec 7>&- 8<&-
    wait "$client" 2>/dev/null || sed 's/^/ablation.sh: echo_client: /' "$tmp/client.err" >&2
  fi
  stop_server "$pid"
  rm -rf "$tmp"
  echo "${rate:-nan} $(div "$(echo "($c1 - $c0) / 1000" | bc -l)" "$reqs") $calls"
}

# allocs COLUMN CELL N -> "requests allocations" of one run of N round trips
# (echo) or N seconds (http), start-up and shutdown included
allocs() {
  local col=$1 kind=${2%%:*} conns=${2#*:} n=$3 port tmp pid reqs=$3
  port=$(free_port)
  tmp=$(mktemp)
  start_server "$col" "$kind" "$port" env ALLOC_COUNT_FILE="$tmp" LD_PRELOAD="$PWD/$B/bench/liballoc_count.so"
  if ! wait_port "$port" "$pid"; then echo "nan nan"; rm -f "$tmp"; return; fi
  if [ "$kind" = echo ]; then
    ECHO_CLIENT_SOURCES=$(sources "$conns") taskset -c 1 "$B/bench/echo_client" "$port" "$conns" 64 600 "$n" >"$tmp.out" \
      && reqs=$(awk '{print $1}' "$tmp.out") || reqs=nan
    rm -f "$tmp.out"
  else
    reqs=$(taskset -c 1 wrk -t1 -c"$conns" -d"${n}s" "http://127.0.0.1:$port/" | awk '/requests in/{print $1}')
  fi
  stop_server "$pid"
  echo "${reqs:-nan} $(cat "$tmp" 2>/dev/null || echo nan)"
  rm -f "$tmp"
}
allocs_per_request() {  # COLUMN CELL
  local kind=${2%%:*} conns=${2#*:} n1 n2 r1 a1 r2 a2
  if [ "$kind" = echo ]; then
    n1=$(( ECHO_N > 2 * conns ? ECHO_N : 2 * conns )); n2=$(( n1 * ALLOC_X ))
  else read -r n1 n2 <<<"$HTTP_S"; fi
  read -r r1 a1 < <(allocs "$1" "$2" "$n1")
  read -r r2 a2 < <(allocs "$1" "$2" "$n2")
  if num "$a1" && num "$a2" && num "$r1" && num "$r2"; then div "$((a2 - a1))" "$((r2 - r1))"; else echo nan; fi
}

# instructions COLUMN CELL -> user-space instructions per request (bench/instr.sh)
instructions() {
  local kind=${2%%:*} conns=${2#*:} v
  # shellcheck disable=SC2046
  if [ "$kind" = echo ]; then
    v=$(ASIO_URING_FEATURES=$(feat_env "$1") BUILD=$B bench/instr.sh $(server "$1" echo) -- echo "$conns" 64 "$INSTR_N" 2>/dev/null) || v=nan
  else
    v=$(ASIO_URING_FEATURES=$(feat_env "$1") BUILD=$B bench/instr.sh $(server "$1" http) -- http "$conns" 2>/dev/null) || v=nan
  fi
  echo "${v:-nan}"
}

# --- output -----------------------------------------------------------------
RESULTS=${RESULTS:-results/ablation-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
TXT=$RESULTS/ablation.txt
: >"$TXT"
say() { echo "$@" | tee -a "$TXT"; }
# table TITLE ARRAY FORMAT CELL... : rows are the columns, one column per cell
table() {
  local title=$1 arr=$2 fmt=$3 col cell v
  shift 3
  local -n values=$arr
  {
    echo
    echo "== $title =="
    printf "%-20s" config
    for cell in "$@"; do printf "%14s" "$(label "$cell")"; done
    echo
    for col in "${COLS[@]}"; do
      printf "%-20s" "$col"
      for cell in "$@"; do
        v=${values[$col,$cell]:-nan}
        if num "$v"; then printf "%14$fmt" "$v"; else printf "%14s" "$v"; fi
      done
      echo
    done
  } | tee -a "$TXT"
}
# ratio_table TITLE ARRAY BASE_COLUMN ONLY_OURS CELL...
ratio_table() {
  local title=$1 arr=$2 base=$3 ours=$4 col cell
  shift 4
  local -n src=$arr
  declare -gA RATIO=()
  for col in "${COLS[@]}"; do
    for cell in "$@"; do RATIO[$col,$cell]=$(div "${src[$col,$cell]:-nan}" "${src[$base,$cell]:-nan}"); done
  done
  if [ "$ours" = 1 ]; then local saved=("${COLS[@]}"); COLS=("${CONFIGS[@]}"); fi
  table "$title" RATIO .2f "$@"
  if [ "$ours" = 1 ]; then COLS=("${saved[@]}"); fi
}
# dat FILE ARRAY CELL...: bench/chart.sh's layout (one row per cell, one column per config)
dat() {
  local file=$1 arr=$2 col cell
  shift 2
  local -n values=$arr
  { printf "cell"; for col in "${COLS[@]}"; do printf " %s" "$col"; done; echo
    for cell in "$@"; do
      printf '"%s"' "$(label "$cell")"
      for col in "${COLS[@]}"; do printf " %s" "${values[$col,$cell]:-nan}"; done; echo
    done; } >"$file"
}
# chart TABLE PNG TITLE YLABEL: bench/chart.sh's clustered bars with the key
# beside the plot and a colour per column (eleven columns)
chart() {
  command -v gnuplot >/dev/null || { echo "ablation.sh: no gnuplot: $2 not written" >&2; return 0; }
  gnuplot <<EOF
set terminal pngcairo size 1300,480 font ",10" noenhanced
set output "$2"
set title "$3"
set ylabel "$4"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key outside right top autotitle columnheader
set grid ytics
set yrange [0:*]
set xtics font ",9"
array C[12] = ["#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#9467bd", "#d62728", "#7f7f7f", "#bcbd22", "#17becf", "#8c564b"]
plot for [c=2:$(head -1 "$1" | awk '{print NF}')] "$1" using c:xtic(1) lc rgb C[(c - 2) % 12 + 1]
EOF
}
has_col() { [[ " ${COLS[*]} " == *" $1 "* ]]; }

say "bench/ablation.sh${QUICK:+ (QUICK=1: a smoke of the script, not a measurement)}, $(date '+%Y-%m-%d %H:%M'), $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo))"
say "server on CPU 0, load on CPU 1; $RUNS alternating run(s) of $SECS s per cell; echo: 64-byte messages; ulimit -n $NOFILE," \
  "somaxconn $(cat /proc/sys/net/core/somaxconn), ports $(tr '\t' - </proc/sys/net/ipv4/ip_local_port_range)"
for col in "${CONFIGS[@]}"; do say "  $col: ASIO_URING_FEATURES=$(feat_env "$col")"; done
RUN_CELLS=()
for cell in "${CELLS[@]}"; do
  if fits "${cell#*:}"; then RUN_CELLS+=("$cell"); else say "  skipped $(label "$cell"): ulimit -n is $NOFILE"; fi
done
when="$(date '+%Y-%m-%d'), $(uname -r), server on CPU 0, load on CPU 1"

# --- part 1: CPU per request and requests/s ----------------------------------
declare -A RATE CPU SYS ALLOC INSTR
perf_ok=""
perf stat -e raw_syscalls:sys_enter -x, -o /dev/null true 2>/dev/null && perf_ok=1
cpu_mode=cpu
[ -n "${QUICK:-}" ] && [ -n "$perf_ok" ] && has_part syscalls && cpu_mode=syscalls
if has_part cpu; then
  i=0
  for cell in "${RUN_CELLS[@]}"; do
    i=$((i + 1))
    declare -A RS=() CS=()
    for run in $(seq "$RUNS"); do
      j=0
      for col in "${COLS[@]}"; do
        j=$((j + 1))
        progress "cpu: cell $i/${#RUN_CELLS[@]} ($(label "$cell")), run $run/$RUNS, column $j/${#COLS[@]} ($col)"
        read -r r c s < <(measure "$col" "$cell" "$cpu_mode")
        RS[$col]+="$r "
        CS[$col]+="$c "
        SYS[$col,$cell]=$s
      done
    done
    for col in "${COLS[@]}"; do
      RATE[$col,$cell]=$(printf "%s\n" ${RS[$col]} | median)
      CPU[$col,$cell]=$(printf "%s\n" ${CS[$col]} | median)
    done
  done
  table "server CPU µs per request (median of $RUNS)" CPU .2f "${RUN_CELLS[@]}"
  has_col asio_epoll && ratio_table "server CPU per request relative to asio_epoll" CPU asio_epoll 0 "${RUN_CELLS[@]}"
  has_col all_on && ratio_table "server CPU per request relative to all_on (the cost of switching one feature off)" \
    CPU all_on 1 "${RUN_CELLS[@]}"
  table "requests per second (median of $RUNS)" RATE .0f "${RUN_CELLS[@]}"
  has_col uring_loop && ratio_table "requests per second relative to uring_loop" RATE uring_loop 0 "${RUN_CELLS[@]}"
  dat "$RESULTS/cpu.dat" CPU "${RUN_CELLS[@]}"
  dat "$RESULTS/rate.dat" RATE "${RUN_CELLS[@]}"
  chart "$RESULTS/cpu.dat" "$RESULTS/cpu.png" \
    "bench/ablation.sh: server CPU per request, median of $RUNS ($when)" "CPU µs per request"
  chart "$RESULTS/rate.dat" "$RESULTS/rate.png" \
    "bench/ablation.sh: requests per second, median of $RUNS ($when)" "per second"
fi

# --- part 2: system calls per request ------------------------------------------
if has_part syscalls; then
  if [ -n "$perf_ok" ]; then
    i=0
    [ "$cpu_mode" = syscalls ] && has_part cpu && RUN_SYS=() || RUN_SYS=("${RUN_CELLS[@]}")
    for cell in "${RUN_SYS[@]}"; do
      i=$((i + 1))
      for col in "${COLS[@]}"; do
        progress "syscalls: cell $i/${#RUN_SYS[@]} ($(label "$cell")), column $col"
        read -r _ _ s < <(measure "$col" "$cell" syscalls)
        SYS[$col,$cell]=$s
      done
    done
    how="one run of $SECS s"
    [ ${#RUN_SYS[@]} = 0 ] && how="counted during the CPU runs (QUICK)"
    table "system calls per request (perf raw_syscalls:sys_enter, server threads, $how)" SYS .3f "${RUN_CELLS[@]}"
    dat "$RESULTS/syscalls.dat" SYS "${RUN_CELLS[@]}"
  else
    say "(system calls: perf cannot open raw_syscalls:sys_enter here; part skipped)"
  fi
fi

# --- part 3: heap allocations per request --------------------------------------
if has_part alloc; then
  i=0
  for cell in "${RUN_CELLS[@]}"; do
    i=$((i + 1))
    for col in "${COLS[@]}"; do
      progress "allocations: cell $i/${#RUN_CELLS[@]} ($(label "$cell")), column $col"
      ALLOC[$col,$cell]=$(allocs_per_request "$col" "$cell")
    done
  done
  table "heap allocations per request (difference of two runs)" ALLOC .3f "${RUN_CELLS[@]}"
  dat "$RESULTS/alloc.dat" ALLOC "${RUN_CELLS[@]}"
fi

# --- part 4: user-space instructions per request (callgrind) -------------------
if has_part instr; then
  IC=()
  for cell in "${INSTR_CELLS[@]}"; do fits "${cell#*:}" && IC+=("$cell"); done
  i=0
  for cell in "${IC[@]}"; do
    i=$((i + 1))
    for col in "${COLS[@]}"; do
      progress "instructions (callgrind): cell $i/${#IC[@]} ($(label "$cell")), column $col"
      INSTR[$col,$cell]=$(instructions "$col" "$cell")
    done
  done
  table "user-space instructions per request (callgrind)" INSTR .0f "${IC[@]}"
  has_col asio_epoll && ratio_table "instructions per request relative to asio_epoll" INSTR asio_epoll 0 "${IC[@]}"
  dat "$RESULTS/instructions.dat" INSTR "${IC[@]}"
  chart "$RESULTS/instructions.dat" "$RESULTS/instructions.png" \
    "bench/ablation.sh: user-space instructions per request, callgrind ($when)" "instructions"
fi

# --- part 5: resident memory of idle connections --------------------------------
# idle VARIANT -> "rss0 pss0 rss pss" (KiB): the server alone, then with
# IDLE_CONNS connections that send nothing, each with a read pending.
idle() {
  local port tmp pid client r0 p0 r1 p1
  port=$(free_port)
  tmp=$(mktemp -d)
  taskset -c 0 "$B/bench/idle_server_$1" "$port" >/dev/null 2>&1 &
  pid=$!
  if ! wait_port "$port" "$pid"; then echo "nan nan nan nan"; rm -rf "$tmp"; return; fi
  sleep 0.3
  r0=$(awk '/^VmRSS:/{print $2}' /proc/"$pid"/status)
  p0=$(awk '/^Pss:/{print $2}' /proc/"$pid"/smaps_rollup)
  mkfifo "$tmp/in" "$tmp/out"
  ECHO_CLIENT_SOURCES=$(sources "$IDLE_CONNS") taskset -c 1 "$B/bench/echo_client" "$port" "$IDLE_CONNS" 0 0 \
    <"$tmp/in" >"$tmp/out" 2>"$tmp/client.err" &
  client=$!
  exec 7>"$tmp/in" 8<"$tmp/out"
  if read -r -u 8 _ _ && wait_conns "$pid" "$IDLE_CONNS"; then
    sleep 1
    r1=$(awk '/^VmRSS:/{print $2}' /proc/"$pid"/status)
    p1=$(awk '/^Pss:/{print $2}' /proc/"$pid"/smaps_rollup)
  else
    sed 's/^/ablation.sh: echo_client: /' "$tmp/client.err" >&2
    r1=nan p1=nan
  fi
  echo go >&7 || true
  exec 7>&- 8<&-
  wait "$client" 2>/dev/null || true
  stop_server "$pid"
  rm -rf "$tmp"
  echo "$r0 $p0 $r1 $p1"
}
if has_part memory; then
  VARIANTS=()
  for v in uring_provided uring asio; do
    if [ -x "$B/bench/idle_server_$v" ]; then VARIANTS+=("$v")
    else say "(idle_server_$v is not built: asio_uring/provided_buffer.hpp is not in this tree; row skipped)"; fi
  done
  if ! fits "$IDLE_CONNS"; then
    say "(memory: skipped, ulimit -n is $NOFILE)"
  else
    declare -A M0=() P0=() M1=() P1=()
    for run in $(seq "$RUNS"); do
      for v in "${VARIANTS[@]}"; do
        progress "memory: run $run/$RUNS, $v, $IDLE_CONNS idle connections"
        read -r a b c d < <(idle "$v")
        M0[$v]+="$a "; P0[$v]+="$b "; M1[$v]+="$c "; P1[$v]+="$d "
      done
    done
    {
      echo
      echo "== resident memory of $IDLE_CONNS idle connections with a read pending (median of $RUNS) =="
      printf "%-34s %12s %12s %12s %12s %14s %14s\n" server "RSS0 KiB" "RSS KiB" "Pss0 KiB" "Pss KiB" "RSS KiB/conn" "Pss KiB/conn"
      echo "variant RSS_KiB_per_conn Pss_KiB_per_conn" >"$RESULTS/memory.dat"
      for v in "${VARIANTS[@]}"; do
        m0=$(printf "%s\n" ${M0[$v]} | median); m1=$(printf "%s\n" ${M1[$v]} | median)
        q0=$(printf "%s\n" ${P0[$v]} | median); q1=$(printf "%s\n" ${P1[$v]} | median)
        case $v in
          uring_provided) name="asio_uring, async_receive_provided" ;;
          uring) name="asio_uring, 4 KiB buffer" ;;
          asio) name="boost::asio epoll, 4 KiB buffer" ;;
        esac
        kr=$(div "$(sub "$m1" "$m0")" "$IDLE_CONNS")
        kp=$(div "$(sub "$q1" "$q0")" "$IDLE_CONNS")
        printf "%-34s %12s %12s %12s %12s %14.2f %14.2f\n" "$name" "$m0" "$m1" "$q0" "$q1" "$kr" "$kp"
        echo "\"$name\" $kr $kp" >>"$RESULTS/memory.dat"
      done
    } | tee -a "$TXT"
  fi
fi
say
say "tables: $TXT (and .dat/.png beside it), $(( $(date +%s) - started )) s"
