// Compatibility include: Beast's customisation points for our sockets and
// tcp_stream now come with the socket and tcp_stream headers themselves.
#pragma once

#include <asio_uring/detail/beast_hooks.hpp>
#include <asio_uring/tcp_stream.hpp>
