// asio_uring::connect / async_connect over an endpoint sequence (a resolver's
// results): Asio's free functions take only boost::asio::basic_socket, so
// these are their counterparts for our sockets, with the same behaviour:
// try each endpoint in turn, closing the socket between attempts; complete
// with the endpoint that connected or the last error.
#pragma once

#include <asio_uring/basic_socket.hpp>

#include <boost/asio/compose.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace asio_uring {

template <typename Protocol, typename Executor, typename EndpointSequence>
typename Protocol::endpoint connect(basic_socket<Protocol, Executor>& s,
    const EndpointSequence& endpoints, boost::system::error_code& ec)
{
  ec = boost::asio::error::not_found;
  for (const auto& entry : endpoints)
  {
    typename Protocol::endpoint ep = entry;
    s.close(ec);
    s.connect(ep, ec);
    if (!ec) return ep;
  }
  return typename Protocol::endpoint();
}

template <typename Protocol, typename Executor, typename EndpointSequence>
typename Protocol::endpoint connect(basic_socket<Protocol, Executor>& s, const EndpointSequence& endpoints)
{
  boost::system::error_code ec;
  auto ep = asio_uring::connect(s, endpoints, ec);
  boost::asio::detail::throw_error(ec, "connect");
  return ep;
}

namespace detail {

template <typename Protocol, typename Executor, typename EndpointSequence>
struct range_connect_op : boost::asio::coroutine
{
  basic_socket<Protocol, Executor>& socket;
  EndpointSequence endpoints;
  typename EndpointSequence::const_iterator it{};
  boost::system::error_code last = boost::asio::error::not_found;

  template <typename Self>
  void operator()(Self& self, boost::system::error_code ec = {})
  {
    BOOST_ASIO_CORO_REENTER(*this)
    {
      for (it = endpoints.begin(); it != endpoints.end(); ++it)
      {
        socket.close(ec);
        BOOST_ASIO_CORO_YIELD socket.async_connect(typename Protocol::endpoint(*it), std::move(self));
        if (!ec)
        {
          self.complete(ec, typename Protocol::endpoint(*it));
          return;
        }
        last = ec;
      }
      if (endpoints.begin() == endpoints.end())
      {
        // Complete through the executor, never inside the initiating call.
        BOOST_ASIO_CORO_YIELD boost::asio::post(socket.get_executor(), std::move(self));
      }
      self.complete(last, typename Protocol::endpoint());
    }
  }
};

} // namespace detail

// Completes with (error_code, endpoint).
template <typename Protocol, typename Executor, typename EndpointSequence,
    typename ConnectToken = boost::asio::default_completion_token_t<Executor>>
auto async_connect(basic_socket<Protocol, Executor>& s, const EndpointSequence& endpoints,
    ConnectToken&& token = boost::asio::default_completion_token_t<Executor>())
{
  return boost::asio::async_compose<ConnectToken,
      void(boost::system::error_code, typename Protocol::endpoint)>(
      detail::range_connect_op<Protocol, Executor, EndpointSequence>{{}, s, endpoints}, token, s);
}

} // namespace asio_uring
