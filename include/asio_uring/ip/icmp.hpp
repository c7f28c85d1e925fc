// asio_uring::ip::icmp: Asio's ICMP protocol whose raw socket is ours
// (opening one needs CAP_NET_RAW, or a ping_group_range that admits the user).
#pragma once

#include <asio_uring/basic_raw_socket.hpp>

#include <boost/asio/ip/basic_resolver.hpp>
#include <boost/asio/ip/icmp.hpp>

namespace asio_uring::ip {

// As ip::tcp: derives from and converts from Asio's protocol; the endpoint
// and resolver are Asio's.
class icmp : public boost::asio::ip::icmp
{
public:
  using endpoint = boost::asio::ip::icmp::endpoint;
  using socket = basic_raw_socket<icmp>;
  using resolver = boost::asio::ip::basic_resolver<boost::asio::ip::icmp>;

  icmp(const boost::asio::ip::icmp& p) noexcept : boost::asio::ip::icmp(p) {}

  static icmp v4() noexcept { return boost::asio::ip::icmp::v4(); }
  static icmp v6() noexcept { return boost::asio::ip::icmp::v6(); }
  // == and != are Asio's (found through the base class), so ours and
  // Asio's compare with each other without ambiguity.
};

} // namespace asio_uring::ip
