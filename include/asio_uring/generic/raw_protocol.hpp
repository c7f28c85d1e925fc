// asio_uring::generic::raw_protocol: raw sockets of ours,
// for any address family and protocol chosen at run time.
#pragma once

#include <asio_uring/basic_raw_socket.hpp>

#include <boost/asio/generic/raw_protocol.hpp>

namespace asio_uring::generic {

// Derives from Asio's protocol; constructible, as Asio's, from a family and
// protocol or from any protocol object of the same socket type. The endpoint
// (Asio's generic::basic_endpoint) holds any address.
class raw_protocol : public boost::asio::generic::raw_protocol
{
public:
  using endpoint = boost::asio::generic::raw_protocol::endpoint;
  using socket = basic_raw_socket<raw_protocol>;

  raw_protocol(int address_family, int socket_protocol)
    : boost::asio::generic::raw_protocol(address_family, socket_protocol) {}
  // Asio's generic protocol (the copy), or another protocol, which must be
  // of the same socket type (else std::bad_cast, as Asio throws).
  template <typename Protocol>
  raw_protocol(const Protocol& source_protocol)
    : boost::asio::generic::raw_protocol(source_protocol) {}
};

} // namespace asio_uring::generic
