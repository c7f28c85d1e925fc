#!/usr/bin/env bash
# User-space instructions per request of a server under callgrind (counts
# do not drift with machine load): warm up, zero the counters, drive a fixed
# number of requests, dump (callgrind_control wakes a server blocked in
# io_uring_enter through vgdb).
#   bench/instr.sh SERVER_COMMAND... -- echo CONNS SIZE REQUESTS
#   bench/instr.sh SERVER_COMMAND... -- http CONNS REQUESTS
# The port is appended to SERVER_COMMAND, or replaces an argument @PORT@
# (Beast's http_server_async: ADDRESS @PORT@ DOC_ROOT THREADS).
# Prints: instructions_per_request. CG_OUT=file keeps the callgrind output
# (bench/cg_components.py breaks it down).
set -euo pipefail
B=${BUILD:-build-release}
server=()
while [ "$1" != "--" ]; do server+=("$1"); shift; done
shift
kind=$1
port=$((7000 + RANDOM % 1000))
out=$(mktemp -d)
if [[ " ${server[*]} " == *" @PORT@ "* ]]; then
  server=("${server[@]/#@PORT@/$port}")
else
  server+=("$port")
fi
taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "${server[@]}" >"$out/log" 2>&1 &
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done
pid=$(pgrep -f "callgrind-out-file=$out" | head -1)
load() {  # requests
  if [ "$kind" = echo ]; then
    taskset -c 1 "$B/bench/echo_client" $port "$2" "$3" 600 "$1" >/dev/null
  else
    # wrk has no request count: a fixed duration, then count what it did.
    taskset -c 1 wrk -t1 -c"$2" -d"$1"s "http://127.0.0.1:$port/" | awk '/requests in/{print $1}'
  fi
}
if [ "$kind" = echo ]; then
  load 2000 "$2" "$3"
  callgrind_control -z "$pid" >/dev/null
  load "$4" "$2" "$3"
  n=$4
else
  load 1 "$2" >/dev/null
  callgrind_control -z "$pid" >/dev/null
  n=$(load 3 "$2")
fi
callgrind_control -d "$pid" >/dev/null
kill -9 "$pid" 2>/dev/null || true
total=$(cat "$out"/cg.*.1 | awk '/^summary:/{print $2}')
[ -n "${CG_OUT:-}" ] && cp "$out"/cg.*.1 "$CG_OUT"
echo $(( total / n ))
rm -rf "$out"
