// asio_uring::tcp_stream: Boost.Beast's basic_stream<tcp, Executor, RatePolicy>
// on our socket, member for member. As in Beast, when the deadline
// (expires_after / expires_at) passes with an operation pending, the socket is
// closed and every operation pending on it completes with
// beast::error::timeout. Each timed operation is one SQE linked to an
// IORING_OP_LINK_TIMEOUT: no timer objects, no extra wake-ups.
//
// Rate policies are Beast's (unlimited_rate_policy, simple_rate_policy or a
// user's, through beast::rate_policy_access). A limited stream transfers at
// most the policy's available bytes per operation and, when none are left,
// waits for the policy's next one-second tick, as Beast's does; the deadline
// covers the transfer's SQE, not that wait.
#pragma once

#include <asio_uring/basic_stream_socket.hpp>
#include <asio_uring/basic_waitable_timer.hpp>
#include <asio_uring/connect.hpp>
#include <asio_uring/ip/tcp.hpp>

#include <boost/asio/compose.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/rate_policy.hpp>

#include <chrono>
#include <memory>
#include <type_traits>

namespace asio_uring::detail {
struct rate_access_tag;
} // namespace asio_uring::detail

namespace boost::beast {

template <class Protocol, class Executor, class RatePolicy>
class basic_stream;

// beast::rate_policy_access, Beast's only way to a RatePolicy's members, opens
// them to beast::basic_stream alone, that is to every specialisation of it.
// This one, on a type of ours that nothing else uses, is our access.
template <>
class basic_stream<asio_uring::detail::rate_access_tag, asio_uring::detail::rate_access_tag,
    asio_uring::detail::rate_access_tag>
{
public:
  template <bool Read, typename Policy>
  static std::size_t available(Policy& p)
  {
    return Read ? rate_policy_access::available_read_bytes(p)
                : rate_policy_access::available_write_bytes(p);
  }
  template <bool Read, typename Policy>
  static void transfer(Policy& p, std::size_t n)
  {
    if constexpr (Read) rate_policy_access::transfer_read_bytes(p, n);
    else rate_policy_access::transfer_write_bytes(p, n);
  }
  template <typename Policy>
  static void on_timer(Policy& p) { rate_policy_access::on_timer(p); }
};

} // namespace boost::beast

namespace asio_uring {

namespace detail {

using rate_access = boost::beast::basic_stream<rate_access_tag, rate_access_tag, rate_access_tag>;

template <typename RatePolicy>
inline constexpr bool is_unlimited_v = std::is_same_v<RatePolicy, boost::beast::unlimited_rate_policy>;

// The one-second tick of a limited stream; nothing for an unlimited one.
template <typename Executor, bool Limited>
struct rate_timer
{
  template <typename E> explicit rate_timer(const E&) {}
  void cancel() {}
};
template <typename Executor>
struct rate_timer<Executor, true>
{
  template <typename E> explicit rate_timer(const E& ex) : timer(ex) {}
  void cancel() { timer.cancel(); }
  basic_waitable_timer<std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>,
      Executor> timer;
  bool armed = false;
};

// What a tcp_stream's operations share with it: the socket (closed by the
// first operation that times out), whether that happened, the rate policy and
// its timer. Operations hold a reference, so it outlives a stream destroyed
// or moved while they are pending.
template <typename Socket, typename RatePolicy>
struct tcp_stream_state
{
  template <typename Policy, typename... Args>
  explicit tcp_stream_state(Policy&& p, Args&&... a)
    : socket(std::forward<Args>(a)...), policy(std::forward<Policy>(p)), rate(socket.get_executor())
  {
  }
  Socket socket;
  RatePolicy policy;
  rate_timer<typename Socket::executor_type, !is_unlimited_v<RatePolicy>> rate;
  bool timed_out = false;  // closed by a timeout since the last new deadline
};

// Adds a deadline to a request kind: prep stays Inner's. A request cancelled
// because its deadline passed closes the stream's socket; it and every other
// request cancelled by that close complete with beast::error::timeout.
template <typename Inner, typename State>
struct timed_kind : Inner
{
  using clock = std::chrono::steady_clock;

  template <typename... Args>
  timed_kind(std::shared_ptr<State> state, clock::time_point expiry, Args&&... args)
    : Inner(std::forward<Args>(args)...), state_(std::move(state)), expiry_(expiry)
  {
  }

  __kernel_timespec* link_timeout()
  {
    if (expiry_ == clock::time_point::max()) return nullptr;
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(expiry_ - clock::now()).count();
    if (left < 0) left = 0;
    ts_.tv_sec = left / 1000000000;
    ts_.tv_nsec = left % 1000000000;
    return &ts_;
  }

  auto result(int res)
  {
    auto r = Inner::result(res);
    if (res != -ECANCELED) return r;
    // The socket is closed only if it is still the descriptor this request
    // used (the user may have closed it, which also cancels).
    if (!state_->timed_out && expiry_ != clock::time_point::max() && clock::now() >= expiry_
        && state_->socket.native_handle() == this->Inner::fd)
    {
      state_->timed_out = true;
      boost::system::error_code ignored;
      state_->socket.close(ignored);  // ends the stream's other operations too
    }
    if (state_->timed_out) std::get<0>(r) = boost::beast::error::timeout;
    return r;
  }

  std::shared_ptr<State> state_;
  clock::time_point expiry_;
  __kernel_timespec ts_{};
};

// Keeps the first `limit` bytes of the iovecs.
template <std::size_t N>
void truncate(iov_buffers<N>& b, std::size_t limit)
{
  if (b.total <= limit) return;
  std::size_t kept = 0, i = 0;
  for (; i < b.count && kept < limit; ++i)
  {
    if (b.iov[i].iov_len > limit - kept) b.iov[i].iov_len = limit - kept;
    kept += b.iov[i].iov_len;
  }
  b.count = i;
  b.total = kept;
}

} // namespace detail

template <typename Executor = boost::asio::any_io_executor,
    typename RatePolicy = boost::beast::unlimited_rate_policy>
class basic_tcp_stream
{
public:
  using socket_type = basic_stream_socket<typename ip::tcp::socket::protocol_type, Executor>;
  using executor_type = Executor;
  using protocol_type = typename socket_type::protocol_type;
  using endpoint_type = typename socket_type::endpoint_type;
  // What ssl::stream<tcp_stream> reaches through lowest_layer(). There is no
  // next_layer(), as in Beast: beast::get_lowest_layer gives the tcp_stream.
  using lowest_layer_type = socket_type;
  using clock = std::chrono::steady_clock;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_tcp_stream<OtherExecutor, RatePolicy>;
  };

  // Arguments go to the socket's constructor (an executor, a context, a
  // socket, ...), after a rate policy if the first one is one.
  template <typename Arg0, typename... Args, typename = std::enable_if_t<
      !std::is_constructible_v<RatePolicy, Arg0> && std::is_constructible_v<socket_type, Arg0, Args...>>>
  explicit basic_tcp_stream(Arg0&& arg0, Args&&... args)
    : state_(std::make_shared<state_type>(RatePolicy(), std::forward<Arg0>(arg0), std::forward<Args>(args)...))
  {
  }
  template <typename Policy, typename Arg0, typename... Args, typename = std::enable_if_t<
      std::is_constructible_v<RatePolicy, Policy> && std::is_constructible_v<socket_type, Arg0, Args...>>>
  basic_tcp_stream(Policy&& policy, Arg0&& arg0, Args&&... args)
    : state_(std::make_shared<state_type>(std::forward<Policy>(policy), std::forward<Arg0>(arg0),
          std::forward<Args>(args)...))
  {
  }

  // The same stream on another executor type (as_default_on, rebind_executor).
  template <typename OtherExecutor, typename = std::enable_if_t<
      !std::is_same_v<OtherExecutor, Executor> && std::is_convertible_v<OtherExecutor, Executor>>>
  explicit basic_tcp_stream(basic_tcp_stream<OtherExecutor, RatePolicy>&& other)
    : state_(std::make_shared<state_type>(std::move(other.rate_policy()), std::move(other.socket()))),
      expiry_(other.expiry())
  {
  }

  // As in Beast, the moved-from stream is left as if newly constructed (a
  // closed socket on the same executor).
  basic_tcp_stream(basic_tcp_stream&& o)
    : state_(std::make_shared<state_type>(std::move(o.rate_policy()), std::move(o.socket()))),
      expiry_(o.expiry_)
  {
  }
  basic_tcp_stream& operator=(basic_tcp_stream&&) = delete;

  // Closing on destruction ends pending operations (operation_aborted).
  ~basic_tcp_stream() { close(); }

  executor_type get_executor() noexcept { return state_->socket.get_executor(); }
  socket_type& socket() noexcept { return state_->socket; }
  const socket_type& socket() const noexcept { return state_->socket; }
  lowest_layer_type& lowest_layer() noexcept { return state_->socket; }
  const lowest_layer_type& lowest_layer() const noexcept { return state_->socket; }
  RatePolicy& rate_policy() noexcept { return state_->policy; }
  const RatePolicy& rate_policy() const noexcept { return state_->policy; }

  // Cancels pending operations (as cancel()) and hands over the socket.
  socket_type release_socket()
  {
    cancel();
    expiry_ = clock::time_point::max();
    return std::move(state_->socket);
  }

  // The deadline applies to operations started after the call, as in Beast.
  void expires_after(clock::duration d) { set_expiry(clock::now() + d); }
  void expires_at(clock::time_point t) { set_expiry(t); }
  void expires_never() { set_expiry(clock::time_point::max()); }
  clock::time_point expiry() const noexcept { return expiry_; }

  void cancel()
  {
    boost::system::error_code ignored;
    state_->socket.cancel(ignored);
    state_->rate.cancel();
  }
  void close()
  {
    boost::system::error_code ignored;
    state_->socket.close(ignored);
    state_->rate.cancel();
  }

  // --- connect (synchronous: no deadline, as in Beast) -----------------------
  void connect(const endpoint_type& ep) { socket().connect(ep); }
  void connect(const endpoint_type& ep, boost::system::error_code& ec) { socket().connect(ep, ec); }

  template <typename EndpointSequence,
      typename = std::enable_if_t<boost::asio::is_endpoint_sequence<EndpointSequence>::value>>
  endpoint_type connect(const EndpointSequence& endpoints)
  {
    return boost::asio::connect(socket(), endpoints);
  }
  template <typename EndpointSequence,
      typename = std::enable_if_t<boost::asio::is_endpoint_sequence<EndpointSequence>::value>>
  endpoint_type connect(const EndpointSequence& endpoints, boost::system::error_code& ec)
  {
    return boost::asio::connect(socket(), endpoints, ec);
  }
  template <typename EndpointSequence, typename ConnectCondition,
      typename = std::enable_if_t<boost::asio::is_endpoint_sequence<EndpointSequence>::value>>
  endpoint_type connect(const EndpointSequence& endpoints, ConnectCondition condition)
  {
    return boost::asio::connect(socket(), endpoints, condition);
  }
  template <typename EndpointSequence, typename ConnectCondition,
      typename = std::enable_if_t<boost::asio::is_endpoint_sequence<EndpointSequence>::value>>
  endpoint_type connect(const EndpointSequence& endpoints, ConnectCondition condition,
      boost::system::error_code& ec)
  {
    return boost::asio::connect(socket(), endpoints, condition, ec);
  }

  template <typename Iterator>
  Iterator connect(Iterator begin, Iterator end) { return boost::asio::connect(socket(), begin, end); }
  template <typename Iterator>
  Iterator connect(Iterator begin, Iterator end, boost::system::error_code& ec)
  {
    return boost::asio::connect(socket(), begin, end, ec);
  }
  template <typename Iterator, typename ConnectCondition>
  Iterator connect(Iterator begin, Iterator end, ConnectCondition condition)
  {
    return boost::asio::connect(socket(), begin, end, condition);
  }
  template <typename Iterator, typename ConnectCondition>
  Iterator connect(Iterator begin, Iterator end, ConnectCondition condition, boost::system::error_code& ec)
  {
    return boost::asio::connect(socket(), begin, end, condition, ec);
  }

  // --- connect (asynchronous, under the deadline) ------------------------------
  // Completes with (error_code); opens the socket first if needed.
  template <typename ConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const endpoint_type& ep,
      ConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ConnectToken, void(boost::system::error_code)>(
        [state = state_, expiry = expiry_](auto handler, const endpoint_type& e) {
          start_connect(handler, state, expiry, e);
        }, token, ep);
  }

  // Completes with (error_code, endpoint). Each attempt is under the deadline;
  // one that times out ends the operation with beast::error::timeout.
  template <typename EndpointSequence,
      typename RangeConnectToken = boost::asio::default_completion_token_t<executor_type>,
      typename = std::enable_if_t<boost::asio::is_endpoint_sequence<EndpointSequence>::value>>
  auto async_connect(const EndpointSequence& endpoints,
      RangeConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return detail::async_connect_range(connector(), endpoints,
        detail::default_connect_condition(), std::forward<RangeConnectToken>(token));
  }
  template <typename EndpointSequence, typename ConnectCondition,
      typename RangeConnectToken = boost::asio::default_completion_token_t<executor_type>,
      typename = std::enable_if_t<boost::asio::is_endpoint_sequence<EndpointSequence>::value>>
  auto async_connect(const EndpointSequence& endpoints, ConnectCondition condition,
      RangeConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return detail::async_connect_range(connector(), endpoints, condition,
        std::forward<RangeConnectToken>(token));
  }

  // Completes with (error_code, iterator).
  template <typename Iterator,
      typename IteratorConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(Iterator begin, Iterator end,
      IteratorConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return detail::async_connect_iterators(connector(), begin, end,
        detail::default_connect_condition(), std::forward<IteratorConnectToken>(token));
  }
  template <typename Iterator, typename ConnectCondition,
      typename IteratorConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(Iterator begin, Iterator end, ConnectCondition condition,
      IteratorConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return detail::async_connect_iterators(connector(), begin, end, condition,
        std::forward<IteratorConnectToken>(token));
  }

  // --- transfers ------------------------------------------------------------------
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_transfer<true>(b, std::forward<ReadToken>(token));
  }

  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_transfer<false>(b, std::forward<WriteToken>(token));
  }

  // Synchronous transfers: no deadline and no rate limit, as in Beast.
  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b) { return socket().read_some(b); }
  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b, boost::system::error_code& ec)
  { return socket().read_some(b, ec); }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b) { return socket().write_some(b); }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b, boost::system::error_code& ec)
  { return socket().write_some(b, ec); }

private:
  template <typename, typename> friend class basic_tcp_stream;
  using state_type = detail::tcp_stream_state<socket_type, RatePolicy>;
  using state_ptr = std::shared_ptr<state_type>;

  void set_expiry(clock::time_point t)
  {
    expiry_ = t;
    state_->timed_out = false;
  }

  template <typename Handler>
  static void start_connect(Handler& handler, const state_ptr& state, clock::time_point expiry,
      const endpoint_type& ep)
  {
    boost::system::error_code open_ec;
    socket_type& s = state->socket;
    if (!s.is_open()) s.open(ep.protocol(), open_ec);
    using kind = detail::timed_kind<detail::connect_kind, state_type>;
    s.template launch<kind>(handler, open_ec ? -open_ec.value() : detail::operation::start_marker,
        kind(state, expiry, s.native_handle(), ep));
  }

  // One timed recv/send of at most `limit` bytes.
  template <bool Read, typename Handler, typename Buffers>
  static void start_transfer(Handler& handler, const state_ptr& state, clock::time_point expiry,
      const Buffers& bufs, std::size_t limit)
  {
    using inner = std::conditional_t<Read, detail::recv_kind, detail::send_kind>;
    using kind = detail::timed_kind<inner, state_type>;
    socket_type& s = state->socket;
    auto k = [&] {
      if constexpr (Read) return kind(state, expiry, s.native_handle(), bufs, 0, true);
      else return kind(state, expiry, s.native_handle(), bufs, 0);
    }();
    detail::truncate(k.bufs, limit);
    std::size_t bytes = k.bufs.total;
    s.template launch_transfer<kind>(handler, bytes, std::move(k));
  }

  // The attempt of a composed connect: this stream's timed async_connect. A
  // socket closed by its deadline ends the operation with timeout.
  struct stream_connector
  {
    using endpoint_type = basic_tcp_stream::endpoint_type;
    state_ptr state;
    clock::time_point expiry;
    socket_type& socket() const noexcept { return state->socket; }
    template <typename Handler>
    void async_connect(const endpoint_type& ep, Handler&& h) const
    {
      // Captured by value: h, which holds this connector, moves into `handler`.
      boost::asio::async_initiate<Handler, void(boost::system::error_code)>(
          [state = state, expiry = expiry](auto handler, const endpoint_type& e) {
            start_connect(handler, state, expiry, e);
          }, h, ep);
    }
    boost::system::error_code closed_error(const boost::system::error_code& ec) const
    {
      return ec == boost::beast::error::timeout ? ec
                                                : boost::asio::error::operation_aborted;
    }
  };
  stream_connector connector() { return {state_, expiry_}; }

  // A limited transfer: waits for the policy's tick while it allows nothing,
  // then transfers at most what it allows and charges what was transferred.
  template <bool Read, typename Buffers>
  struct limited_op : boost::asio::coroutine
  {
    state_ptr state;
    clock::time_point expiry;
    Buffers buffers;

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0)
    {
      BOOST_ASIO_CORO_REENTER(*this)
      {
        while (detail::rate_access::available<Read>(state->policy) == 0)
        {
          if (!state->rate.armed)
          {
            state->rate.armed = true;
            state->rate.timer.expires_after(std::chrono::seconds(1));
          }
          BOOST_ASIO_CORO_YIELD state->rate.timer.async_wait(std::move(self));
          if (state->rate.armed && !ec)
          {
            state->rate.armed = false;
            detail::rate_access::on_timer(state->policy);
          }
          if (ec)
          {
            state->rate.armed = false;
            self.complete(ec, 0);
            return;
          }
        }
        // Captured by value: self, which holds this operation, moves into `handler`.
        BOOST_ASIO_CORO_YIELD boost::asio::async_initiate<Self, void(boost::system::error_code, std::size_t)>(
            [state = state, expiry = expiry, buffers = buffers](auto handler) {
              start_transfer<Read>(handler, state, expiry, buffers,
                  detail::rate_access::available<Read>(state->policy));
            }, self);
        detail::rate_access::transfer<Read>(state->policy, n);
        self.complete(ec, n);
      }
    }
  };

  template <bool Read, typename Buffers, typename Token>
  auto async_transfer(const Buffers& b, Token&& token)
  {
    using signature = void(boost::system::error_code, std::size_t);
    if constexpr (detail::is_unlimited_v<RatePolicy>)
      return boost::asio::async_initiate<Token, signature>(
          [state = state_, expiry = expiry_](auto handler, const Buffers& bufs) {
            start_transfer<Read>(handler, state, expiry, bufs, std::size_t(-1));
          }, token, b);
    else
      return boost::asio::async_compose<Token, signature>(
          limited_op<Read, Buffers>{{}, state_, expiry_, b}, token, socket());
  }

  state_ptr state_;
  clock::time_point expiry_ = clock::time_point::max();
};

using tcp_stream = basic_tcp_stream<>;

// Beast's customisation points, found by ADL: beast::close_socket (through
// get_lowest_layer) and the websocket teardown, done on the socket.
template <typename Executor, typename RatePolicy>
void beast_close_socket(basic_tcp_stream<Executor, RatePolicy>& s)
{
  s.close();
}

template <typename Executor, typename RatePolicy>
void teardown(boost::beast::role_type role, basic_tcp_stream<Executor, RatePolicy>& s,
    boost::system::error_code& ec)
{
  asio_uring::teardown(role, s.socket(), ec);
}

template <typename Executor, typename RatePolicy, typename TeardownHandler>
void async_teardown(boost::beast::role_type role, basic_tcp_stream<Executor, RatePolicy>& s,
    TeardownHandler&& handler)
{
  asio_uring::async_teardown(role, s.socket(), std::forward<TeardownHandler>(handler));
}

} // namespace asio_uring
