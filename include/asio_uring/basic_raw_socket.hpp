// asio_uring::basic_raw_socket: Asio's raw socket interface (ip::icmp,
// generic::raw_protocol); the same members as basic_datagram_socket.
#pragma once

#include <asio_uring/basic_datagram_socket.hpp>

namespace asio_uring {

template <typename Protocol, typename Executor = boost::asio::any_io_executor>
class basic_raw_socket : public detail::message_socket<Protocol, Executor>
{
  using base = detail::message_socket<Protocol, Executor>;

public:
  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_raw_socket<Protocol, OtherExecutor>;
  };

  using base::base;
  basic_raw_socket(basic_raw_socket&&) noexcept = default;
  basic_raw_socket& operator=(basic_raw_socket&&) = default;
  template <typename P1, typename E1, typename = std::enable_if_t<
      std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>>>
  basic_raw_socket(basic_raw_socket<P1, E1>&& o) : base(std::move(o)) {}
  template <typename P1, typename E1>
  std::enable_if_t<std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>,
      basic_raw_socket&> operator=(basic_raw_socket<P1, E1>&& o)
  {
    base::operator=(std::move(o));
    return *this;
  }
};

} // namespace asio_uring
