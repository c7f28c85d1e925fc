// Boost.Beast's customisation points for our sockets, found by ADL: the
// websocket closing handshake's last step (teardown / async_teardown) and
// beast::close_socket's beast_close_socket. Beast declares them only for
// boost::asio's sockets. Included by basic_stream_socket.hpp, so they are
// there whenever our sockets are, whether or not (and whenever) Beast is
// included: nothing here needs Beast. Beast's role_type is declared opaquely
// (a scoped enum's declaration without its enumerators, compatible with
// Beast's definition); only Beast code can produce a value of it.
#pragma once

#include <asio_uring/basic_stream_socket.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/post.hpp>

namespace boost::beast {
enum class role_type;
} // namespace boost::beast

namespace asio_uring {

namespace detail {

// Beast's order: a server shuts down its sending side first, then reads until
// the peer's end of file; a client reads until the end of file (the server's
// shutdown), then shuts down. Then the socket is closed.
inline bool teardown_is_server(boost::beast::role_type role) noexcept
{
  return static_cast<int>(role) == 1;  // role_type::server; client is 0
}

template <typename Protocol, typename Executor>
struct teardown_op : boost::asio::coroutine
{
  basic_stream_socket<Protocol, Executor>& socket;
  bool server;
  bool waited = false;
  std::unique_ptr<char[]> buf{new char[2048]};

  template <typename Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0)
  {
    BOOST_ASIO_CORO_REENTER(*this)
    {
      if (server) socket.shutdown(boost::asio::socket_base::shutdown_send, ec);
      while (!ec)
      {
        waited = true;
        BOOST_ASIO_CORO_YIELD socket.async_read_some(boost::asio::buffer(buf.get(), 2048), std::move(self));
      }
      if (!waited)
      {
        // The shutdown failed: complete through the executor, never inside
        // the initiating call.
        BOOST_ASIO_CORO_YIELD boost::asio::post(socket.get_executor(),
            boost::asio::append(std::move(self), ec, std::size_t(0)));
      }
      if (ec == boost::asio::error::eof)
      {
        ec = {};
        if (!server) socket.shutdown(boost::asio::socket_base::shutdown_send, ec);
        if (!ec) socket.close(ec);
      }
      self.complete(ec);
    }
  }
};

} // namespace detail

template <typename Protocol, typename Executor>
void beast_close_socket(basic_socket<Protocol, Executor>& socket)
{
  boost::system::error_code ignored;
  socket.close(ignored);
}

template <typename Protocol, typename Executor>
void teardown(boost::beast::role_type role, basic_stream_socket<Protocol, Executor>& socket,
    boost::system::error_code& ec)
{
  const bool server = detail::teardown_is_server(role);
  ec.clear();
  if (server) socket.shutdown(boost::asio::socket_base::shutdown_send, ec);
  char buf[2048];
  while (!ec) socket.read_some(boost::asio::buffer(buf), ec);
  if (ec != boost::asio::error::eof) return;
  ec.clear();
  if (!server) socket.shutdown(boost::asio::socket_base::shutdown_send, ec);
  if (!ec) socket.close(ec);
}

// Completes with (error_code).
template <typename Protocol, typename Executor, typename TeardownHandler>
void async_teardown(boost::beast::role_type role, basic_stream_socket<Protocol, Executor>& socket,
    TeardownHandler&& handler)
{
  boost::asio::async_compose<TeardownHandler, void(boost::system::error_code)>(
      detail::teardown_op<Protocol, Executor>{{}, socket, detail::teardown_is_server(role)},
      handler, socket);
}

} // namespace asio_uring
