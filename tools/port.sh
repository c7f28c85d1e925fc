#!/usr/bin/env bash
# Ports Asio/Beast sources to asio_uring by renaming types, nothing else.
#   tools/port.sh [-n] FILE_OR_DIR...
# Renames the context and every I/O object type (spelled boost::asio::X,
# net::X or asio::X, the usual aliases) to asio_uring::X, beast::tcp_stream to
# asio_uring::tcp_stream, and adds `#include <asio_uring.hpp>` to each file
# that now names asio_uring. Vocabulary types (buffers, endpoints' addresses,
# errors, socket options, strands, co_spawn, ...) stay Asio's. -n prints the
# files that would change and changes nothing.
set -euo pipefail
dry=0
if [ "${1:-}" = "-n" ]; then dry=1; shift; fi
[ $# -gt 0 ] || { echo "usage: $0 [-n] FILE_OR_DIR..." >&2; exit 2; }

# The names that do I/O (or own a loop): what Asio's io_context runs.
types='io_context|io_service|ip::tcp|ip::udp|ip::icmp'
types+='|local::stream_protocol|local::datagram_protocol|local::seq_packet_protocol|local::connect_pair'
types+='|generic::stream_protocol|generic::datagram_protocol|generic::raw_protocol|generic::seq_packet_protocol'
types+='|steady_timer|system_timer|high_resolution_timer|basic_waitable_timer'
types+='|signal_set|basic_signal_set'
types+='|basic_socket|basic_stream_socket|basic_datagram_socket|basic_raw_socket|basic_seq_packet_socket|basic_socket_acceptor'
types+='|stream_file|random_access_file|basic_stream_file|basic_random_access_file|basic_file'
types+='|readable_pipe|writable_pipe|basic_readable_pipe|basic_writable_pipe|connect_pipe'
types+='|posix::stream_descriptor|posix::basic_stream_descriptor|posix::descriptor|posix::basic_descriptor'
types+='|serial_port|basic_serial_port'

# (^|[^:A-Za-z0-9_]) keeps `foo::net::x` and `mynet::x` untouched.
expr="s/(^|[^:A-Za-z0-9_])(::)?(boost::asio|net|asio)::($types)\\b/\\1asio_uring::\\4/g"
expr+=";s/(^|[^:A-Za-z0-9_])(::)?(boost::beast|beast)::tcp_stream\\b/\\1asio_uring::tcp_stream/g"
# io_service is Asio's old name of io_context.
expr+=";s/asio_uring::io_service\\b/asio_uring::io_context/g"

find "$@" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' -o -name '*.ipp' -o -name '*.cxx' \) -print0 |
while IFS= read -r -d '' f; do
  new=$(sed -E "$expr" "$f")
  if [ "$new" != "$(cat "$f")" ]; then
    if [ $dry = 1 ]; then echo "$f"; continue; fi
    printf '%s\n' "$new" > "$f"
    if ! grep -q '#include <asio_uring.hpp>' "$f"; then
      # Before the first #include, so the names exist wherever they are used.
      awk 'BEGIN{done=0} !done && /^[ \t]*#[ \t]*include/ {print "#include <asio_uring.hpp>"; done=1} {print}' "$f" > "$f.port.tmp"
      mv "$f.port.tmp" "$f"
    fi
    echo "ported $f"
  fi
done
