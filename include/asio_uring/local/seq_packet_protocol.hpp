// asio_uring::local::seq_packet_protocol: Unix-domain sequenced-packet
// sockets (SOCK_SEQPACKET). Boost 1.81's Asio has no such protocol (it came
// with Asio 1.28), so this one is ours entirely, shaped like Asio's local
// protocols; its endpoint is Asio's local::basic_endpoint.
#pragma once

#include <asio_uring/basic_seq_packet_socket.hpp>
#include <asio_uring/basic_socket_acceptor.hpp>

#include <boost/asio/local/basic_endpoint.hpp>

#include <sys/socket.h>

namespace asio_uring::local {

class seq_packet_protocol
{
public:
  int type() const noexcept { return SOCK_SEQPACKET; }
  int protocol() const noexcept { return 0; }
  int family() const noexcept { return AF_UNIX; }

  using endpoint = boost::asio::local::basic_endpoint<seq_packet_protocol>;
  using socket = basic_seq_packet_socket<seq_packet_protocol>;
  using acceptor = basic_socket_acceptor<seq_packet_protocol>;
};

} // namespace asio_uring::local
