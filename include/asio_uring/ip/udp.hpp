// asio_uring::ip::udp: Asio's UDP protocol with our socket type.
#pragma once

#include <asio_uring/basic_datagram_socket.hpp>

#include <boost/asio/ip/udp.hpp>

namespace asio_uring::ip {

struct udp
{
  using protocol = boost::asio::ip::udp;
  using endpoint = boost::asio::ip::udp::endpoint;
  using socket = basic_datagram_socket<boost::asio::ip::udp>;
  using resolver = boost::asio::ip::basic_resolver<boost::asio::ip::udp, boost::asio::any_io_executor>;
  static boost::asio::ip::udp v4() noexcept { return boost::asio::ip::udp::v4(); }
  static boost::asio::ip::udp v6() noexcept { return boost::asio::ip::udp::v6(); }
};

} // namespace asio_uring::ip
