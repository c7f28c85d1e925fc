// asio_uring::basic_socket_acceptor: Asio's acceptor interface; each
// async_accept is one IORING_OP_ACCEPT.
#pragma once

#include <asio_uring/basic_stream_socket.hpp>

#include <sys/socket.h>

namespace asio_uring {

namespace detail {

// Accepts into storage for the peer's address; the result is the new
// descriptor, which a destroyed (never run) operation closes.
struct accept_kind : kind_base
{
  explicit accept_kind(int f) : fd(f) {}
  void prep(io_uring_sqe* sqe)
  {
    len = sizeof addr;
    io_uring_prep_accept(sqe, fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
  }
  void discard(int res) noexcept
  {
    if (res >= 0) ::close(res);
  }
  int fd;
  socklen_t len = sizeof(sockaddr_storage);
  sockaddr_storage addr;
};

// Into an existing socket (and optionally its peer endpoint).
template <typename Socket>
struct accept_into_kind : accept_kind
{
  accept_into_kind(int f, Socket& s, typename Socket::endpoint_type* ep,
      const typename Socket::protocol_type& p)
    : accept_kind(f), peer(&s), peer_ep(ep), protocol(p) {}
  std::tuple<boost::system::error_code> result(int res)
  {
    if (res < 0) return {result_error(res)};
    boost::system::error_code ec;
    peer->assign(protocol, res, ec);
    if (ec)
    {
      ::close(res);
      return {ec};
    }
    if (peer_ep)
    {
      std::memcpy(peer_ep->data(), &addr, len);
      peer_ep->resize(len);
    }
    return {ec};
  }
  Socket* peer;
  typename Socket::endpoint_type* peer_ep;
  typename Socket::protocol_type protocol;
};

// Returning a new socket on `Executor1`.
template <typename Protocol, typename Executor1>
struct accept_move_kind : accept_kind
{
  using socket_type = basic_stream_socket<Protocol, Executor1>;
  accept_move_kind(int f, const Executor1& ex, const Protocol& p,
      typename Protocol::endpoint* ep)
    : accept_kind(f), ex1(ex), protocol(p), peer_ep(ep) {}
  std::tuple<boost::system::error_code, socket_type> result(int res)
  {
    if (res < 0) return {result_error(res), socket_type(ex1)};
    if (peer_ep)
    {
      std::memcpy(peer_ep->data(), &addr, len);
      peer_ep->resize(len);
    }
    return {boost::system::error_code(), socket_type(ex1, protocol, res)};
  }
  Executor1 ex1;
  Protocol protocol;
  typename Protocol::endpoint* peer_ep;
};

} // namespace detail

template <typename Protocol, typename Executor = boost::asio::any_io_executor>
class basic_socket_acceptor : public basic_socket<Protocol, Executor>
{
  using base = basic_socket<Protocol, Executor>;

public:
  using typename base::executor_type;
  using typename base::endpoint_type;
  using typename base::protocol_type;
  using typename base::native_handle_type;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_socket_acceptor<Protocol, OtherExecutor>;
  };

  explicit basic_socket_acceptor(const executor_type& ex) : base(ex) {}
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  explicit basic_socket_acceptor(ExecutionContext& ctx) : base(ctx) {}

  basic_socket_acceptor(const executor_type& ex, const protocol_type& p) : base(ex, p) {}
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  basic_socket_acceptor(ExecutionContext& ctx, const protocol_type& p) : base(ctx, p) {}

  // Opens, sets reuse_address (by default), binds and listens.
  basic_socket_acceptor(const executor_type& ex, const endpoint_type& ep, bool reuse_addr = true)
    : base(ex) { setup(ep, reuse_addr); }
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  basic_socket_acceptor(ExecutionContext& ctx, const endpoint_type& ep, bool reuse_addr = true)
    : base(ctx) { setup(ep, reuse_addr); }

  basic_socket_acceptor(basic_socket_acceptor&&) noexcept = default;
  basic_socket_acceptor& operator=(basic_socket_acceptor&&) = default;

  void listen(int backlog = boost::asio::socket_base::max_listen_connections)
  {
    boost::system::error_code ec;
    listen(backlog, ec);
    boost::asio::detail::throw_error(ec, "listen");
  }
  void listen(int backlog, boost::system::error_code& ec)
  {
    ec = ::listen(this->fd_, backlog) == 0 ? boost::system::error_code() : detail::last_error();
  }

  // --- synchronous accept -------------------------------------------------------
  template <typename P1, typename E1>
  void accept(basic_socket<P1, E1>& peer)
  {
    boost::system::error_code ec;
    accept(peer, ec);
    boost::asio::detail::throw_error(ec, "accept");
  }
  template <typename P1, typename E1>
  void accept(basic_socket<P1, E1>& peer, boost::system::error_code& ec)
  {
    int fd = sync_accept(nullptr, ec);
    if (!ec) peer.assign(this->protocol_, fd, ec);
  }
  template <typename P1, typename E1>
  void accept(basic_socket<P1, E1>& peer, endpoint_type& ep)
  {
    boost::system::error_code ec;
    int fd = sync_accept(&ep, ec);
    if (!ec) peer.assign(this->protocol_, fd, ec);
    boost::asio::detail::throw_error(ec, "accept");
  }
  basic_stream_socket<Protocol, Executor> accept()
  {
    boost::system::error_code ec;
    int fd = sync_accept(nullptr, ec);
    boost::asio::detail::throw_error(ec, "accept");
    return basic_stream_socket<Protocol, Executor>(this->ex_, this->protocol_, fd);
  }

  // --- asynchronous accept ------------------------------------------------------
  // Into `peer`: completes with (error_code).
  template <typename P1, typename E1,
      typename AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(basic_socket<P1, E1>& peer,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_into(peer, nullptr, std::forward<AcceptToken>(token));
  }
  template <typename P1, typename E1,
      typename AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(basic_socket<P1, E1>& peer, endpoint_type& peer_endpoint,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_into(peer, &peer_endpoint, std::forward<AcceptToken>(token));
  }

  // A new socket: completes with (error_code, socket).
  template <typename AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_move(this->ex_, nullptr, std::forward<AcceptToken>(token));
  }
  template <typename AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(endpoint_type& peer_endpoint,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_move(this->ex_, &peer_endpoint, std::forward<AcceptToken>(token));
  }
  // A new socket whose executor is `ex1` (or that of context `ctx1`).
  template <typename Executor1,
      typename AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(const Executor1& ex1,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>(),
      std::enable_if_t<boost::asio::execution::is_executor<Executor1>::value
          || boost::asio::is_executor<Executor1>::value, int> = 0)
  {
    return async_accept_move(ex1, nullptr, std::forward<AcceptToken>(token));
  }
  template <typename ExecutionContext,
      typename AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(ExecutionContext& ctx1,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>(),
      std::enable_if_t<std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>, int> = 0)
  {
    return async_accept_move(ctx1.get_executor(), nullptr, std::forward<AcceptToken>(token));
  }

private:
  void setup(const endpoint_type& ep, bool reuse_addr)
  {
    this->open(ep.protocol());
    if (reuse_addr) this->set_option(boost::asio::socket_base::reuse_address(true));
    this->bind(ep);
    listen();
  }

  int sync_accept(endpoint_type* ep, boost::system::error_code& ec)
  {
    sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int fd;
    do fd = ::accept4(this->fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
    {
      ec = errno == EAGAIN ? boost::system::error_code(boost::asio::error::would_block) : detail::last_error();
      return -1;
    }
    if (ep)
    {
      std::memcpy(ep->data(), &addr, len);
      ep->resize(len);
    }
    ec.clear();
    return fd;
  }

  template <typename P1, typename E1, typename AcceptToken>
  auto async_accept_into(basic_socket<P1, E1>& peer, endpoint_type* ep, AcceptToken&& token)
  {
    using kind = detail::accept_into_kind<basic_socket<P1, E1>>;
    return boost::asio::async_initiate<AcceptToken, void(boost::system::error_code)>(
        [this, &peer, ep](auto handler) {
          int early = peer.is_open() ? -EISCONN : this->early_check();
          this->template launch<kind>(handler, early, kind(this->fd_, peer, ep, this->protocol_));
        }, token);
  }

  template <typename Executor1, typename AcceptToken>
  auto async_accept_move(const Executor1& ex1, endpoint_type* ep, AcceptToken&& token)
  {
    using kind = detail::accept_move_kind<Protocol, Executor1>;
    return boost::asio::async_initiate<AcceptToken,
        void(boost::system::error_code, typename kind::socket_type)>(
        [this, ep](auto handler, const Executor1& e) {
          this->template launch<kind>(handler, this->early_check(), kind(this->fd_, e, this->protocol_, ep));
        }, token, ex1);
  }
};

} // namespace asio_uring
