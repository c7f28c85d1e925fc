// boost::asio::connect / async_connect for our sockets. Asio declares its
// free functions for boost::asio::basic_socket only, and users call them
// qualified, so the overloads for asio_uring::basic_socket live in namespace
// boost::asio (they cannot collide with Asio's: the socket parameter types
// differ). asio_uring::connect / async_connect are the same functions, by
// using-declarations, so qualified and unqualified (ADL) calls agree.
//
// Behaviour is Asio's: each endpoint the condition accepts is tried in turn,
// the socket closed before each attempt; the result is the endpoint (or
// iterator) that connected, or the last error, or not_found when no endpoint
// was tried. An asynchronous connect never completes inside the initiating
// call, honours partial cancellation of the attempt in progress and stops
// with operation_aborted when the socket was closed.
#pragma once

#include <asio_uring/basic_socket.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <iterator>
#include <utility>

namespace asio_uring::detail {

// Asio's own condition helpers (impl/connect.hpp): the default condition
// accepts every endpoint; call_connect_condition also takes the legacy
// conditions that return an iterator.
using boost::asio::detail::call_connect_condition;
using boost::asio::detail::default_connect_condition;

template <typename Socket, typename Iterator, typename ConnectCondition>
Iterator connect_each(Socket& s, Iterator begin, Iterator end, ConnectCondition condition,
    boost::system::error_code& ec)
{
  ec.clear();
  for (Iterator it = begin; it != end; ++it)
  {
    it = call_connect_condition(condition, ec, it, end);
    if (it == end) break;
    s.close(ec);
    s.connect(*it, ec);
    if (!ec) return it;
  }
  if (!ec) ec = boost::asio::error::not_found;
  return end;
}

template <typename Socket, typename EndpointSequence, typename ConnectCondition>
typename Socket::endpoint_type connect_range(Socket& s, const EndpointSequence& endpoints,
    ConnectCondition condition, boost::system::error_code& ec)
{
  auto it = detail::connect_each(s, endpoints.begin(), endpoints.end(), condition, ec);
  return ec ? typename Socket::endpoint_type() : typename Socket::endpoint_type(*it);
}

// How a composed connect makes one attempt. For a socket: its own
// async_connect; a socket closed under the operation ends it with
// operation_aborted. (tcp_stream supplies a connector with its deadline.)
template <typename Socket>
struct socket_connector
{
  using endpoint_type = typename Socket::endpoint_type;
  Socket& s;
  Socket& socket() const noexcept { return s; }
  template <typename Handler>
  void async_connect(const endpoint_type& ep, Handler&& h) const
  {
    s.async_connect(ep, std::forward<Handler>(h));
  }
  boost::system::error_code closed_error(const boost::system::error_code&) const
  {
    return boost::asio::error::operation_aborted;
  }
};

// A pair of iterators as a range, so one operation serves both forms.
template <typename Iterator>
struct iterator_range
{
  Iterator first, last;
  Iterator begin() const { return first; }
  Iterator end() const { return last; }
};

// The attempts of async_connect over Range. The position is kept as an index,
// so it stays valid when the operation (holding its copy of the sequence) moves.
// Completes with (error_code, endpoint) when ToEndpoint, else (error_code, iterator).
template <typename Connector, typename Range, typename ConnectCondition, bool ToEndpoint>
struct connect_op : boost::asio::coroutine
{
  Connector connector;
  Range range;
  ConnectCondition condition;
  std::size_t index = 0;

  template <typename Self>
  void operator()(Self& self, boost::system::error_code ec = {})
  {
    const auto begin = range.begin(), end = range.end();
    auto it = std::next(begin, static_cast<std::ptrdiff_t>(index));
    BOOST_ASIO_CORO_REENTER(*this)
    {
      self.reset_cancellation_state(boost::asio::enable_partial_cancellation());
      it = call_connect_condition(condition, ec, it, end);
      index = static_cast<std::size_t>(std::distance(begin, it));
      if (it == end)
      {
        // Nothing to try: not_found, through the executor.
        BOOST_ASIO_CORO_YIELD boost::asio::post(connector.socket().get_executor(),
            boost::asio::append(std::move(self), boost::system::error_code(boost::asio::error::not_found)));
      }
      else for (;;)
      {
        connector.socket().close(ec);
        BOOST_ASIO_CORO_YIELD connector.async_connect(
            typename Connector::endpoint_type(*it), std::move(self));
        if (!ec) break;
        if (!connector.socket().is_open())
        {
          ec = connector.closed_error(ec);
          break;
        }
        if (self.cancelled() != boost::asio::cancellation_type::none)
        {
          ec = boost::asio::error::operation_aborted;
          break;
        }
        it = call_connect_condition(condition, ec, ++it, end);
        index = static_cast<std::size_t>(std::distance(begin, it));
        if (it == end) break;
      }
      if constexpr (ToEndpoint)
        self.complete(ec, ec || it == end ? typename Connector::endpoint_type()
                                           : typename Connector::endpoint_type(*it));
      else
        self.complete(ec, it);
    }
  }
};

template <typename Connector, typename EndpointSequence, typename ConnectCondition, typename Token>
auto async_connect_range(Connector c, const EndpointSequence& endpoints,
    const ConnectCondition& condition, Token&& token)
{
  using endpoint = typename Connector::endpoint_type;
  return boost::asio::async_compose<Token, void(boost::system::error_code, endpoint)>(
      connect_op<Connector, EndpointSequence, ConnectCondition, true>{{}, c, endpoints, condition},
      token, c.socket());
}

template <typename Connector, typename Iterator, typename ConnectCondition, typename Token>
auto async_connect_iterators(Connector c, Iterator begin, Iterator end,
    const ConnectCondition& condition, Token&& token)
{
  return boost::asio::async_compose<Token, void(boost::system::error_code, Iterator)>(
      connect_op<Connector, iterator_range<Iterator>, ConnectCondition, false>{
          {}, c, {begin, end}, condition},
      token, c.socket());
}

template <typename Protocol, typename Executor>
socket_connector<basic_socket<Protocol, Executor>> connector_for(basic_socket<Protocol, Executor>& s)
{
  return {s};
}

} // namespace asio_uring::detail

namespace boost::asio {

// --- synchronous --------------------------------------------------------------

template <typename Protocol, typename Executor, typename EndpointSequence>
typename Protocol::endpoint connect(asio_uring::basic_socket<Protocol, Executor>& s,
    const EndpointSequence& endpoints,
    std::enable_if_t<is_endpoint_sequence<EndpointSequence>::value, int> = 0)
{
  boost::system::error_code ec;
  auto ep = asio_uring::detail::connect_range(s, endpoints, detail::default_connect_condition(), ec);
  boost::asio::detail::throw_error(ec, "connect");
  return ep;
}

template <typename Protocol, typename Executor, typename EndpointSequence>
typename Protocol::endpoint connect(asio_uring::basic_socket<Protocol, Executor>& s,
    const EndpointSequence& endpoints, boost::system::error_code& ec,
    std::enable_if_t<is_endpoint_sequence<EndpointSequence>::value, int> = 0)
{
  return asio_uring::detail::connect_range(s, endpoints, detail::default_connect_condition(), ec);
}

template <typename Protocol, typename Executor, typename EndpointSequence, typename ConnectCondition>
typename Protocol::endpoint connect(asio_uring::basic_socket<Protocol, Executor>& s,
    const EndpointSequence& endpoints, ConnectCondition connect_condition,
    std::enable_if_t<is_endpoint_sequence<EndpointSequence>::value, int> = 0)
{
  boost::system::error_code ec;
  auto ep = asio_uring::detail::connect_range(s, endpoints, connect_condition, ec);
  boost::asio::detail::throw_error(ec, "connect");
  return ep;
}

template <typename Protocol, typename Executor, typename EndpointSequence, typename ConnectCondition>
typename Protocol::endpoint connect(asio_uring::basic_socket<Protocol, Executor>& s,
    const EndpointSequence& endpoints, ConnectCondition connect_condition,
    boost::system::error_code& ec,
    std::enable_if_t<is_endpoint_sequence<EndpointSequence>::value, int> = 0)
{
  return asio_uring::detail::connect_range(s, endpoints, connect_condition, ec);
}

template <typename Protocol, typename Executor, typename Iterator>
Iterator connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin, Iterator end)
{
  boost::system::error_code ec;
  Iterator it = asio_uring::detail::connect_each(s, begin, end, detail::default_connect_condition(), ec);
  boost::asio::detail::throw_error(ec, "connect");
  return it;
}

template <typename Protocol, typename Executor, typename Iterator>
Iterator connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin, Iterator end,
    boost::system::error_code& ec)
{
  return asio_uring::detail::connect_each(s, begin, end, detail::default_connect_condition(), ec);
}

template <typename Protocol, typename Executor, typename Iterator, typename ConnectCondition>
Iterator connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin, Iterator end,
    ConnectCondition connect_condition)
{
  boost::system::error_code ec;
  Iterator it = asio_uring::detail::connect_each(s, begin, end, connect_condition, ec);
  boost::asio::detail::throw_error(ec, "connect");
  return it;
}

template <typename Protocol, typename Executor, typename Iterator, typename ConnectCondition>
Iterator connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin, Iterator end,
    ConnectCondition connect_condition, boost::system::error_code& ec)
{
  return asio_uring::detail::connect_each(s, begin, end, connect_condition, ec);
}

#if !defined(BOOST_ASIO_NO_DEPRECATED)
// Iterator forms without an end (a default-constructed iterator ends the
// sequence), deprecated in Asio as here.
template <typename Protocol, typename Executor, typename Iterator>
Iterator connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin,
    std::enable_if_t<!is_endpoint_sequence<Iterator>::value, int> = 0)
{
  return boost::asio::connect(s, begin, Iterator());
}

template <typename Protocol, typename Executor, typename Iterator>
Iterator connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin,
    boost::system::error_code& ec, std::enable_if_t<!is_endpoint_sequence<Iterator>::value, int> = 0)
{
  return boost::asio::connect(s, begin, Iterator(), ec);
}

template <typename Protocol, typename Executor, typename Iterator, typename ConnectCondition>
Iterator connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin,
    ConnectCondition connect_condition,
    std::enable_if_t<!is_endpoint_sequence<Iterator>::value, int> = 0)
{
  return boost::asio::connect(s, begin, Iterator(), connect_condition);
}

template <typename Protocol, typename Executor, typename Iterator, typename ConnectCondition>
Iterator connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin,
    ConnectCondition connect_condition, boost::system::error_code& ec,
    std::enable_if_t<!is_endpoint_sequence<Iterator>::value, int> = 0)
{
  return boost::asio::connect(s, begin, Iterator(), connect_condition, ec);
}
#endif // !defined(BOOST_ASIO_NO_DEPRECATED)

// --- asynchronous ---------------------------------------------------------------

// Completes with (error_code, endpoint).
template <typename Protocol, typename Executor, typename EndpointSequence,
    completion_token_for<void(boost::system::error_code, typename Protocol::endpoint)>
        RangeConnectToken = default_completion_token_t<Executor>>
auto async_connect(asio_uring::basic_socket<Protocol, Executor>& s,
    const EndpointSequence& endpoints,
    RangeConnectToken&& token = default_completion_token_t<Executor>(),
    std::enable_if_t<is_endpoint_sequence<EndpointSequence>::value, int> = 0)
{
  return asio_uring::detail::async_connect_range(asio_uring::detail::connector_for(s), endpoints,
      detail::default_connect_condition(), std::forward<RangeConnectToken>(token));
}

template <typename Protocol, typename Executor, typename EndpointSequence, typename ConnectCondition,
    completion_token_for<void(boost::system::error_code, typename Protocol::endpoint)>
        RangeConnectToken = default_completion_token_t<Executor>>
auto async_connect(asio_uring::basic_socket<Protocol, Executor>& s,
    const EndpointSequence& endpoints, ConnectCondition connect_condition,
    RangeConnectToken&& token = default_completion_token_t<Executor>(),
    std::enable_if_t<is_endpoint_sequence<EndpointSequence>::value, int> = 0)
{
  return asio_uring::detail::async_connect_range(asio_uring::detail::connector_for(s), endpoints,
      connect_condition, std::forward<RangeConnectToken>(token));
}

// Completes with (error_code, iterator).
template <typename Protocol, typename Executor, typename Iterator,
    completion_token_for<void(boost::system::error_code, Iterator)>
        IteratorConnectToken = default_completion_token_t<Executor>>
auto async_connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin, Iterator end,
    IteratorConnectToken&& token = default_completion_token_t<Executor>())
{
  return asio_uring::detail::async_connect_iterators(asio_uring::detail::connector_for(s), begin, end,
      detail::default_connect_condition(), std::forward<IteratorConnectToken>(token));
}

template <typename Protocol, typename Executor, typename Iterator, typename ConnectCondition,
    completion_token_for<void(boost::system::error_code, Iterator)>
        IteratorConnectToken = default_completion_token_t<Executor>>
auto async_connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin, Iterator end,
    ConnectCondition connect_condition,
    IteratorConnectToken&& token = default_completion_token_t<Executor>())
{
  return asio_uring::detail::async_connect_iterators(asio_uring::detail::connector_for(s), begin, end,
      connect_condition, std::forward<IteratorConnectToken>(token));
}

#if !defined(BOOST_ASIO_NO_DEPRECATED)
template <typename Protocol, typename Executor, typename Iterator,
    completion_token_for<void(boost::system::error_code, Iterator)>
        IteratorConnectToken = default_completion_token_t<Executor>>
auto async_connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin,
    IteratorConnectToken&& token = default_completion_token_t<Executor>(),
    std::enable_if_t<!is_endpoint_sequence<Iterator>::value, int> = 0)
{
  return asio_uring::detail::async_connect_iterators(asio_uring::detail::connector_for(s), begin,
      Iterator(), detail::default_connect_condition(), std::forward<IteratorConnectToken>(token));
}

template <typename Protocol, typename Executor, typename Iterator, typename ConnectCondition,
    completion_token_for<void(boost::system::error_code, Iterator)>
        IteratorConnectToken = default_completion_token_t<Executor>>
auto async_connect(asio_uring::basic_socket<Protocol, Executor>& s, Iterator begin,
    ConnectCondition connect_condition,
    IteratorConnectToken&& token = default_completion_token_t<Executor>(),
    std::enable_if_t<!is_endpoint_sequence<Iterator>::value, int> = 0)
{
  return asio_uring::detail::async_connect_iterators(asio_uring::detail::connector_for(s), begin,
      Iterator(), connect_condition, std::forward<IteratorConnectToken>(token));
}
#endif // !defined(BOOST_ASIO_NO_DEPRECATED)

} // namespace boost::asio

namespace asio_uring {

using boost::asio::connect;
using boost::asio::async_connect;

} // namespace asio_uring
