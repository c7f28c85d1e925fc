// asio_uring::local::stream_protocol: Unix-domain stream sockets.
#pragma once

#include <asio_uring/basic_socket_acceptor.hpp>
#include <asio_uring/basic_stream_socket.hpp>

#include <boost/asio/local/stream_protocol.hpp>

namespace asio_uring::local {

struct stream_protocol
{
  using protocol = boost::asio::local::stream_protocol;
  using endpoint = boost::asio::local::stream_protocol::endpoint;
  using socket = basic_stream_socket<boost::asio::local::stream_protocol>;
  using acceptor = basic_socket_acceptor<boost::asio::local::stream_protocol>;
};

} // namespace asio_uring::local
