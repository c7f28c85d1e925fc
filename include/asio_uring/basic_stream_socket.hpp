// asio_uring::basic_stream_socket: models Asio's AsyncReadStream and
// AsyncWriteStream, so async_read/async_write, ssl::stream and Beast work.
#pragma once

#include <asio_uring/basic_socket.hpp>
#include <asio_uring/detail/send_zc.hpp>
#include <asio_uring/provided_buffer.hpp>

#include <sys/socket.h>

namespace asio_uring {

namespace detail {

// recv for one buffer, recvmsg for several. A stream read of 0 bytes into a
// non-empty buffer is end of file.
struct recv_kind : kind_base
{
  template <typename Buffers>
  recv_kind(int f, const Buffers& b, int fl, bool s) : fd(f), flags(fl), stream(s), bufs(b) {}
  void prep(io_uring_sqe* sqe)
  {
    if (bufs.count == 1)
      io_uring_prep_recv(sqe, fd, bufs.iov[0].iov_base, bufs.iov[0].iov_len, flags);
    else
    {
      msg = {};
      msg.msg_iov = bufs.iov;
      msg.msg_iovlen = bufs.count;
      io_uring_prep_recvmsg(sqe, fd, &msg, static_cast<unsigned>(flags));
    }
  }
  std::tuple<boost::system::error_code, std::size_t> result(int res)
  {
    if (res == 0 && stream && bufs.total > 0) return {boost::asio::error::eof, 0};
    return transfer_result(res);
  }
  int fd;
  int flags;
  bool stream;
  iov_buffers<> bufs;
  ::msghdr msg;
  int slot = -1;  // registered file slot (detail/file_table.hpp)
};

// The cancellation slot's handler for a read served by a recv_state.
struct recv_reader_cancel
{
  scheduler* sched;
  recv_state* state;
  recv_reader* op;
  void operator()(boost::asio::cancellation_type_t type)
  {
    using ct = boost::asio::cancellation_type;
    if ((type & (ct::terminal | ct::partial | ct::total)) == ct::none) return;
    recv_state* st = state;
    recv_reader* o = op;
    sched->with_loop([st, o] {
      if (!o->delivered) st->cancel_reader(o);
    });
  }
};

// A read served by a socket's recv_state (multishot receive): from the
// queued buffers, or by a single-shot request of its own. `Reader`, a
// recv_reader, is what differs between the socket's reads (socket_read) and
// tcp_stream's (tcp_stream_read, tcp_stream.hpp): its data and
//   Reader(func_type, scheduler&, recv_state*, const Buffers&, args...)
//   static void prep(recv_reader*, io_uring_sqe*)   its single-shot request
//   recv_state* state()
//   void start(scheduler&)   hands itself to state() (its work counted)
//   void restarting()        before state()->restart(this) (a fork)
//   void ending()            its request is over (it completes or is destroyed)
//   void discard()           destroyed unrun: gives back what it holds
//   auto result(int res)     the handler's arguments
template <typename Handler, typename IoExecutor, typename Reader>
class recv_state_op : public Reader
{
public:
  template <typename Buffers, typename... Args>
  recv_state_op(Handler&& h, const IoExecutor& ex, scheduler& s, recv_state* st, const Buffers& b,
      Args... args)
    : Reader(&do_complete, s, st, b, args...), handler_(std::move(h)), work_(handler_, ex, s)
  {
  }

  // Loop owner only. `args`, the Reader's own, are scalars: by value.
  template <typename Buffers, typename... Args>
  static void launch(Handler& h, const IoExecutor& ex, scheduler& s, recv_state* st,
      const Buffers& b, Args... args)
  {
    auto* o = op_allocator<Handler>::template create<recv_state_op>(h, ex, s, st, b, args...);
    s.work_started();
    auto slot = boost::asio::get_associated_cancellation_slot(o->handler_);
    if (slot.is_connected())
      slot.template emplace<recv_reader_cancel>(recv_reader_cancel{&s, st, o});
    o->Reader::start(s);
  }

private:
  static void do_complete(scheduler* owner, operation* base, int res, unsigned flags)
  {
    auto* o = static_cast<recv_state_op*>(base);
    if (owner && res == operation::start_marker)
    {
      o->Reader::restarting();
      o->Reader::state()->restart(o);
      return;
    }
    if (res == operation::start_marker) o->Reader::state()->restart_dropped();
    else if (o->in_kernel) res = o->Reader::state()->single_done(o, res, flags);
    o->Reader::ending();
    clear_slot(o->handler_);
    if (!owner)
    {
      o->Reader::discard();
      destroy_op(o, o->handler_);
      return;
    }
    finish_op(o, o->handler_, o->work_, o->Reader::result(res));
  }

  Handler handler_;
  handler_work<Handler, IoExecutor> work_;
};

// A socket's read through its recv_state; its single-shot request is
// recv_kind's, or a buffer-select recv for async_receive_provided. Handler
// arguments: (error_code, bytes), or (error_code, provided_buffer) when
// Provided.
template <bool Provided>
struct socket_read : recv_reader
{
  template <typename Buffers>
  socket_read(func_type f, scheduler& s, recv_state* st, const Buffers& b, int fd)
    : recv_reader(f, kind_.bufs.iov, 0, Provided, &prep), kind_(fd, b, 0, true), sched_(&s),
      state_(st)
  {
    iovcnt = kind_.bufs.count;
  }

  static void prep(recv_reader* base, io_uring_sqe* sqe)
  {
    auto* r = static_cast<socket_read*>(base);
    if constexpr (Provided) io_uring_prep_recv(sqe, r->kind_.fd, nullptr, 0, 0);
    else r->kind_.prep(sqe);
  }

  recv_state* state() const noexcept { return state_; }
  void start(scheduler&) { state_->start(this); }
  void restarting() noexcept {}
  void ending() noexcept {}
  void discard() noexcept
  {
    if (Provided && bid >= 0) state_buffers().give_back(static_cast<unsigned>(bid));
  }

  auto result(int res)
  {
    if constexpr (Provided)
    {
      using r = std::tuple<boost::system::error_code, provided_buffer>;
      if (res < 0) return r{result_error(res), provided_buffer()};
      if (res == 0 || bid < 0) return r{boost::asio::error::eof, provided_buffer()};
      unsigned b = static_cast<unsigned>(std::exchange(bid, -1));
      return r{boost::system::error_code(),
          provided_access::make(*sched_, state_buffers(), b, pdata, psize)};
    }
    else
      return kind_.result(res);
  }

  buffer_ring& state_buffers() noexcept { return sched_->recv_buffers(); }

  recv_kind kind_;
  scheduler* sched_;
  recv_state* state_;
};

template <typename Handler, typename IoExecutor, bool Provided>
using stream_recv_op = recv_state_op<Handler, IoExecutor, socket_read<Provided>>;

// async_receive_provided without a registered buffer ring: a single-shot
// recv into a buffer taken from the context's pool when the request is
// filled; an empty pool is no_buffer_space.
struct provided_pool_kind : kind_base
{
  provided_pool_kind(scheduler& s, int f) : sched(&s), fd(f) {}
  void prep(io_uring_sqe* sqe)
  {
    buffer_ring& br = sched->recv_buffers();
    if (bid < 0) bid = br.take();  // kept when started again (fork)
    if (bid < 0) io_uring_prep_nop(sqe);
    else io_uring_prep_recv(sqe, fd, br.data(static_cast<unsigned>(bid)), br.buffer_size(), 0);
  }
  std::tuple<boost::system::error_code, provided_buffer> result(int res)
  {
    buffer_ring& br = sched->recv_buffers();
    if (bid < 0) return {boost::asio::error::no_buffer_space, provided_buffer()};
    unsigned b = static_cast<unsigned>(std::exchange(bid, -1));
    if (res <= 0)
    {
      br.give_back(b);
      return {res < 0 ? result_error(res) : boost::system::error_code(boost::asio::error::eof),
          provided_buffer()};
    }
    return {boost::system::error_code(),
        provided_access::make(*sched, br, b, br.data(b), static_cast<std::size_t>(res))};
  }
  void discard(int) noexcept
  {
    if (bid >= 0) sched->recv_buffers().give_back(static_cast<unsigned>(bid));
  }
  scheduler* sched;
  int fd;
  int bid = -1;
};

// send for one buffer, sendmsg for several; MSG_NOSIGNAL: a closed peer is
// broken_pipe, never SIGPIPE.
struct send_kind : kind_base
{
  template <typename Buffers>
  send_kind(int f, const Buffers& b, int fl) : fd(f), flags(fl | MSG_NOSIGNAL), bufs(b) {}
  void prep(io_uring_sqe* sqe)
  {
    if (bufs.count == 1)
      io_uring_prep_send(sqe, fd, bufs.iov[0].iov_base, bufs.iov[0].iov_len, flags);
    else
    {
      msg = {};
      msg.msg_iov = bufs.iov;
      msg.msg_iovlen = bufs.count;
      io_uring_prep_sendmsg(sqe, fd, &msg, static_cast<unsigned>(flags));
    }
  }
  std::tuple<boost::system::error_code, std::size_t> result(int res) { return transfer_result(res); }
  int fd;
  int flags;
  iov_buffers<> bufs;
  ::msghdr msg;
  int slot = -1;  // registered file slot (detail/file_table.hpp)
};

// Synchronous transfer with recvmsg/sendmsg.
template <bool Send, typename Buffers>
std::size_t sync_transfer(int fd, const Buffers& buffers, int flags, bool stream,
    boost::system::error_code& ec)
{
  iov_buffers<64> bufs(buffers);
  if (bufs.total == 0 && stream)
  {
    ec.clear();
    return 0;
  }
  ::msghdr msg{};
  msg.msg_iov = bufs.iov;
  msg.msg_iovlen = bufs.count;
  ssize_t n;
  do n = Send ? ::sendmsg(fd, &msg, flags | MSG_NOSIGNAL) : ::recvmsg(fd, &msg, flags);
  while (n < 0 && errno == EINTR);
  if (n < 0)
  {
    ec = errno == EAGAIN ? boost::system::error_code(boost::asio::error::would_block) : last_error();
    return 0;
  }
  if (!Send && n == 0 && stream)
  {
    ec = boost::asio::error::eof;
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(n);
}

} // namespace detail

template <typename Protocol, typename Executor = boost::asio::any_io_executor>
class basic_stream_socket : public basic_socket<Protocol, Executor>
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
    using other = basic_stream_socket<Protocol, OtherExecutor>;
  };

  using base::base;

  basic_stream_socket(basic_stream_socket&&) noexcept = default;
  basic_stream_socket& operator=(basic_stream_socket&&) = default;
  template <typename P1, typename E1, typename = std::enable_if_t<
      std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>>>
  basic_stream_socket(basic_stream_socket<P1, E1>&& o) : base(std::move(o)) {}
  template <typename P1, typename E1>
  std::enable_if_t<std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>,
      basic_stream_socket&> operator=(basic_stream_socket<P1, E1>&& o)
  {
    base::operator=(std::move(o));
    zc_fd_ = -1;
    return *this;
  }

  // --- synchronous ----------------------------------------------------------
  template <typename ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& b, boost::asio::socket_base::message_flags f = 0)
  {
    boost::system::error_code ec;
    std::size_t n = send(b, f, ec);
    boost::asio::detail::throw_error(ec, "send");
    return n;
  }
  template <typename ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& b, boost::asio::socket_base::message_flags f,
      boost::system::error_code& ec)
  {
    return detail::sync_transfer<true>(this->fd_, b, f, true, ec);
  }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b) { return send(b, 0); }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b, boost::system::error_code& ec)
  { return send(b, 0, ec); }

  template <typename MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& b, boost::asio::socket_base::message_flags f = 0)
  {
    boost::system::error_code ec;
    std::size_t n = receive(b, f, ec);
    boost::asio::detail::throw_error(ec, "receive");
    return n;
  }
  // Data the multishot receive queued is read first (MSG_PEEK: peeked);
  // MSG_OOB goes to the kernel.
  template <typename MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& b, boost::asio::socket_base::message_flags f,
      boost::system::error_code& ec)
  {
    if (this->recv_ && !(f & MSG_OOB))
    {
      detail::iov_buffers<64> bufs(b);
      if (bufs.total == 0)
      {
        ec.clear();
        return 0;
      }
      for (;;)
      {
        long n = detail::recv_state::nothing;
        bool armed = false;
        detail::recv_state* st = this->recv_;
        this->sched_->with_loop([&] {
          this->sched_->poll_completions();
          n = st->take_sync(bufs.iov, bufs.count, (f & MSG_PEEK) != 0);
          armed = st->armed();
        });
        if (n != detail::recv_state::nothing)
        {
          if (n > 0)
          {
            ec.clear();
            return static_cast<std::size_t>(n);
          }
          ec = n == 0 ? boost::system::error_code(boost::asio::error::eof)
                      : detail::result_error(static_cast<int>(n));
          return 0;
        }
        // Nothing queued: with the multishot ended, ask the kernel.
        if (!armed) break;
        if (this->user_non_blocking_)
        {
          ec = boost::asio::error::would_block;
          return 0;
        }
        // The multishot takes what arrives: wait for the socket or a CQE (the
        // timeout covers task work run without entering the kernel).
        pollfd p[2] = {{this->fd_, POLLIN, 0}, {this->sched_->get_ring().get()->ring_fd, POLLIN, 0}};
        ::poll(p, 2, 10);
      }
    }
    return detail::sync_transfer<false>(this->fd_, b, f, true, ec);
  }
  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b) { return receive(b, 0); }
  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b, boost::system::error_code& ec)
  { return receive(b, 0, ec); }

  // --- asynchronous -----------------------------------------------------------
  // Completes with (error_code, bytes). Zero-length buffers complete with 0
  // at once (through the executor, never inside this call).
  // From the second read with flags 0 on, a socket on the kernel ring reads
  // through one multishot receive into the context's buffer ring (see
  // doc/design.md, "Multishot receive"); with flags other than MSG_OOB the
  // data it queued is read (MSG_PEEK: peeked) first.
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& b, boost::asio::socket_base::message_flags f,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto&& h, const MutableBufferSequence& bufs, int flags) {
          // The handler is moved once, into the operation (from Asio's
          // temporary; a handler passed as an lvalue is copied first).
          using H = std::decay_t<decltype(h)>;
          std::conditional_t<std::is_lvalue_reference_v<decltype(h)>, H, H&> handler(h);
          const int slot = this->file_slot();
          // The steady state: a socket reading through its multishot, on the
          // loop's thread: straight to its recv_state.
          if (flags == 0 && this->recv_ && this->fd_ >= 0 && this->sched_->loop_owner_here()
              && boost::asio::buffer_size(bufs) > 0) [[likely]]
          {
            detail::stream_recv_op<H, Executor, false>::launch(
                handler, this->ex_, *this->sched_, this->recv_, bufs, this->fd_);
            return;
          }
          // Out of line: the plain path stays small enough to be inlined
          // into the caller (a coroutine's initiation), as it is without
          // multishot receive.
          if ((this->recv_ || this->reads_ < 2) && receive_other(handler, bufs, flags)) return;
          detail::recv_kind k(this->fd_, bufs, flags, true);
          k.slot = slot;
          std::size_t bytes = k.bufs.total;
          this->template launch_transfer<detail::recv_kind>(handler, bytes, std::move(k));
        }, token, b, static_cast<int>(f));
  }

  // Completes with (error_code, provided_buffer): the bytes received, in a
  // buffer of the context's (io_context_options::recv_buffers of
  // recv_buffer_size bytes) that the handle owns until it is destroyed or
  // reset. A pending receive holds no buffer on the kernel ring (the kernel
  // picks one when data arrives); elsewhere it takes one from the pool when
  // it starts. No buffer left (all held by handles or queued): the error is
  // no_buffer_space. End of stream: eof.
  template <typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive_provided(
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken,
        void(boost::system::error_code, asio_uring::provided_buffer)>(
        [this](auto handler) {
          if (this->fd_ >= 0 && use_multishot(false)
              && start_multishot<true>(handler, boost::asio::mutable_buffer()))
            return;
          this->template launch<detail::provided_pool_kind>(handler, this->early_check(),
              detail::provided_pool_kind(*this->sched_, this->fd_));
        }, token);
  }
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(b, 0, std::forward<ReadToken>(token));
  }
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(b, 0, std::forward<ReadToken>(token));
  }

private:
  template <typename, typename> friend class basic_tcp_stream;  // reads through recv_

  // An async_receive that is not a plain single-shot recv: one started on
  // the socket's multishot (created at the second read), or one answered
  // from the data it queued. False: a plain recv it is.
  template <typename Handler, typename Buffers>
  [[gnu::noinline]] bool receive_other(Handler& handler, const Buffers& bufs, int flags)
  {
    detail::recv_kind k(this->fd_, bufs, flags, true);
    if (k.bufs.total == 0 || this->fd_ < 0 || (flags & MSG_OOB) || !use_multishot(flags == 0))
      return false;
    if (flags == 0 && start_multishot<false>(handler, bufs)) return true;
    int early = queued_result(k, flags);
    if (early == detail::operation::start_marker) return false;
    this->template launch<detail::recv_kind>(handler, early, std::move(k));
    return true;
  }

  // The context may have a buffer ring; `reading`: count this read (the
  // first read of a socket stays single-shot: many connections read once).
  // A context without one marks the socket (reads_ = 2): never again asked.
  bool use_multishot(bool reading)
  {
    if (this->recv_) return true;
    if (this->reads_ > 1) return false;
    const detail::ring& r = this->sched_->get_ring();
    if (r.engine() != engine_kind::io_uring || !r.options().multishot_recv)
    {
      this->reads_ = 2;
      return false;
    }
    if (reading && this->reads_ == 0)
    {
      this->reads_ = 1;
      return false;
    }
    return true;
  }

  // Starts the read on the socket's recv_state (created on first use).
  // False: the context has no buffer ring (then never again for this socket).
  template <bool Provided, typename Handler, typename Buffers>
  bool start_multishot(Handler& handler, const Buffers& bufs)
  {
    using op = detail::stream_recv_op<Handler, Executor, Provided>;
    bool started = false;
    detail::scheduler& s = *this->sched_;
    // Before the launch: with several threads in run(), the read may
    // complete, and its handler touch this socket, before with_loop returns.
    this->async_used_ = true;
    this->sched_->with_loop([&] {
      if (!this->recv_)
      {
        this->recv_ = detail::recv_state::create(s, this->fd_);
        if (!this->recv_) return;
        if (this->file_slot_ >= 0) this->recv_->use_slot(this->file_slot_);
      }
      op::launch(handler, this->ex_, s, this->recv_, bufs, this->fd_);
      started = true;
    });
    if (!started) this->reads_ = 2;
    return started;
  }

  // A receive with flags while data is queued: its result from the queue
  // (bytes, eof, -errno), or start_marker to ask the kernel.
  int queued_result(const detail::recv_kind& k, int flags)
  {
    long n = detail::recv_state::nothing;
    if (detail::recv_state* st = this->recv_)
      this->sched_->with_loop([&] {
        if (st->has_data_or_end()) n = st->take_sync(k.bufs.iov, k.bufs.count, (flags & MSG_PEEK) != 0);
      });
    return n == detail::recv_state::nothing ? detail::operation::start_marker : static_cast<int>(n);
  }

public:
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& b, boost::asio::socket_base::message_flags f,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto&& h, const ConstBufferSequence& bufs, int flags) {
          // As in async_receive: one move of the handler.
          using H = std::decay_t<decltype(h)>;
          std::conditional_t<std::is_lvalue_reference_v<decltype(h)>, H, H&> handler(h);
          detail::send_kind k(this->fd_, bufs, flags);
          k.slot = this->file_slot();
          std::size_t bytes = k.bufs.total;
          // Large plain sends try zero copy (detail/send_zc.hpp).
          if (flags == 0 && this->sched_->send_zc().wanted(bytes, k.bufs.count)
              && send_zero_copy(handler, k))
            return;
          this->template launch_transfer<detail::send_kind>(handler, bytes, std::move(k));
        }, token, b, static_cast<int>(f));
  }
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send(b, 0, std::forward<WriteToken>(token));
  }
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send(b, 0, std::forward<WriteToken>(token));
  }

private:
  // Starts `k` as a zero-copy send when the socket may send so. Out of line
  // (see receive_other).
  template <typename Handler>
  [[gnu::noinline]] bool send_zero_copy(Handler& handler, detail::send_kind& k)
  {
    detail::send_zc_state& zc = this->sched_->send_zc();
    if (this->fd_ < 0 || zc.refused(this->protocol_.family()) || !zc_peer_remote(zc)) return false;
    using op = detail::send_zc_op<Handler, Executor, detail::send_kind>;
    this->async_used_ = true;
    op::launch(handler, this->ex_, *this->sched_, std::move(k), this->protocol_.family());
    return true;
  }

  // Zero copy only pays when the kernel can hand our pages to a device, not
  // to a receiver on this host: asked once per descriptor (two system calls
  // at its first large send). A descriptor number reused by this object
  // (close, then open/connect) keeps the old answer: a cost, never an error.
  bool zc_peer_remote(const detail::send_zc_state& zc)
  {
    if (zc.local_peers()) return true;
    if (zc_fd_ != this->fd_)
    {
      zc_fd_ = this->fd_;
      zc_remote_ = !detail::peer_on_this_host(this->fd_);
    }
    return zc_remote_;
  }

  int zc_fd_ = -1;
  bool zc_remote_ = false;
};

} // namespace asio_uring

// Beast's customisation points (teardown, beast_close_socket) for these sockets.
#include <asio_uring/detail/beast_hooks.hpp>
