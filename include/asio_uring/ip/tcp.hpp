// asio_uring::ip::tcp: Asio's TCP protocol whose sockets and acceptor are ours.
#pragma once

#include <asio_uring/basic_socket_acceptor.hpp>
#include <asio_uring/basic_stream_socket.hpp>

#include <boost/asio/basic_socket_iostream.hpp>
#include <boost/asio/ip/basic_resolver.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace asio_uring::ip {

// Derives from Asio's protocol and converts from it, so Asio's endpoints
// (whose protocol() is Asio's tcp), resolver results and socket options work
// unchanged. The resolver and iostream are Asio's: getaddrinfo runs on Asio's
// resolver thread; a tcp::iostream does its I/O on Asio's own reactor.
class tcp : public boost::asio::ip::tcp
{
public:
  using endpoint = boost::asio::ip::tcp::endpoint;
  using socket = basic_stream_socket<tcp>;
  using acceptor = basic_socket_acceptor<tcp>;
  using resolver = boost::asio::ip::basic_resolver<boost::asio::ip::tcp>;
  using iostream = boost::asio::basic_socket_iostream<boost::asio::ip::tcp>;

  tcp(const boost::asio::ip::tcp& p) noexcept : boost::asio::ip::tcp(p) {}

  static tcp v4() noexcept { return boost::asio::ip::tcp::v4(); }
  static tcp v6() noexcept { return boost::asio::ip::tcp::v6(); }
  // == and != are Asio's (found through the base class), so ours and
  // Asio's compare with each other without ambiguity.
};

} // namespace asio_uring::ip
