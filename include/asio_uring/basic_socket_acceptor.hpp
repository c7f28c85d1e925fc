// asio_uring::basic_socket_acceptor: Asio's acceptor interface. The first
// async_accept is one IORING_OP_ACCEPT; from the second on, one multishot
// accept request serves them all where the kernel has it (doc/design.md,
// "Multishot accept"; detail/accept_state.hpp).
#pragma once

#include <asio_uring/basic_stream_socket.hpp>
#include <asio_uring/detail/accept_state.hpp>

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

// Into an existing socket (and optionally its peer endpoint). A peer that
// is already open fails with already_open, as in Asio, without an accept.
template <typename Socket>
struct accept_into_kind : accept_kind
{
  accept_into_kind(int f, Socket& s, typename Socket::endpoint_type* ep,
      const typename Socket::protocol_type& p)
    : accept_kind(f), peer(&s), peer_ep(ep), protocol(p), peer_was_open(s.is_open()) {}
  std::tuple<boost::system::error_code> result(int res)
  {
    if (peer_was_open) return {boost::asio::error::already_open};
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
  bool peer_was_open;
};

// The socket an acceptor of `Protocol` returns, on `Executor`: the
// protocol's own socket when that is ours (asio_uring::ip::tcp::socket,
// local::seq_packet_protocol::socket...), else a stream socket of ours (for
// Asio's protocol types, whose nested socket is Asio's).
template <typename Protocol, typename Executor, typename = void>
struct accepted_socket
{
  using type = basic_stream_socket<Protocol, Executor>;
};
template <typename Protocol, typename Executor>
struct accepted_socket<Protocol, Executor, std::enable_if_t<std::is_base_of_v<
    basic_socket<Protocol, typename Protocol::socket::executor_type>, typename Protocol::socket>>>
{
  using type = typename Protocol::socket::template rebind_executor<Executor>::other;
};
template <typename Protocol, typename Executor>
using accepted_socket_t = typename accepted_socket<Protocol, Executor>::type;

// Returning a new socket on `Executor1`.
template <typename Protocol, typename Executor1>
struct accept_move_kind : accept_kind
{
  using socket_type = accepted_socket_t<Protocol, Executor1>;
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
  template <typename Executor1>
  using socket_on = detail::accepted_socket_t<Protocol, Executor1>;
  template <typename Executor1>
  static constexpr bool is_executor_v = boost::asio::execution::is_executor<Executor1>::value
      || boost::asio::is_executor<Executor1>::value;
  template <typename Context>
  static constexpr bool is_context_v = std::is_convertible_v<Context&, boost::asio::execution_context&>;
  template <typename P1>
  static constexpr bool accepts_into_v = std::is_convertible_v<Protocol, P1>;

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
  template <typename ExecutionContext, typename = std::enable_if_t<is_context_v<ExecutionContext>>>
  explicit basic_socket_acceptor(ExecutionContext& ctx) : base(ctx) {}

  basic_socket_acceptor(const executor_type& ex, const protocol_type& p) : base(ex, p) {}
  template <typename ExecutionContext, typename = std::enable_if_t<is_context_v<ExecutionContext>>>
  basic_socket_acceptor(ExecutionContext& ctx, const protocol_type& p) : base(ctx, p) {}

  // Opens, sets reuse_address (by default), binds and listens.
  basic_socket_acceptor(const executor_type& ex, const endpoint_type& ep, bool reuse_addr = true)
    : base(ex) { setup(ep, reuse_addr); }
  template <typename ExecutionContext, typename = std::enable_if_t<is_context_v<ExecutionContext>>>
  basic_socket_acceptor(ExecutionContext& ctx, const endpoint_type& ep, bool reuse_addr = true)
    : base(ctx) { setup(ep, reuse_addr); }

  basic_socket_acceptor(const executor_type& ex, const protocol_type& p, native_handle_type fd)
    : base(ex, p, fd) {}
  template <typename ExecutionContext, typename = std::enable_if_t<is_context_v<ExecutionContext>>>
  basic_socket_acceptor(ExecutionContext& ctx, const protocol_type& p, native_handle_type fd)
    : base(ctx, p, fd) {}

  // The multishot state moves with the acceptor (it is on the heap).
  basic_socket_acceptor(basic_socket_acceptor&& o) noexcept
    : base(std::move(o)), accept_state_(std::exchange(o.accept_state_, nullptr)),
      accepted_before_(std::exchange(o.accepted_before_, false)),
      single_requests_(o.single_requests_) {}
  basic_socket_acceptor& operator=(basic_socket_acceptor&& o) { return take_from(o); }
  // The same acceptor on another executor type: what as_default_on needs.
  template <typename P1, typename E1, typename = std::enable_if_t<
      std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>>>
  basic_socket_acceptor(basic_socket_acceptor<P1, E1>&& o)
    : base(std::move(o)), accept_state_(std::exchange(o.accept_state_, nullptr)),
      accepted_before_(std::exchange(o.accepted_before_, false)),
      single_requests_(o.single_requests_) {}
  template <typename P1, typename E1>
  std::enable_if_t<std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>,
      basic_socket_acceptor&> operator=(basic_socket_acceptor<P1, E1>&& o)
  {
    return take_from(o);
  }

  // Connections accepted but not handed out are closed, before the
  // listening descriptor.
  ~basic_socket_acceptor() { drop_accept_state(); }

  // --- lifetime (the socket's, plus the multishot state) -------------------
  // Pending accepts complete with operation_aborted; connections accepted
  // but not yet handed out are closed.
  void close()
  {
    drop_accept_state();
    base::close();
  }
  void close(boost::system::error_code& ec)
  {
    drop_accept_state();
    base::close(ec);
  }
  native_handle_type release()
  {
    drop_accept_state();
    return base::release();
  }
  native_handle_type release(boost::system::error_code& ec)
  {
    drop_accept_state();
    return base::release(ec);
  }
  // Pending accepts complete with operation_aborted; connections already
  // accepted stay queued for the next accepts.
  void cancel()
  {
    cancel_accept_state();
    base::cancel();
  }
  void cancel(boost::system::error_code& ec)
  {
    cancel_accept_state();
    base::cancel(ec);
  }

  // Diagnostics (not in Asio): accept requests this acceptor submitted to the
  // ring so far, one per single-shot async_accept and one per (re)armed
  // multishot request; connections accepted and waiting for an async_accept.
  // From the thread that runs the context, or while it does not run.
  std::size_t accept_requests() const noexcept
  {
    return single_requests_ + (accept_state_ ? accept_state_->requests() : 0);
  }
  std::size_t accepted_waiting() const noexcept
  {
    return accept_state_ ? accept_state_->queued() : 0;
  }

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
  // Into `peer` (which must be closed), optionally with the peer's endpoint.
  template <typename P1, typename E1>
  std::enable_if_t<accepts_into_v<P1>> accept(basic_socket<P1, E1>& peer)
  {
    boost::system::error_code ec;
    accept(peer, ec);
    boost::asio::detail::throw_error(ec, "accept");
  }
  template <typename P1, typename E1>
  std::enable_if_t<accepts_into_v<P1>> accept(basic_socket<P1, E1>& peer, boost::system::error_code& ec)
  {
    accept_into(peer, nullptr, ec);
  }
  template <typename E1>
  void accept(basic_socket<protocol_type, E1>& peer, endpoint_type& peer_endpoint)
  {
    boost::system::error_code ec;
    accept(peer, peer_endpoint, ec);
    boost::asio::detail::throw_error(ec, "accept");
  }
  template <typename E1>
  void accept(basic_socket<protocol_type, E1>& peer, endpoint_type& peer_endpoint,
      boost::system::error_code& ec)
  {
    accept_into(peer, &peer_endpoint, ec);
  }

  // A new socket, on this acceptor's executor or on `ex1` / `ctx1`'s, optionally
  // with the peer's endpoint.
  socket_on<executor_type> accept() { return accept(this->ex_); }
  socket_on<executor_type> accept(boost::system::error_code& ec) { return accept(this->ex_, ec); }
  socket_on<executor_type> accept(endpoint_type& peer_endpoint) { return accept(this->ex_, peer_endpoint); }
  socket_on<executor_type> accept(endpoint_type& peer_endpoint, boost::system::error_code& ec)
  {
    return accept(this->ex_, peer_endpoint, ec);
  }

  template <typename Executor1>
  socket_on<Executor1> accept(const Executor1& ex1, std::enable_if_t<is_executor_v<Executor1>, int> = 0)
  {
    boost::system::error_code ec;
    socket_on<Executor1> s = accept_new(ex1, nullptr, ec);
    boost::asio::detail::throw_error(ec, "accept");
    return s;
  }
  template <typename Executor1>
  socket_on<Executor1> accept(const Executor1& ex1, boost::system::error_code& ec,
      std::enable_if_t<is_executor_v<Executor1>, int> = 0)
  {
    return accept_new(ex1, nullptr, ec);
  }
  template <typename Executor1>
  socket_on<Executor1> accept(const Executor1& ex1, endpoint_type& peer_endpoint,
      std::enable_if_t<is_executor_v<Executor1>, int> = 0)
  {
    boost::system::error_code ec;
    socket_on<Executor1> s = accept_new(ex1, &peer_endpoint, ec);
    boost::asio::detail::throw_error(ec, "accept");
    return s;
  }
  template <typename Executor1>
  socket_on<Executor1> accept(const Executor1& ex1, endpoint_type& peer_endpoint,
      boost::system::error_code& ec, std::enable_if_t<is_executor_v<Executor1>, int> = 0)
  {
    return accept_new(ex1, &peer_endpoint, ec);
  }

  template <typename ExecutionContext>
  socket_on<typename ExecutionContext::executor_type> accept(ExecutionContext& ctx1,
      std::enable_if_t<is_context_v<ExecutionContext>, int> = 0)
  {
    return accept(ctx1.get_executor());
  }
  template <typename ExecutionContext>
  socket_on<typename ExecutionContext::executor_type> accept(ExecutionContext& ctx1,
      boost::system::error_code& ec, std::enable_if_t<is_context_v<ExecutionContext>, int> = 0)
  {
    return accept(ctx1.get_executor(), ec);
  }
  template <typename ExecutionContext>
  socket_on<typename ExecutionContext::executor_type> accept(ExecutionContext& ctx1,
      endpoint_type& peer_endpoint, std::enable_if_t<is_context_v<ExecutionContext>, int> = 0)
  {
    return accept(ctx1.get_executor(), peer_endpoint);
  }
  template <typename ExecutionContext>
  socket_on<typename ExecutionContext::executor_type> accept(ExecutionContext& ctx1,
      endpoint_type& peer_endpoint, boost::system::error_code& ec,
      std::enable_if_t<is_context_v<ExecutionContext>, int> = 0)
  {
    return accept(ctx1.get_executor(), peer_endpoint, ec);
  }

  // --- asynchronous accept ------------------------------------------------------
  // Into `peer`: completes with (error_code).
  template <typename P1, typename E1, typename = std::enable_if_t<accepts_into_v<P1>>,
      boost::asio::completion_token_for<void(boost::system::error_code)> AcceptToken =
          boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(basic_socket<P1, E1>& peer,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_into(peer, nullptr, std::forward<AcceptToken>(token));
  }
  template <typename E1,
      boost::asio::completion_token_for<void(boost::system::error_code)> AcceptToken =
          boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(basic_socket<protocol_type, E1>& peer, endpoint_type& peer_endpoint,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_into(peer, &peer_endpoint, std::forward<AcceptToken>(token));
  }

  // A new socket: completes with (error_code, socket), the socket on this
  // acceptor's executor or on `ex1` / `ctx1`'s.
  template <boost::asio::completion_token_for<void(boost::system::error_code,
          socket_on<executor_type>)> AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_move(this->ex_, nullptr, std::forward<AcceptToken>(token));
  }
  template <boost::asio::completion_token_for<void(boost::system::error_code,
          socket_on<executor_type>)> AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(endpoint_type& peer_endpoint,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_move(this->ex_, &peer_endpoint, std::forward<AcceptToken>(token));
  }
  template <typename Executor1, typename = std::enable_if_t<is_executor_v<Executor1>>,
      boost::asio::completion_token_for<void(boost::system::error_code, socket_on<Executor1>)> AcceptToken =
          boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(const Executor1& ex1,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_move(ex1, nullptr, std::forward<AcceptToken>(token));
  }
  template <typename Executor1, typename = std::enable_if_t<is_executor_v<Executor1>>,
      boost::asio::completion_token_for<void(boost::system::error_code, socket_on<Executor1>)> AcceptToken =
          boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(const Executor1& ex1, endpoint_type& peer_endpoint,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_move(ex1, &peer_endpoint, std::forward<AcceptToken>(token));
  }
  template <typename ExecutionContext, typename = std::enable_if_t<is_context_v<ExecutionContext>>,
      boost::asio::completion_token_for<void(boost::system::error_code,
          socket_on<typename ExecutionContext::executor_type>)> AcceptToken =
          boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(ExecutionContext& ctx1,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_move(ctx1.get_executor(), nullptr, std::forward<AcceptToken>(token));
  }
  template <typename ExecutionContext, typename = std::enable_if_t<is_context_v<ExecutionContext>>,
      boost::asio::completion_token_for<void(boost::system::error_code,
          socket_on<typename ExecutionContext::executor_type>)> AcceptToken =
          boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(ExecutionContext& ctx1, endpoint_type& peer_endpoint,
      AcceptToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_accept_move(ctx1.get_executor(), &peer_endpoint, std::forward<AcceptToken>(token));
  }

private:
  template <typename, typename> friend class basic_socket_acceptor;

  template <typename Other>
  basic_socket_acceptor& take_from(Other& o)
  {
    if (static_cast<void*>(this) != static_cast<void*>(&o))
    {
      drop_accept_state();
      base::operator=(std::move(o));
      accept_state_ = std::exchange(o.accept_state_, nullptr);
      accepted_before_ = std::exchange(o.accepted_before_, false);
      single_requests_ = o.single_requests_;
    }
    return *this;
  }

  // The multishot state serving this acceptor's async_accepts, created by
  // the second one: an acceptor that accepts once (and maybe closes, or
  // goes on with synchronous accepts) never has connections queued by us.
  // Null: single-shot (the first accept, the emulated engine, the option
  // off, or the kernel refused multishot on this context).
  detail::accept_state* multishot_state()
  {
    if (accept_state_) return accept_state_;
    if (!std::exchange(accepted_before_, true)) return nullptr;
    detail::ring& r = this->sched_->get_ring();
    if (r.engine() != engine_kind::io_uring || !r.options().multishot_accept) return nullptr;
    auto& support = boost::asio::use_service<detail::accept_support>(detail::context_of(this->ex_));
    if (support.multishot_refused.load(std::memory_order_relaxed)) return nullptr;
    accept_state_ = new detail::accept_state(*this->sched_, this->fd_, r.options().accept_backlog,
        support.multishot_refused);
    return accept_state_;
  }

  void drop_accept_state()
  {
    accepted_before_ = false;
    detail::accept_state* st = std::exchange(accept_state_, nullptr);
    if (!st) return;
    // Queued in the SQ; the descriptor's close (or release) submits it before
    // the listening descriptor goes.
    this->sched_->with_loop([st] { st->close(); });
    st->release();
  }

  void cancel_accept_state()
  {
    if (detail::accept_state* st = accept_state_) this->sched_->with_loop([st] { st->cancel(); });
  }

  template <typename Kind, typename Handler>
  void launch_accept(Handler& handler, int early_res, Kind&& kind)
  {
    using op = detail::accept_op<Handler, Executor, Kind>;
    detail::accept_state* st = nullptr;
    if (early_res == detail::operation::start_marker)
    {
      // The multishot request gives no address: an accept that wants the
      // peer's endpoint would cost a getpeername system call (2.3-2.7 us
      // measured here, against 0.9 us for getppid: this VM's system calls
      // are dear), so it is a single-shot request of its own, which gets
      // the address from the kernel within the turn's one submission;
      // unless the acceptor already has a multishot request, which then
      // serves it too (so it neither waits behind connections queued for
      // others nor leaves them stranded) and pays the getpeername.
      st = kind.peer_ep && !accept_state_ ? nullptr : multishot_state();
      if (!st) ++single_requests_;
    }
    this->async_used_ = true;
    op::launch(handler, this->ex_, *this->sched_, st, early_res, std::move(kind));
  }

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
    int fd = detail::operation::start_marker;
    // Connections the multishot request accepted come first.
    if (detail::accept_state* st = accept_state_)
      this->sched_->with_loop([st, &fd] { fd = st->take(); });
    if (fd != detail::operation::start_marker)
    {
      if (fd < 0)
      {
        ec = detail::result_error(fd);
        return -1;
      }
      if (ep && ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) len = 0;
    }
    else
    {
      do fd = ::accept4(this->fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
      while (fd < 0 && errno == EINTR);
      if (fd < 0)
      {
        ec = errno == EAGAIN ? boost::system::error_code(boost::asio::error::would_block) : detail::last_error();
        return -1;
      }
    }
    if (ep)
    {
      std::memcpy(ep->data(), &addr, len);
      ep->resize(len);
    }
    ec.clear();
    return fd;
  }

  template <typename P1, typename E1>
  void accept_into(basic_socket<P1, E1>& peer, endpoint_type* ep, boost::system::error_code& ec)
  {
    if (peer.is_open())
    {
      ec = boost::asio::error::already_open;
      return;
    }
    int fd = sync_accept(ep, ec);
    if (!ec) peer.assign(this->protocol_, fd, ec);
  }

  template <typename Executor1>
  socket_on<Executor1> accept_new(const Executor1& ex1, endpoint_type* ep, boost::system::error_code& ec)
  {
    int fd = sync_accept(ep, ec);
    if (ec) return socket_on<Executor1>(ex1);
    return socket_on<Executor1>(ex1, this->protocol_, fd);
  }

  template <typename P1, typename E1, typename AcceptToken>
  auto async_accept_into(basic_socket<P1, E1>& peer, endpoint_type* ep, AcceptToken&& token)
  {
    using kind = detail::accept_into_kind<basic_socket<P1, E1>>;
    return boost::asio::async_initiate<AcceptToken, void(boost::system::error_code)>(
        [this, &peer, ep](auto handler) {
          int early = peer.is_open() ? -EISCONN : this->early_check();
          this->launch_accept(handler, early, kind(this->fd_, peer, ep, this->protocol_));
        }, token);
  }

  template <typename Executor1, typename AcceptToken>
  auto async_accept_move(const Executor1& ex1, endpoint_type* ep, AcceptToken&& token)
  {
    using kind = detail::accept_move_kind<Protocol, Executor1>;
    return boost::asio::async_initiate<AcceptToken,
        void(boost::system::error_code, typename kind::socket_type)>(
        [this, ep](auto handler, const Executor1& e) {
          this->launch_accept(handler, this->early_check(), kind(this->fd_, e, this->protocol_, ep));
        }, token, ex1);
  }

  detail::accept_state* accept_state_ = nullptr;
  bool accepted_before_ = false;      // an async_accept was initiated
  std::size_t single_requests_ = 0;   // see accept_requests()
};

} // namespace asio_uring
