// asio_uring::basic_socket: Asio's basic_socket interface; asynchronous
// operations are io_uring requests, synchronous ones plain system calls.
#pragma once

#include <asio_uring/detail/buffer_ring.hpp>
#include <asio_uring/detail/descriptor.hpp>
#include <asio_uring/detail/uring_op.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/socket_base.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace asio_uring {

namespace detail {

inline boost::system::error_code last_error() noexcept
{
  return {errno, boost::system::system_category()};
}

struct connect_kind : kind_base
{
  template <typename Endpoint>
  connect_kind(int f, const Endpoint& ep) : fd(f), len(static_cast<socklen_t>(ep.size()))
  {
    std::memcpy(&addr, ep.data(), ep.size());
  }
  void prep(io_uring_sqe* sqe) { io_uring_prep_connect(sqe, fd, reinterpret_cast<sockaddr*>(&addr), len); }
  std::tuple<boost::system::error_code> result(int res) { return {result_error(res)}; }
  int fd;
  socklen_t len;
  sockaddr_storage addr;
};

struct poll_kind : kind_base
{
  poll_kind(int f, unsigned m) : fd(f), mask(m) {}
  void prep(io_uring_sqe* sqe) { io_uring_prep_poll_add(sqe, fd, mask); }
  std::tuple<boost::system::error_code> result(int res) { return {result_error(res)}; }
  int fd;
  unsigned mask;
  int slot = -1;  // registered file slot (detail/file_table.hpp)
};

} // namespace detail

template <typename Protocol, typename Executor = boost::asio::any_io_executor>
class basic_socket : public boost::asio::socket_base, public detail::descriptor_object<Executor>
{
  using descriptor = detail::descriptor_object<Executor>;

public:
  using executor_type = Executor;
  using protocol_type = Protocol;
  using endpoint_type = typename Protocol::endpoint;
  using native_handle_type = int;
  using lowest_layer_type = basic_socket;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_socket<Protocol, OtherExecutor>;
  };

  explicit basic_socket(const executor_type& ex) : descriptor(ex) {}

  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  explicit basic_socket(ExecutionContext& ctx) : basic_socket(executor_type(ctx.get_executor()))
  {
  }

  basic_socket(const executor_type& ex, const protocol_type& p) : basic_socket(ex) { open(p); }
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  basic_socket(ExecutionContext& ctx, const protocol_type& p) : basic_socket(ctx) { open(p); }

  basic_socket(const executor_type& ex, const endpoint_type& ep) : basic_socket(ex)
  {
    open(ep.protocol());
    bind(ep);
  }
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  basic_socket(ExecutionContext& ctx, const endpoint_type& ep) : basic_socket(ctx)
  {
    open(ep.protocol());
    bind(ep);
  }

  basic_socket(const executor_type& ex, const protocol_type& p, native_handle_type fd)
    : basic_socket(ex) { assign(p, fd); }
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  basic_socket(ExecutionContext& ctx, const protocol_type& p, native_handle_type fd)
    : basic_socket(ctx) { assign(p, fd); }

  // The receive state (queued data, the multishot) moves with the socket.
  basic_socket(basic_socket&& o) noexcept
    : descriptor(std::move(o)), protocol_(o.protocol_), user_non_blocking_(o.user_non_blocking_),
      recv_(std::exchange(o.recv_, nullptr)), reads_(std::exchange(o.reads_, 0)),
      file_slot_(std::exchange(o.file_slot_, -1))
  {
  }

  template <typename P1, typename E1, typename = std::enable_if_t<
      std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>>>
  basic_socket(basic_socket<P1, E1>&& o)
    : descriptor(static_cast<detail::descriptor_object<E1>&&>(o)), protocol_(o.protocol_),
      user_non_blocking_(o.user_non_blocking_),
      recv_(std::exchange(o.recv_, nullptr)), reads_(std::exchange(o.reads_, 0)),
      file_slot_(std::exchange(o.file_slot_, -1))
  {
  }

  basic_socket& operator=(basic_socket&& o)
  {
    if (this != &o)
    {
      unregister_file();
      close_recv();
      descriptor::operator=(std::move(o));
      protocol_ = o.protocol_;
      user_non_blocking_ = o.user_non_blocking_;
      recv_ = std::exchange(o.recv_, nullptr);
      reads_ = std::exchange(o.reads_, 0);
      file_slot_ = std::exchange(o.file_slot_, -1);
    }
    return *this;
  }

  // The multishot receive ends, and the registered file slot is emptied,
  // before the descriptor is closed.
  ~basic_socket()
  {
    unregister_file();
    close_recv();
  }
  template <typename P1, typename E1>
  std::enable_if_t<std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>,
      basic_socket&> operator=(basic_socket<P1, E1>&& o)
  {
    return *this = basic_socket(std::move(o));
  }

  basic_socket(const basic_socket&) = delete;
  basic_socket& operator=(const basic_socket&) = delete;

  lowest_layer_type& lowest_layer() noexcept { return *this; }
  const lowest_layer_type& lowest_layer() const noexcept { return *this; }

  // --- lifetime --------------------------------------------------------------
  void open(const protocol_type& p = protocol_type())
  {
    boost::system::error_code ec;
    open(p, ec);
    boost::asio::detail::throw_error(ec, "open");
  }
  void open(const protocol_type& p, boost::system::error_code& ec)
  {
    if (fd_ >= 0)
    {
      ec = boost::asio::error::already_open;
      return;
    }
    int fd = ::socket(p.family(), p.type() | SOCK_CLOEXEC, p.protocol());
    if (fd < 0)
    {
      ec = detail::last_error();
      return;
    }
    fd_ = fd;
    protocol_ = p;
    reads_ = 0;
    file_slot_ = file_countdown();
    ec.clear();
  }

  void assign(const protocol_type& p, native_handle_type fd)
  {
    boost::system::error_code ec;
    assign(p, fd, ec);
    boost::asio::detail::throw_error(ec, "assign");
  }
  void assign(const protocol_type& p, native_handle_type fd, boost::system::error_code& ec)
  {
    if (fd_ >= 0)
    {
      ec = boost::asio::error::already_open;
      return;
    }
    fd_ = fd;
    protocol_ = p;
    user_non_blocking_ = false;
    reads_ = 0;
    file_slot_ = file_countdown();
    ec.clear();
  }

  // is_open(), native_handle(), get_executor() are the descriptor's.

  // Pending operations complete with operation_aborted; data received into
  // the context's buffers and not read yet is dropped (the buffers go back).
  void close()
  {
    boost::system::error_code ec;
    close(ec);
    boost::asio::detail::throw_error(ec, "close");
  }
  void close(boost::system::error_code& ec)
  {
    unregister_file();
    close_recv();
    descriptor::close(ec);
  }

  // Pending operations complete with operation_aborted; received data that
  // is queued stays for the next read.
  void cancel()
  {
    boost::system::error_code ec;
    cancel(ec);
    boost::asio::detail::throw_error(ec, "cancel");
  }
  void cancel(boost::system::error_code& ec)
  {
    if (recv_ && this->fd_ >= 0)
    {
      detail::recv_state* st = recv_;
      sched_->with_loop([st] { st->cancel_waiting(); });
    }
    descriptor::cancel(ec);
  }

  // Gives up the descriptor; pending operations complete with operation_aborted.
  // Data the socket's multishot receive took from the kernel cannot go back:
  // while such data is queued (read it first) release fails with
  // device_or_resource_busy and keeps the descriptor.
  native_handle_type release()
  {
    boost::system::error_code ec;
    native_handle_type fd = release(ec);
    boost::asio::detail::throw_error(ec, "release");
    return fd;
  }
  native_handle_type release(boost::system::error_code& ec)
  {
    if (this->fd_ < 0)
    {
      ec = boost::asio::error::bad_descriptor;
      return -1;
    }
    if (recv_)
    {
      detail::recv_state* st = recv_;
      bool idle = false;
      sched_->with_loop([&] {
        idle = st->quiesce();
        if (idle) detail::recv_state::close(st);
      });
      if (!idle)
      {
        ec = boost::system::errc::make_error_code(boost::system::errc::device_or_resource_busy);
        return -1;
      }
      recv_ = nullptr;
    }
    ec.clear();
    reads_ = 0;
    unregister_file();
    return descriptor::release();
  }

  // --- addresses and options ----------------------------------------------------
  void bind(const endpoint_type& ep)
  {
    boost::system::error_code ec;
    bind(ep, ec);
    boost::asio::detail::throw_error(ec, "bind");
  }
  void bind(const endpoint_type& ep, boost::system::error_code& ec)
  {
    ec = ::bind(fd_, ep.data(), static_cast<socklen_t>(ep.size())) == 0
        ? boost::system::error_code() : detail::last_error();
  }

  void connect(const endpoint_type& ep)
  {
    boost::system::error_code ec;
    connect(ep, ec);
    boost::asio::detail::throw_error(ec, "connect");
  }
  void connect(const endpoint_type& ep, boost::system::error_code& ec)
  {
    if (fd_ < 0)
    {
      open(ep.protocol(), ec);
      if (ec) return;
    }
    int r;
    do r = ::connect(fd_, ep.data(), static_cast<socklen_t>(ep.size()));
    while (r != 0 && errno == EINTR);
    ec = r == 0 ? boost::system::error_code() : detail::last_error();
  }

  // Completes with (error_code); opens the socket first if needed.
  template <typename ConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const endpoint_type& ep,
      ConnectToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    boost::system::error_code open_ec;
    if (fd_ < 0) open(ep.protocol(), open_ec);
    return boost::asio::async_initiate<ConnectToken, void(boost::system::error_code)>(
        [this, open_ec](auto handler, const endpoint_type& e) {
          this->template launch<detail::connect_kind>(handler,
              open_ec ? -open_ec.value() : detail::operation::start_marker,
              detail::connect_kind(fd_, e));
        }, token, ep);
  }

  template <typename SettableSocketOption>
  void set_option(const SettableSocketOption& opt)
  {
    boost::system::error_code ec;
    set_option(opt, ec);
    boost::asio::detail::throw_error(ec, "set_option");
  }
  template <typename SettableSocketOption>
  void set_option(const SettableSocketOption& opt, boost::system::error_code& ec)
  {
    ec = ::setsockopt(fd_, opt.level(protocol_), opt.name(protocol_), opt.data(protocol_),
        static_cast<socklen_t>(opt.size(protocol_))) == 0
        ? boost::system::error_code() : detail::last_error();
  }

  template <typename GettableSocketOption>
  void get_option(GettableSocketOption& opt) const
  {
    boost::system::error_code ec;
    get_option(opt, ec);
    boost::asio::detail::throw_error(ec, "get_option");
  }
  template <typename GettableSocketOption>
  void get_option(GettableSocketOption& opt, boost::system::error_code& ec) const
  {
    socklen_t len = static_cast<socklen_t>(opt.size(protocol_));
    if (::getsockopt(fd_, opt.level(protocol_), opt.name(protocol_), opt.data(protocol_), &len) != 0)
    {
      ec = detail::last_error();
      return;
    }
    opt.resize(protocol_, len);
    ec.clear();
  }

  template <typename IoControlCommand>
  void io_control(IoControlCommand& cmd)
  {
    boost::system::error_code ec;
    io_control(cmd, ec);
    boost::asio::detail::throw_error(ec, "io_control");
  }
  template <typename IoControlCommand>
  void io_control(IoControlCommand& cmd, boost::system::error_code& ec)
  {
    ec = ::ioctl(fd_, static_cast<unsigned long>(cmd.name()), cmd.data()) == 0
        ? boost::system::error_code() : detail::last_error();
  }

  // User-visible non-blocking mode: synchronous operations fail with
  // would_block instead of blocking. Asynchronous operations are unaffected.
  bool non_blocking() const { return user_non_blocking_; }
  void non_blocking(bool mode)
  {
    boost::system::error_code ec;
    non_blocking(mode, ec);
    boost::asio::detail::throw_error(ec, "non_blocking");
  }
  void non_blocking(bool mode, boost::system::error_code& ec)
  {
    ec = set_fd_non_blocking(mode);
    if (!ec) user_non_blocking_ = mode;
  }
  bool native_non_blocking() const
  {
    int flags = ::fcntl(fd_, F_GETFL, 0);
    return flags >= 0 && (flags & O_NONBLOCK);
  }
  void native_non_blocking(bool mode)
  {
    boost::system::error_code ec;
    native_non_blocking(mode, ec);
    boost::asio::detail::throw_error(ec, "native_non_blocking");
  }
  void native_non_blocking(bool mode, boost::system::error_code& ec)
  {
    if (!mode && user_non_blocking_)
    {
      ec = boost::asio::error::invalid_argument;
      return;
    }
    ec = set_fd_non_blocking(mode);
  }

  std::size_t available() const
  {
    boost::system::error_code ec;
    std::size_t n = available(ec);
    boost::asio::detail::throw_error(ec, "available");
    return n;
  }
  // The kernel's socket buffer (FIONREAD) and the received data queued in
  // the context's buffers.
  std::size_t available(boost::system::error_code& ec) const
  {
    int n = 0;
    if (::ioctl(fd_, FIONREAD, &n) != 0)
    {
      ec = detail::last_error();
      return 0;
    }
    ec.clear();
    std::size_t queued = 0;
    if (detail::recv_state* st = recv_)
    {
      // What the multishot received and we have not reaped yet counts too;
      // FIONREAD again afterwards (the kernel's buffer shrank meanwhile).
      detail::scheduler* s = sched_;
      s->with_loop([s, st, &queued] {
        s->poll_completions();
        queued = st->queued_bytes();
      });
      if (::ioctl(fd_, FIONREAD, &n) != 0)
      {
        ec = detail::last_error();
        return 0;
      }
    }
    return static_cast<std::size_t>(n) + queued;
  }

  // asio_uring extension: the socket's slot in the ring's registered file
  // table once the kernel holds it there (its requests then name the slot
  // with IOSQE_FIXED_FILE), or -1. native_handle() is the descriptor either
  // way (doc/design.md, "Registered files").
  int registered_file_slot() const
  {
    if (file_slot_ < 0) return -1;
    detail::scheduler* s = sched_;
    int live = -1;
    s->with_loop([&] { live = s->get_ring().files().live(file_slot_); });
    return live >= 0 && live == fd_ ? file_slot_ : -1;
  }

  bool at_mark() const
  {
    boost::system::error_code ec;
    bool mark = at_mark(ec);
    boost::asio::detail::throw_error(ec, "at_mark");
    return mark;
  }
  bool at_mark(boost::system::error_code& ec) const
  {
    int mark = 0;
    if (::ioctl(fd_, SIOCATMARK, &mark) != 0)
    {
      ec = detail::last_error();
      return false;
    }
    ec.clear();
    return mark != 0;
  }

  endpoint_type local_endpoint() const
  {
    boost::system::error_code ec;
    endpoint_type ep = local_endpoint(ec);
    boost::asio::detail::throw_error(ec, "local_endpoint");
    return ep;
  }
  endpoint_type local_endpoint(boost::system::error_code& ec) const
  {
    return name_of(&::getsockname, ec);
  }
  endpoint_type remote_endpoint() const
  {
    boost::system::error_code ec;
    endpoint_type ep = remote_endpoint(ec);
    boost::asio::detail::throw_error(ec, "remote_endpoint");
    return ep;
  }
  endpoint_type remote_endpoint(boost::system::error_code& ec) const
  {
    return name_of(&::getpeername, ec);
  }

  void shutdown(shutdown_type what)
  {
    boost::system::error_code ec;
    shutdown(what, ec);
    boost::asio::detail::throw_error(ec, "shutdown");
  }
  void shutdown(shutdown_type what, boost::system::error_code& ec)
  {
    ec = ::shutdown(fd_, static_cast<int>(what)) == 0
        ? boost::system::error_code() : detail::last_error();
  }

  // --- readiness --------------------------------------------------------------
  void wait(wait_type w)
  {
    boost::system::error_code ec;
    wait(w, ec);
    boost::asio::detail::throw_error(ec, "wait");
  }
  // A socket whose multishot receive queued data is readable at once.
  void wait(wait_type w, boost::system::error_code& ec)
  {
    if (w == wait_read && recv_ready())
    {
      ec.clear();
      return;
    }
    pollfd p{fd_, static_cast<short>(poll_mask(w)), 0};
    int r;
    do r = ::poll(&p, 1, -1);
    while (r < 0 && errno == EINTR);
    ec = r < 0 ? detail::last_error() : boost::system::error_code();
  }

  template <typename WaitToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(wait_type w, WaitToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WaitToken, void(boost::system::error_code)>(
        [this](auto handler, wait_type what) {
          int early = early_check();
          if (early == detail::operation::start_marker && what == wait_read && recv_ready()) early = 0;
          detail::poll_kind k(fd_, poll_mask(what));
          k.slot = file_slot();
          this->template launch<detail::poll_kind>(handler, early, std::move(k));
        }, token, w);
  }

protected:
  template <typename, typename> friend class basic_socket;
  template <typename, typename> friend class basic_socket_acceptor;
  template <typename, typename> friend class basic_tcp_stream;

  using descriptor::launch;
  using descriptor::early_check;
  using descriptor::launch_transfer;
  using descriptor::ex_;
  using descriptor::sched_;
  using descriptor::fd_;

  static unsigned poll_mask(wait_type w) noexcept
  {
    switch (w)
    {
    case wait_read: return POLLIN;
    case wait_write: return POLLOUT;
    default: return POLLPRI | POLLERR | POLLHUP;
    }
  }

  Protocol protocol_ = endpoint_type().protocol();
  bool user_non_blocking_ = false;
  // Stream sockets: the multishot receive state (basic_stream_socket.hpp),
  // created at the second read; reads_ counts reads up to that.
  detail::recv_state* recv_ = nullptr;
  unsigned char reads_ = 0;
  // Registered files: the slot (>= 0); -1: none and none to ask for (no
  // descriptor, no table in the context, or asked already); below -1, the
  // descriptor's requests are counted up to asking: -1 - file_slot_ to go.
  int file_slot_ = -1;

  // Data or the end of the stream is queued (see recv_state::prepare_wait).
  bool recv_ready()
  {
    detail::recv_state* st = recv_;
    if (!st) return false;
    bool ready = false;
    sched_->with_loop([st, &ready] { ready = st->prepare_wait(); });
    return ready;
  }

  // --- registered files (detail/file_table.hpp) --------------------------
  // The slot for the request being initiated (-1: the descriptor). Counts
  // the socket's requests and asks for a slot at the context's threshold,
  // once: the update reaches the kernel with this request, and the slot is
  // used from the first request after the kernel confirmed it. Without a
  // table, or once asked, this is one test of file_slot_.
  int file_slot()
  {
    if (file_slot_ >= -1) [[likely]] return file_slot_;
    // The table may be gone since the count started (file_table::renew).
    if (++file_slot_ == -1 && fd_ >= 0 && sched_->file_threshold() != UINT_MAX) [[unlikely]]
    {
      detail::scheduler* s = sched_;
      const int fd = fd_;
      int slot = -1;
      s->with_loop([&] {
        slot = s->register_file(fd);
        if (slot >= 0 && recv_) recv_->use_slot(slot);
      });
      file_slot_ = slot;
      return slot;
    }
    return -1;
  }

  // file_slot_ for a descriptor just opened or assigned: the context's
  // threshold as a count to go (-1 without a table).
  int file_countdown() const noexcept
  {
    const unsigned t = sched_->file_threshold();
    if (t == UINT_MAX) return -1;
    return -1 - static_cast<int>(std::min<unsigned>(t, INT_MAX));
  }

  // Empties the slot; the update is submitted by the close or release that
  // follows (with its cancellation), before the descriptor is closed.
  void unregister_file() noexcept
  {
    if (file_slot_ < 0) return;
    detail::scheduler* s = sched_;
    const int slot = std::exchange(file_slot_, -1);
    const int fd = fd_;
    s->with_loop([s, slot, fd] { s->unregister_file(slot, fd); });
  }

  void close_recv() noexcept
  {
    if (!recv_) return;
    detail::recv_state* st = std::exchange(recv_, nullptr);
    sched_->with_loop([st] { detail::recv_state::close(st); });
    reads_ = 0;
  }

private:

  boost::system::error_code set_fd_non_blocking(bool mode)
  {
    int flags = ::fcntl(fd_, F_GETFL, 0);
    if (flags < 0) return detail::last_error();
    flags = mode ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return ::fcntl(fd_, F_SETFL, flags) == 0 ? boost::system::error_code() : detail::last_error();
  }

  endpoint_type name_of(int (*fn)(int, sockaddr*, socklen_t*), boost::system::error_code& ec) const
  {
    endpoint_type ep;
    socklen_t len = static_cast<socklen_t>(ep.capacity());
    if (fn(fd_, ep.data(), &len) != 0)
    {
      ec = detail::last_error();
      return endpoint_type();
    }
    ep.resize(len);
    ec.clear();
    return ep;
  }
};

} // namespace asio_uring
