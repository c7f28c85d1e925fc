// asio_uring::ip::tcp: Asio's TCP protocol with our socket types.
#pragma once

#include <asio_uring/basic_socket_acceptor.hpp>
#include <asio_uring/basic_stream_socket.hpp>

#include <boost/asio/ip/tcp.hpp>

namespace asio_uring::ip {

// The protocol object is Asio's; only the I/O objects are ours. The resolver
// is Asio's own: getaddrinfo runs on Asio's resolver thread and the handler
// completes through our executor.
struct tcp
{
  using protocol = boost::asio::ip::tcp;
  using endpoint = boost::asio::ip::tcp::endpoint;
  using socket = basic_stream_socket<boost::asio::ip::tcp>;
  using acceptor = basic_socket_acceptor<boost::asio::ip::tcp>;
  using resolver = boost::asio::ip::basic_resolver<boost::asio::ip::tcp, boost::asio::any_io_executor>;
  using no_delay = boost::asio::ip::tcp::no_delay;
  static boost::asio::ip::tcp v4() noexcept { return boost::asio::ip::tcp::v4(); }
  static boost::asio::ip::tcp v6() noexcept { return boost::asio::ip::tcp::v6(); }
};

} // namespace asio_uring::ip
