// asio_uring::local::connect_pair: a connected pair of Unix-domain sockets
// of ours (socketpair), as Asio's local::connect_pair is for its sockets.
#pragma once

#include <asio_uring/basic_socket.hpp>

#include <boost/asio/detail/throw_error.hpp>

#include <sys/socket.h>
#include <unistd.h>

namespace asio_uring::local {

template <typename Protocol, typename Executor1, typename Executor2>
void connect_pair(basic_socket<Protocol, Executor1>& socket1, basic_socket<Protocol, Executor2>& socket2,
    boost::system::error_code& ec)
{
  Protocol protocol;
  int fds[2];
  if (::socketpair(protocol.family(), protocol.type() | SOCK_CLOEXEC, protocol.protocol(), fds) != 0)
  {
    ec = detail::last_error();
    return;
  }
  socket1.assign(protocol, fds[0], ec);
  if (ec)
  {
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  socket2.assign(protocol, fds[1], ec);
  if (ec)
  {
    boost::system::error_code ignored;
    socket1.close(ignored);
    ::close(fds[1]);
  }
}

template <typename Protocol, typename Executor1, typename Executor2>
void connect_pair(basic_socket<Protocol, Executor1>& socket1, basic_socket<Protocol, Executor2>& socket2)
{
  boost::system::error_code ec;
  connect_pair(socket1, socket2, ec);
  boost::asio::detail::throw_error(ec, "connect_pair");
}

} // namespace asio_uring::local
