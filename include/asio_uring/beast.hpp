// Boost.Beast support for our sockets: the websocket teardown customisation
// and beast_close_socket customisations (Beast provides them only for
// boost::asio's sockets), found by ADL.
// Include this where websocket::stream<asio_uring::ip::tcp::socket> is used.
#pragma once

#include <asio_uring/basic_stream_socket.hpp>

#include <boost/asio/compose.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/role.hpp>

namespace asio_uring {

namespace detail {

// Shut down our side, read until the peer closes, close: the websocket
// closing handshake's last step.
template <typename Protocol, typename Executor>
struct teardown_op : boost::asio::coroutine
{
  basic_stream_socket<Protocol, Executor>& socket;
  bool read_once = false;
  std::unique_ptr<char[]> buf{new char[2048]};

  template <typename Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0)
  {
    BOOST_ASIO_CORO_REENTER(*this)
    {
      socket.shutdown(boost::asio::socket_base::shutdown_send, ec);
      while (!ec)
      {
        read_once = true;
        BOOST_ASIO_CORO_YIELD socket.async_read_some(boost::asio::buffer(buf.get(), 2048), std::move(self));
      }
      if (!read_once)
      {
        BOOST_ASIO_CORO_YIELD boost::asio::post(socket.get_executor(),
            boost::asio::append(std::move(self), ec, std::size_t(0)));
      }
      if (ec == boost::asio::error::eof) ec = {};
      {
        boost::system::error_code ignored;
        socket.close(ignored);
      }
      self.complete(ec);
    }
  }
};

} // namespace detail

// Beast's customisation point for closing the lowest layer (used by
// websocket on failure and by beast::close_socket).
template <typename Protocol, typename Executor>
void beast_close_socket(basic_socket<Protocol, Executor>& socket)
{
  boost::system::error_code ignored;
  socket.close(ignored);
}

template <typename Protocol, typename Executor>
void teardown(boost::beast::role_type, basic_stream_socket<Protocol, Executor>& socket,
    boost::system::error_code& ec)
{
  socket.shutdown(boost::asio::socket_base::shutdown_send, ec);
  char buf[2048];
  while (!ec) socket.read_some(boost::asio::buffer(buf), ec);
  if (ec == boost::asio::error::eof) ec = {};
  boost::system::error_code ignored;
  socket.close(ignored);
}

template <typename Protocol, typename Executor, typename TeardownHandler>
void async_teardown(boost::beast::role_type, basic_stream_socket<Protocol, Executor>& socket,
    TeardownHandler&& handler)
{
  boost::asio::async_compose<TeardownHandler, void(boost::system::error_code)>(
      detail::teardown_op<Protocol, Executor>{{}, socket}, handler, socket);
}

} // namespace asio_uring
