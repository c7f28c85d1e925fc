// asio_uring::generic::seq_packet_protocol: sequenced-packet sockets of ours,
// for any address family and protocol chosen at run time.
#pragma once

#include <asio_uring/basic_seq_packet_socket.hpp>

#include <boost/asio/generic/seq_packet_protocol.hpp>

namespace asio_uring::generic {

// Derives from Asio's protocol; constructible, as Asio's, from a family and
// protocol or from any protocol object of the same socket type. The endpoint
// (Asio's generic::basic_endpoint) holds any address.
class seq_packet_protocol : public boost::asio::generic::seq_packet_protocol
{
public:
  using endpoint = boost::asio::generic::seq_packet_protocol::endpoint;
  using socket = basic_seq_packet_socket<seq_packet_protocol>;

  seq_packet_protocol(int address_family, int socket_protocol)
    : boost::asio::generic::seq_packet_protocol(address_family, socket_protocol) {}
  // Asio's generic protocol (the copy), or another protocol, which must be
  // of the same socket type (else std::bad_cast, as Asio throws).
  template <typename Protocol>
  seq_packet_protocol(const Protocol& source_protocol)
    : boost::asio::generic::seq_packet_protocol(source_protocol) {}
};

} // namespace asio_uring::generic
