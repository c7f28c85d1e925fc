// asio_uring::tcp_stream: a TCP stream with Boost.Beast's timeout interface
// (expires_after / expires_at / expires_never; an operation still pending at
// the deadline completes with beast::error::timeout). Each timed operation is
// one SQE linked to an IORING_OP_LINK_TIMEOUT: no timer objects, no extra
// wake-ups.
#pragma once

#include <asio_uring/basic_stream_socket.hpp>
#include <asio_uring/connect.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

#include <chrono>

namespace asio_uring {

namespace detail {

// Adds a deadline to a request kind: prep stays Inner's; a cancelled request
// whose deadline has passed is reported as beast::error::timeout.
template <typename Inner>
struct timed_kind : Inner
{
  using clock = std::chrono::steady_clock;

  template <typename... Args>
  timed_kind(clock::time_point expiry, Args&&... args)
    : Inner(std::forward<Args>(args)...), expiry_(expiry)
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
    if (res == -ECANCELED && expiry_ != clock::time_point::max() && clock::now() >= expiry_)
      std::get<0>(r) = boost::beast::error::timeout;
    return r;
  }

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

  explicit basic_tcp_stream(const executor_type& ex) : socket_(ex) {}
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  explicit basic_tcp_stream(ExecutionContext& ctx) : socket_(ctx) {}
  explicit basic_tcp_stream(socket_type&& s) : socket_(std::move(s)) {}

  basic_tcp_stream(basic_tcp_stream&&) = default;
  basic_tcp_stream& operator=(basic_tcp_stream&&) = default;

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  socket_type& socket() noexcept { return socket_; }
  const socket_type& socket() const noexcept { return socket_; }
  socket_type release_socket()
  {
    expiry_ = clock::time_point::max();
    return std::move(socket_);
  }

  // The deadline applies to operations started after the call, as in Beast.
  void expires_after(clock::duration d) { expiry_ = clock::now() + d; }
  void expires_at(clock::time_point t) { expiry_ = t; }
  void expires_never() { expiry_ = clock::time_point::max(); }

  void cancel() { socket_.cancel(); }
  void close()
  {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  // Completes with (error_code).
  template <typename ConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const endpoint_type& ep,
      ConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    boost::system::error_code open_ec;
    if (!socket_.is_open()) socket_.open(ep.protocol(), open_ec);
    return boost::asio::async_initiate<ConnectToken, void(boost::system::error_code)>(
        [this, open_ec](auto handler, const endpoint_type& e) {
          using kind = detail::timed_kind<detail::connect_kind>;
          socket_.template launch<kind>(handler,
              open_ec ? -open_ec.value() : detail::operation::start_marker,
              kind(expiry_, socket_.native_handle(), e));
        }, token, ep);
  }

  // Over a resolver's results: completes with (error_code, endpoint).
  template <typename EndpointSequence,
      typename ConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const EndpointSequence& endpoints,
      ConnectToken&& token = boost::asio::default_completion_token_t<executor_type>(),
      std::enable_if_t<boost::asio::is_endpoint_sequence<EndpointSequence>::value, int> = 0)
  {
    return asio_uring::async_connect(socket_, endpoints, std::forward<ConnectToken>(token));
  }

  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs) {
          using kind = detail::timed_kind<detail::recv_kind>;
          kind k(expiry_, socket_.native_handle(), bufs, 0, true);
          std::size_t bytes = k.bufs.total;
          socket_.template launch_transfer<kind>(handler, bytes, std::move(k));
        }, token, b);
  }

  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs) {
          using kind = detail::timed_kind<detail::send_kind>;
          kind k(expiry_, socket_.native_handle(), bufs, 0);
          std::size_t bytes = k.bufs.total;
          socket_.template launch_transfer<kind>(handler, bytes, std::move(k));
        }, token, b);
  }

  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b) { return socket_.read_some(b); }
  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b, boost::system::error_code& ec)
  { return socket_.read_some(b, ec); }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b) { return socket_.write_some(b); }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b, boost::system::error_code& ec)
  { return socket_.write_some(b, ec); }

private:
  socket_type socket_;
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
