#!/usr/bin/env bash
# Runs an example, waits until its output shows `ready`, sends SIGTERM and
# checks it exits 0 after printing `done`.
#   smoke.sh PROGRAM READY_TEXT DONE_TEXT
set -u
prog=$1 ready=$2 done_text=$3
out=$(mktemp)
"$prog" >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do
  grep -q "$ready" "$out" && break
  sleep 0.05
done
kill -TERM $pid
wait $pid
rc=$?
cat "$out"
grep -q "$done_text" "$out" || { echo "missing: $done_text"; exit 1; }
[ $rc -eq 0 ] || { echo "exit code $rc"; exit 1; }
