// The whole public API of asio_uring, as <boost/asio.hpp> is Asio's.
#pragma once

#include <asio_uring/io_context.hpp>
#include <asio_uring/basic_waitable_timer.hpp>
#include <asio_uring/steady_timer.hpp>
#include <asio_uring/system_timer.hpp>
#include <asio_uring/high_resolution_timer.hpp>
#include <asio_uring/signal_set.hpp>
#include <asio_uring/basic_socket.hpp>
#include <asio_uring/basic_stream_socket.hpp>
#include <asio_uring/basic_datagram_socket.hpp>
#include <asio_uring/basic_socket_acceptor.hpp>
#include <asio_uring/ip/tcp.hpp>
#include <asio_uring/ip/udp.hpp>
#include <asio_uring/local/stream_protocol.hpp>
#include <asio_uring/connect.hpp>
#include <asio_uring/tcp_stream.hpp>
#include <asio_uring/detail/beast_hooks.hpp>
#include <asio_uring/basic_file.hpp>
#include <asio_uring/pipe.hpp>
#include <asio_uring/registered_buffers.hpp>
