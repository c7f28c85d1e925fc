// asio_uring::generic::stream_protocol: stream sockets of ours,
// for any address family and protocol chosen at run time.
#pragma once

#include <asio_uring/basic_stream_socket.hpp>

#include <boost/asio/basic_socket_iostream.hpp>
#include <boost/asio/generic/stream_protocol.hpp>

namespace asio_uring::generic {

// Derives from Asio's protocol; constructible, as Asio's, from a family and
// protocol or from any protocol object of the same socket type. The endpoint
// (Asio's generic::basic_endpoint) holds any address.
// The iostream is Asio's and does its I/O on Asio's own reactor.
class stream_protocol : public boost::asio::generic::stream_protocol
{
public:
  using endpoint = boost::asio::generic::stream_protocol::endpoint;
  using socket = basic_stream_socket<stream_protocol>;
#if !defined(BOOST_ASIO_NO_IOSTREAM)
  using iostream = boost::asio::basic_socket_iostream<boost::asio::generic::stream_protocol>;
#endif

  stream_protocol(int address_family, int socket_protocol)
    : boost::asio::generic::stream_protocol(address_family, socket_protocol) {}
  // Asio's generic protocol (the copy), or another protocol, which must be
  // of the same socket type (else std::bad_cast, as Asio throws).
  template <typename Protocol>
  stream_protocol(const Protocol& source_protocol)
    : boost::asio::generic::stream_protocol(source_protocol) {}
};

} // namespace asio_uring::generic
