// asio_uring::ip::udp: Asio's UDP protocol whose socket is ours.
#pragma once

#include <asio_uring/basic_datagram_socket.hpp>

#include <boost/asio/ip/basic_resolver.hpp>
#include <boost/asio/ip/udp.hpp>

namespace asio_uring::ip {

// As ip::tcp: derives from and converts from Asio's protocol; the endpoint
// and resolver are Asio's.
class udp : public boost::asio::ip::udp
{
public:
  using endpoint = boost::asio::ip::udp::endpoint;
  using socket = basic_datagram_socket<udp>;
  using resolver = boost::asio::ip::basic_resolver<boost::asio::ip::udp>;

  udp(const boost::asio::ip::udp& p) noexcept : boost::asio::ip::udp(p) {}

  static udp v4() noexcept { return boost::asio::ip::udp::v4(); }
  static udp v6() noexcept { return boost::asio::ip::udp::v6(); }
  // == and != are Asio's (found through the base class), so ours and
  // Asio's compare with each other without ambiguity.
};

} // namespace asio_uring::ip
