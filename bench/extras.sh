#!/usr/bin/env bash
# Per-request costs that do not depend on timing: system calls (strace -c)
# and heap allocations (bench/alloc_count.c) of each server in steady state,
# and user-space instructions (bench/instr.sh, callgrind). Each count is the
# difference of two runs of different lengths divided by the extra requests,
# so start-up and shutdown cancel out.
#   bench/extras.sh             (after bench/net.sh has built build-release)
#   IMPLS="uring_loop ..."      just those columns; ONLY=echo|http just those rows
# Progress (row, column, elapsed time) goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build-release}
export BUILD=$B
declare -A ECHO HTTP
ECHO[asio_uring]="$B/example/echo_server"
ECHO[asio_epoll]="$B/bench/echo_server_asio"
ECHO[asio_iouring]="$B/bench/echo_server_asio_uring_backend"
ECHO[uring_loop]="$B/bench/uring_loop_server echo"
HTTP[asio_uring]="$B/example/http_server"
HTTP[asio_epoll]="$B/bench/http_server_asio"
HTTP[asio_iouring]="$B/bench/http_server_asio_uring_backend"
HTTP[uring_loop]="$B/bench/uring_loop_server http"
IMPLS=${IMPLS:-"asio_uring asio_epoll asio_iouring uring_loop"}
started=$(date +%s)
progress() { echo "[extras] $* ($(( $(date +%s) - started )) s elapsed)" >&2; }

# A port nobody listens on, chosen by the kernel, for every server start.
# (count runs in a subshell, so a counter incremented there would not stick
# and every run would reuse one port; the hand-written loop's listening
# socket outlives its process for a moment, held by the ring's multishot
# accept until the kernel finishes tearing the ring down, so the next
# server on that port failed with EADDRINUSE.)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # port pid: fails when the server exits or never listens
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || break
    (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
    sleep 0.05
  done
  echo "extras.sh: server did not start on port $1" >&2
  return 1
}

# count MODE(alloc|syscalls) SERVER... -- echo|http N  -> the count for one run of N requests
count() {
  local mode=$1; shift
  local server=()
  while [ "$1" != "--" ]; do server+=("$1"); shift; done
  shift
  local kind=$1 n=$2 tmp port
  tmp=$(mktemp)
  port=$(free_port)
  if [ "$mode" = alloc ]; then
    ALLOC_COUNT_FILE=$tmp LD_PRELOAD=$PWD/$B/bench/liballoc_count.so taskset -c 0 "${server[@]}" $port >/dev/null 2>&1 &
  else
    taskset -c 0 strace -f -c -o "$tmp" "${server[@]}" $port >/dev/null 2>&1 &
  fi
  local pid=$!
  wait_port $port $pid || { echo "nan nan"; rm -f "$tmp"; return; }
  local done_requests=$n
  if [ "$kind" = echo ]; then
    taskset -c 1 "$B/bench/echo_client" $port 64 64 600 "$n" >/dev/null
  else
    done_requests=$(taskset -c 1 wrk -t1 -c100 -d"${n}s" "http://127.0.0.1:$port/" | awk '/requests in/{print $1}')
  fi
  local target=$pid
  [ "$mode" = syscalls ] && target=$(pgrep -P $pid | head -1)
  kill -TERM "$target"; wait $pid 2>/dev/null || true
  if [ "$mode" = alloc ]; then echo "$done_requests $(cat "$tmp")"
  else echo "$done_requests $(awk '/^100.00|total/{print $4}' "$tmp" | tail -1)"; fi
  rm -f "$tmp"
}

per_request() {  # mode kind server... -> per-request count
  local mode=$1 kind=$2; shift 2
  local n1=20000 n2=120000
  [ "$kind" = http ] && n1=1 && n2=3
  read -r r1 c1 < <(count "$mode" "$@" -- "$kind" $n1)
  read -r r2 c2 < <(count "$mode" "$@" -- "$kind" $n2)
  case "$c1$c2$r1$r2" in *nan*|"") echo nan; return ;; esac
  echo "($c2 - $c1) / ($r2 - $r1)" | bc -l
}

printf "%-34s" "per request (echo c=64 64B | http c=100)"
for impl in $IMPLS; do printf "%14s" "$impl"; done
echo
for kind in echo http; do
  [ -n "${ONLY:-}" ] && [ "$kind" != "$ONLY" ] && continue
  for mode in syscalls alloc; do
    printf "%-34s" "$kind $mode"
    for impl in $IMPLS; do
      progress "$kind $mode: $impl"
      if [ $kind = echo ]; then s=${ECHO[$impl]}; else s=${HTTP[$impl]}; fi
      printf "%14.3f" "$(per_request $mode $kind $s)"
    done
    echo
  done
  printf "%-34s" "$kind user-space instructions"
  for impl in $IMPLS; do
    progress "$kind instructions: $impl"
    if [ $kind = echo ]; then
      printf "%14s" "$(bench/instr.sh ${ECHO[$impl]} -- echo 64 64 20000 2>/dev/null)"
    else
      printf "%14s" "$(bench/instr.sh ${HTTP[$impl]} -- http 100 2>/dev/null)"
    fi
  done
  echo
done
