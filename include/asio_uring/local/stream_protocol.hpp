// asio_uring::local::stream_protocol: Unix-domain stream sockets of ours.
#pragma once

#include <asio_uring/basic_socket_acceptor.hpp>
#include <asio_uring/basic_stream_socket.hpp>

#include <boost/asio/basic_socket_iostream.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace asio_uring::local {

// Derives from and converts from Asio's protocol; the endpoint is Asio's.
// The iostream is Asio's and does its I/O on Asio's own reactor.
class stream_protocol : public boost::asio::local::stream_protocol
{
public:
  using endpoint = boost::asio::local::stream_protocol::endpoint;
  using socket = basic_stream_socket<stream_protocol>;
  using acceptor = basic_socket_acceptor<stream_protocol>;
#if !defined(BOOST_ASIO_NO_IOSTREAM)
  using iostream = boost::asio::basic_socket_iostream<boost::asio::local::stream_protocol>;
#endif

  stream_protocol() noexcept = default;
  stream_protocol(const boost::asio::local::stream_protocol& p) noexcept
    : boost::asio::local::stream_protocol(p) {}
};

} // namespace asio_uring::local
