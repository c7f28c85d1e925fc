#!/usr/bin/env bash
# Ports every example program of Boost 1.81 (Asio's cpp11, cpp14, cpp20 and
# Beast's example/) with tools/port.sh and compiles each translation unit
# syntax-only against our headers. Prints the count; any failure fails.
#   compile_all.sh WORK_DIR [JOBS]
# Environment: CXX (default g++), BOOST_DOC (the examples' root).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
jobs=${2:-2}
cxx=${CXX:-g++}
doc=${BOOST_DOC:-/usr/share/doc/libboost1.81-doc/examples/libs}
[ -d "$doc/asio/example/cpp11" ] || { echo "no $doc/asio/example: install libboost1.81-doc" >&2; exit 1; }

rm -rf "$work"; mkdir -p "$work/src/asio" "$work/src/beast" "$work/log"
cp -r "$doc/asio/example/cpp11" "$doc/asio/example/cpp14" "$doc/asio/example/cpp20" "$work/src/asio/"
cp -r "$doc/beast/example" "$work/src/beast/"
ported=$("$here/tools/port.sh" "$work/src" | wc -l)

# One precompiled header for every program: Asio, Beast, OpenSSL and ours.
pch="$work/all.hpp"
cat > "$pch" <<'H'
#include <list>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <asio_uring.hpp>
H
flags=(-std=c++20 -I"$here/include" -I"$work/src/beast")
"$cxx" "${flags[@]}" -x c++-header "$pch" -o "$pch.gch"

cd "$work/src"
find . -name '*.cpp' | sort > "$work/list"
total=$(wc -l < "$work/list")
export cxx pch work
# <list> is forced in because beast's advanced_server_flex_awaitable.cpp uses
# std::list without including it (it fails with plain Asio too otherwise).
xargs -P "$jobs" -I{} sh -c '
  f={}; log="$work/log/$(echo "$f" | tr / _).log"
  if "$cxx" -std=c++20 -fsyntax-only -include "$pch" -I'"$here"'/include -I'"$work"'/src/beast -I"$(dirname "$f")" "$f" >"$log" 2>&1
  then echo "ok   $f"; else echo "FAIL $f"; fi' < "$work/list" > "$work/results"
fails=$(grep -c '^FAIL' "$work/results" || true)
echo "ported example programs: $ported files changed by tools/port.sh; $((total - fails)) of $total translation units compile"
if [ "$fails" -ne 0 ]; then
  grep '^FAIL' "$work/results"
  for f in $(grep '^FAIL' "$work/results" | awk '{print $2}'); do
    echo "== $f"; grep -m3 'error' "$work/log/$(echo "$f" | tr / _).log" || true
  done
  exit 1
fi
