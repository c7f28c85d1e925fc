#!/usr/bin/env bash
# Starts an example server, talks to it over loopback (bash's /dev/tcp),
# checks the exact answer, sends SIGTERM and checks a clean exit.
#   smoke_net.sh echo|http|http_threads|chat|websocket|file PROGRAM PORT
set -u
kind=$1 prog=$2 port=$3
out=$(mktemp)
if [ "$kind" = file ]; then
  root=$(mktemp -d)
  seq 1 40000 >"$root/blob"
  "$prog" "$root" "$port" >"$out" 2>&1 &
elif [ "$kind" = http_threads ]; then
  "$prog" "$port" --threads 2 >"$out" 2>&1 &
else
  "$prog" "$port" >"$out" 2>&1 &
fi
pid=$!
for _ in $(seq 100); do
  grep -q listening "$out" && break
  sleep 0.05
done
fail() { echo "FAIL: $*"; cat "$out"; kill -9 $pid 2>/dev/null; exit 1; }

case $kind in
echo)
  exec 3<>/dev/tcp/127.0.0.1/$port || fail connect
  printf 'hello ring\n' >&3
  read -r -t 5 line <&3 || fail "no echo"
  [ "$line" = "hello ring" ] || fail "echoed '$line'"
  exec 3>&-
  ;;
http)
  exec 3<>/dev/tcp/127.0.0.1/$port || fail connect
  printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  reply=$(timeout 5 cat <&3)
  [ "$(grep -c 'Hello, World!' <<<"$reply")" = 2 ] || fail "reply: $reply"
  grep -q '^HTTP/1.1 200 OK' <<<"$reply" || fail "status: $reply"
  exec 3>&-
  ;;
http_threads)
  # A connection per request (spread over both threads), then keep-alive.
  for i in $(seq 20); do
    body=$(curl -s --max-time 5 "http://127.0.0.1:$port/$i") || fail "curl $i"
    [ "$body" = "Hello, World!" ] || fail "body $i: '$body'"
  done
  bodies=$(curl -s --max-time 5 "http://127.0.0.1:$port/a" "http://127.0.0.1:$port/b" "http://127.0.0.1:$port/c")
  [ "$bodies" = "Hello, World!Hello, World!Hello, World!" ] || fail "keep-alive bodies: '$bodies'"
  grep -q "(2 threads)" "$out" || fail "not on 2 threads"
  ;;
chat)
  exec 3<>/dev/tcp/127.0.0.1/$port || fail connect
  exec 4<>/dev/tcp/127.0.0.1/$port || fail connect
  sleep 0.2
  printf 'hi all\n' >&3
  read -r -t 5 a <&3 || fail "sender got nothing"
  read -r -t 5 b <&4 || fail "other got nothing"
  [ "$a" = "hi all" ] && [ "$b" = "hi all" ] || fail "got '$a' '$b'"
  exec 3>&- 4>&-
  ;;
websocket)
  got=$(timeout 10 python3 "$(dirname "$0")/ws_client.py" "$port" "hello ring" "second message") || fail "ws_client: $got"
  [ "$got" = $'hello ring\nsecond message' ] || fail "echoed '$got'"
  ;;
file)
  size=$(stat -c %s "$root/blob")
  header="HTTP/1.1 200 OK\r\nContent-Length: $size\r\n\r\n"
  hlen=$(printf "$header" | wc -c)
  exec 3<>/dev/tcp/127.0.0.1/$port || fail connect
  printf 'GET /blob HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\n' >&3
  timeout 5 head -c $((hlen + size)) <&3 >"$root/got" || fail "short response"
  head -c "$hlen" "$root/got" | cmp -s - <(printf "$header") || fail "bad header: $(head -c "$hlen" "$root/got")"
  tail -c "$size" "$root/got" | cmp -s - "$root/blob" || fail "body differs"
  read -r -t 5 status <&3 || fail "no 404"
  [ "${status%$'\r'}" = "HTTP/1.1 404 Not Found" ] || fail "second answer: $status"
  exec 3>&-
  rm -rf "$root"
  ;;
esac

kill -TERM $pid
wait $pid
rc=$?
grep -q "signal 15: exiting" "$out" || fail "no clean exit message"
[ $rc -eq 0 ] || fail "exit code $rc"
echo "ok: $kind"
