// asio_uring::tcp_stream: a TCP stream with Boost.Beast's timeout interface
// (expires_after / expires_at / expires_never). As in Beast, when the deadline
// passes with an operation pending, the socket is closed and every operation
// pending on it completes with beast::error::timeout. Each timed operation is
// one SQE linked to an IORING_OP_LINK_TIMEOUT: no timer objects, no extra
// wake-ups.
#pragma once

#include <asio_uring/basic_stream_socket.hpp>
#include <asio_uring/connect.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

#include <chrono>
#include <memory>

namespace asio_uring {

namespace detail {

// What a tcp_stream's timed operations share with it: the socket (closed by
// the first operation that times out) and whether that happened. Timed
// operations hold a reference, so it outlives a stream destroyed or moved
// while they are pending.
template <typename Socket>
struct tcp_stream_state
{
  template <typename Arg>
  explicit tcp_stream_state(Arg&& a) : socket(std::forward<Arg>(a)) {}
  Socket socket;
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

} // namespace detail

template <typename Executor = boost::asio::any_io_executor>
class basic_tcp_stream
{
public:
  using socket_type = basic_stream_socket<boost::asio::ip::tcp, Executor>;
  using executor_type = Executor;
  using endpoint_type = boost::asio::ip::tcp::endpoint;
  using protocol_type = boost::asio::ip::tcp;
  using clock = std::chrono::steady_clock;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_tcp_stream<OtherExecutor>;
  };

  explicit basic_tcp_stream(const executor_type& ex) : state_(std::make_shared<state_type>(ex)) {}
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  explicit basic_tcp_stream(ExecutionContext& ctx) : state_(std::make_shared<state_type>(ctx)) {}
  explicit basic_tcp_stream(socket_type&& s) : state_(std::make_shared<state_type>(std::move(s))) {}

  // As with Beast's basic_stream, a moved-from stream may only be destroyed
  // or assigned to.
  basic_tcp_stream(basic_tcp_stream&&) = default;
  basic_tcp_stream& operator=(basic_tcp_stream&& o)
  {
    if (this != &o)
    {
      if (state_) close();
      state_ = std::move(o.state_);
      expiry_ = o.expiry_;
    }
    return *this;
  }
  // Closing on destruction ends pending operations (operation_aborted).
  ~basic_tcp_stream()
  {
    if (state_) close();
  }

  executor_type get_executor() noexcept { return state_->socket.get_executor(); }
  socket_type& socket() noexcept { return state_->socket; }
  const socket_type& socket() const noexcept { return state_->socket; }
  socket_type release_socket()
  {
    expiry_ = clock::time_point::max();
    return std::move(state_->socket);
  }

  // The deadline applies to operations started after the call, as in Beast.
  void expires_after(clock::duration d) { set_expiry(clock::now() + d); }
  void expires_at(clock::time_point t) { set_expiry(t); }
  void expires_never() { set_expiry(clock::time_point::max()); }

  void cancel() { state_->socket.cancel(); }
  void close()
  {
    boost::system::error_code ignored;
    state_->socket.close(ignored);
  }

  // Completes with (error_code).
  template <typename ConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const endpoint_type& ep,
      ConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    boost::system::error_code open_ec;
    if (!socket().is_open()) socket().open(ep.protocol(), open_ec);
    return boost::asio::async_initiate<ConnectToken, void(boost::system::error_code)>(
        [this, open_ec](auto handler, const endpoint_type& e) {
          using kind = detail::timed_kind<detail::connect_kind, state_type>;
          socket().template launch<kind>(handler,
              open_ec ? -open_ec.value() : detail::operation::start_marker,
              kind(state_, expiry_, socket().native_handle(), e));
        }, token, ep);
  }

  // Over a resolver's results: completes with (error_code, endpoint).
  template <typename EndpointSequence,
      typename ConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const EndpointSequence& endpoints,
      ConnectToken&& token = boost::asio::default_completion_token_t<executor_type>(),
      std::enable_if_t<boost::asio::is_endpoint_sequence<EndpointSequence>::value, int> = 0)
  {
    return asio_uring::async_connect(socket(), endpoints, std::forward<ConnectToken>(token));
  }

  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs) {
          using kind = detail::timed_kind<detail::recv_kind, state_type>;
          kind k(state_, expiry_, socket().native_handle(), bufs, 0, true);
          std::size_t bytes = k.bufs.total;
          socket().template launch_transfer<kind>(handler, bytes, std::move(k));
        }, token, b);
  }

  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs) {
          using kind = detail::timed_kind<detail::send_kind, state_type>;
          kind k(state_, expiry_, socket().native_handle(), bufs, 0);
          std::size_t bytes = k.bufs.total;
          socket().template launch_transfer<kind>(handler, bytes, std::move(k));
        }, token, b);
  }

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
  using state_type = detail::tcp_stream_state<socket_type>;

  void set_expiry(clock::time_point t)
  {
    expiry_ = t;
    state_->timed_out = false;
  }

  std::shared_ptr<state_type> state_;
  clock::time_point expiry_ = clock::time_point::max();
};

using tcp_stream = basic_tcp_stream<>;

// Beast's lowest-layer customisations (beast::get_lowest_layer / close_socket).
template <typename Executor>
void beast_close_socket(basic_tcp_stream<Executor>& s)
{
  s.close();
}

} // namespace asio_uring
