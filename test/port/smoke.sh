#!/usr/bin/env bash
# Runs Asio's and Beast's example servers, ported by tools/port.sh, against
# real clients (curl, Beast's websocket clients ported and on plain Asio,
# Python sockets) and checks the exact bytes, that the servers which handle
# SIGINT exit 0, and that the server's I/O is on the ring (skipped on the
# emulated engine, which is epoll): the HTTP and chat servers never call
# epoll_wait. Beast's websocket::stream holds an Asio steady_timer (Beast
# names boost::asio::steady_timer itself, so no rename reaches it); that timer
# runs on Asio's reactor in a private thread of the context. For the websocket
# servers the check is that epoll_wait is called only by threads that never
# enter the ring, i.e. that reactor thread, never by a thread running the
# context.
#   smoke.sh BINDIR
set -u
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"; kill -9 $(jobs -p) 2>/dev/null' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do
    kill -0 "$server" 2>/dev/null || return 1
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# start NAME ARGS...: runs the server under strace (epoll calls only);
# sets $server (its pid) and $tracer.
start() {
  local name=$1; shift
  strace -f -qq -e trace=epoll_wait,epoll_pwait,epoll_pwait2,io_uring_enter -o "$work/$name.strace" \
    "$bin/port_$name" "$@" >"$work/$name.out" 2>&1 &
  tracer=$!
  server=""
  for _ in $(seq 100); do
    server=$(pgrep -P $tracer | head -1) && [ -n "$server" ] && break
    sleep 0.02
  done
}
# stop NAME SIGNAL EXPECTED_STATUS [reactor]: signals the server, checks its
# exit status, that it entered the ring, and that it made no epoll_wait call
# (with "reactor": none on a thread that enters the ring).
stop() {
  local name=$1 sig=$2 want=$3 mode=${4:-} rc
  kill -"$sig" "$server" 2>/dev/null
  wait $tracer; rc=$?
  [ "$rc" = "$want" ] || fail "$name exited with $rc, expected $want: $(cat "$work/$name.out")"
  [ "${ASIO_URING_ENGINE:-}" = emulated ] && return
  local t="$work/$name.strace"
  grep -q 'io_uring_enter' "$t" || fail "$name never entered the ring"
  # Thread ids of each kind of call (strace -f prefixes every line with one).
  local ring epoll both
  ring=$(grep 'io_uring_enter' "$t" | awk '{print $1}' | sort -u)
  epoll=$(grep 'epoll_' "$t" | awk '{print $1}' | sort -u)
  if [ "$mode" = reactor ]; then
    both=$(comm -12 <(echo "$ring") <(echo "$epoll"))
    [ -z "$both" ] || fail "$name: threads $both run the context and call epoll_wait"
    echo "$name: $(grep -c 'epoll_' "$t") epoll_wait calls, all on Asio's reactor thread (Beast's timer)"
  else
    [ -z "$epoll" ] || fail "$name called epoll_wait $(grep -c 'epoll_' "$t") times: $(grep -m3 'epoll_' "$t")"
  fi
}

# ws_echo LABEL CLIENT PORT MESSAGE: the websocket client program must print
# MESSAGE, echoed by the server.
ws_echo() {
  local got
  got=$(timeout 10 "$bin/$2" 127.0.0.1 "$3" "$4")
  [ "$got" = "$4" ] || fail "$1: $2 got '$got'"
}

mkdir -p "$work/root"
printf 'ported by a rename\n' > "$work/root/index.html"
head -c 300000 /dev/urandom > "$work/root/blob.bin"

# --- Beast's async HTTP server, curl as the client -----------------------
port=$(free_port)
start http_server_async 127.0.0.1 "$port" "$work/root" 1
if wait_port "$port"; then
  got=$(curl -s "http://127.0.0.1:$port/index.html")
  [ "$got" = "ported by a rename" ] || fail "http: GET index.html gave '$got'"
  curl -s -o "$work/blob.got" "http://127.0.0.1:$port/blob.bin"
  cmp -s "$work/blob.got" "$work/root/blob.bin" || fail "http: blob.bin differs"
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/missing")
  [ "$code" = 404 ] || fail "http: missing file gave $code"
  # Keep-alive: two requests on one connection.
  n=$(curl -s "http://127.0.0.1:$port/index.html" "http://127.0.0.1:$port/index.html" | grep -c 'ported by a rename')
  [ "$n" = 2 ] || fail "http: keep-alive gave $n answers"
else
  fail "http server did not listen: $(cat "$work/http_server_async.out")"
fi
stop http_server_async TERM 143   # it has no signal handler: SIGTERM ends it
echo "http_server_async done"

# --- Beast's async websocket server, Beast's clients (ported and plain) ---
port=$(free_port)
start websocket_server_async 127.0.0.1 "$port" 1
if wait_port "$port"; then
  ws_echo websocket port_websocket_client_async "$port" "ring echo one"
  ws_echo websocket port_websocket_client_sync "$port" "ring echo two"
  ws_echo websocket plain_websocket_client_async "$port" "plain asio peer"
else
  fail "websocket server did not listen: $(cat "$work/websocket_server_async.out")"
fi
stop websocket_server_async TERM 143 reactor
echo "websocket_server_async done"

# --- Beast's advanced server: HTTP and websocket on one port, 2 threads ---
port=$(free_port)
start advanced_server 127.0.0.1 "$port" "$work/root" 2
if wait_port "$port"; then
  got=$(curl -s "http://127.0.0.1:$port/index.html")
  [ "$got" = "ported by a rename" ] || fail "advanced: GET gave '$got'"
  ws_echo advanced port_websocket_client_async "$port" "same port websocket"
  ws_echo advanced plain_websocket_client_async "$port" "plain peer"
else
  fail "advanced server did not listen: $(cat "$work/advanced_server.out")"
fi
stop advanced_server INT 0 reactor
echo "advanced_server done"

# --- Asio's C++20 coroutine chat server, Python sockets -----------------
port=$(free_port)
start chat_server_cpp20 "$port"
if wait_port "$port"; then
  python3 - "$port" <<'PY' || fail "chat: exchange failed"
import socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), 5); s.settimeout(5); return s
def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise SystemExit("peer closed after %r" % b)
        b += c
    return b
a, b = conn(), conn()
time.sleep(0.2)               # both joined the room
a.sendall(b"hello room\n")
assert read_exact(a, 11) == b"hello room\n"
assert read_exact(b, 11) == b"hello room\n"
b.sendall(b"second\nthird\n")
for s in (a, b):
    assert read_exact(s, 13) == b"second\nthird\n"
c = conn()                    # a newcomer gets the recent messages
assert read_exact(c, 24) == b"hello room\nsecond\nthird\n"
a.close(); b.close(); c.close()
PY
else
  fail "chat server did not listen: $(cat "$work/chat_server_cpp20.out")"
fi
stop chat_server_cpp20 INT 0
echo "chat_server_cpp20 done"

[ $failures = 0 ] && echo "ok: ported servers" || exit 1
