// asio_uring::tcp_stream: Boost.Beast's basic_stream<tcp, Executor, RatePolicy>
// on our socket, member for member. As in Beast, when the deadline
// (expires_after / expires_at) passes with an operation pending, the socket is
// closed and every operation pending on it completes with
// beast::error::timeout. A timed write or connect, and a read that is its own
// request, is one SQE linked to an IORING_OP_LINK_TIMEOUT. Reads from the
// second on go through the socket's multishot receive (doc/design.md,
// "Multishot receive"): one that finds data queued needs no timer; one that
// waits is covered by its stream's read_deadlines, one lazily armed
// IORING_OP_TIMEOUT (doc/design.md, "tcp_stream").
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
#include <asio_uring/detail/buffer_ring.hpp>
#include <asio_uring/ip/tcp.hpp>

#include <boost/asio/compose.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/rate_policy.hpp>

#include <atomic>
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

// A tcp_stream read served by its socket's recv_state (multishot receive),
// linked into its stream's read_deadlines while it waits under a deadline.
// (Kept small: Asio's recycling allocator reuses a cached block only if the
// new operation fits in it, and Beast's handlers are large already.)
struct tcp_read : recv_reader
{
  using clock = std::chrono::steady_clock;
  tcp_read(func_type f, const ::iovec* v, prep_fn prep, recv_state* r, int d, clock::time_point e) noexcept
    : recv_reader(f, v, 0, false, prep), rs(r), expiry(e), fd(d) {}
  recv_state* rs;
  clock::time_point expiry;
  tcp_read* next = nullptr;  // in read_deadlines' list
  int fd;
  unsigned socket_gen = 0;   // tcp_stream_state::socket_gen when it started
  bool linked = false;
  bool expired = false;      // its own deadline ended it: beast::error::timeout
};

// The deadlines of a stream's waiting multishot reads. The multishot request
// outlives every read, so a read's deadline cannot be a linked timeout.
// Instead one IORING_OP_TIMEOUT per stream (absolute, CLOCK_MONOTONIC, which
// is steady_clock; an internal operation: it counts no work) is armed when a
// read starts waiting with a deadline before the armed time, and stays armed
// when the read completes. When it fires it looks at the reads still
// waiting: each one past its deadline goes to `expired`; otherwise it is
// armed again for the earliest of them, or left idle when none waits. So a
// stream whose deadline moves forward before every read (Beast's servers:
// expires_after per request) submits it once per deadline period, not per
// read, and the loop pays nothing per turn. On the heap, created at the first
// timed read that waits: it outlives its stream until its last CQE.
// Loop owner only.
class read_deadlines : public operation
{
public:
  using clock = std::chrono::steady_clock;
  using expired_fn = void (*)(void* owner, tcp_read* r);

  read_deadlines(scheduler& s, expired_fn f, void* owner) noexcept
    : operation(&on_cqe), sched_(s), expired_(f), owner_(owner)
  {
    set_internal();
  }
  read_deadlines(const read_deadlines&) = delete;
  read_deadlines& operator=(const read_deadlines&) = delete;

  // The stream is gone: the timeout in the kernel is removed; deletes `d`
  // now or at its last CQE.
  static void release(read_deadlines* d) noexcept
  {
    if (!d->in_kernel_)
    {
      delete d;
      return;
    }
    d->orphan_ = true;
    io_uring_sqe* sqe = d->sched_.get_sqe();
    io_uring_prep_timeout_remove(sqe, d->user_data(), 0);
    io_uring_sqe_set_data64(sqe, 0);
  }

  scheduler& sched() noexcept { return sched_; }

  // `r` waits for data until r->expiry.
  void wait(tcp_read* r)
  {
    r->linked = true;
    r->next = head_;
    head_ = r;
    if (r->expiry < at_) [[unlikely]] arm(r->expiry);
  }
  // `r`, waiting, starts again (its multishot was cancelled by a fork).
  void rewait(tcp_read* r)
  {
    if (r->expiry < at_) arm(r->expiry);
  }
  // `r` completed (or is destroyed); any thread.
  void done(tcp_read* r)
  {
    // (A stream has one read waiting, or a few: a list scan.)
    sched_.with_loop([this, r] {
      tcp_read** p = &head_;
      while (*p != r) p = &(*p)->next;
      *p = r->next;
      r->linked = false;
    });
  }

  // Diagnostics and tests: timeouts submitted or moved earlier.
  std::size_t arms = 0;

private:
  static void on_cqe(scheduler*, operation* op, int res, unsigned)
  {
    auto* d = static_cast<read_deadlines*>(op);
    d->in_kernel_ = false;
    d->at_ = clock::time_point::max();
    if (d->orphan_)
    {
      delete d;
      return;
    }
    // -ECANCELED: by a fork or the context's shutdown; the next read that
    // waits (or starts again) arms it.
    if (res == -ETIME) d->expire();
  }

  void expire()
  {
    const clock::time_point now = clock::now();
    clock::time_point next = clock::time_point::max();
    for (tcp_read* r = head_; r; r = r->next)
    {
      if (r->delivered) continue;
      if (r->expiry <= now) expired_(owner_, r);  // completes r later, never here
      else if (r->expiry < next) next = r->expiry;
    }
    if (next != clock::time_point::max()) arm(next);
  }

  void arm(clock::time_point t)
  {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    ts_.tv_sec = ns / 1000000000;
    ts_.tv_nsec = ns % 1000000000;
    io_uring_sqe* sqe = sched_.get_sqe();
    if (in_kernel_)
    {
      // Earlier than the armed time. If that already fired, this finds
      // nothing and the expiry arms again.
      io_uring_prep_timeout_update(sqe, &ts_, user_data(), IORING_TIMEOUT_ABS);
      io_uring_sqe_set_data64(sqe, 0);
    }
    else
    {
      io_uring_prep_timeout(sqe, &ts_, 0, IORING_TIMEOUT_ABS);
      io_uring_sqe_set_data64(sqe, user_data());
      sched_.op_submitted();
      in_kernel_ = true;
    }
    at_ = t;
    ++arms;
  }

  scheduler& sched_;
  expired_fn expired_;
  void* owner_;
  __kernel_timespec ts_{};  // read by the kernel when the SQE is submitted
  clock::time_point at_ = clock::time_point::max();  // armed for (max: idle)
  tcp_read* head_ = nullptr;  // the reads waiting under a deadline
  bool in_kernel_ = false;
  bool orphan_ = false;
};

// What a tcp_stream's operations share with it: the socket (closed by the
// first operation that times out), whether that happened, the rate policy and
// its timer, the deadlines of its waiting multishot reads. Operations hold a
// reference, so it outlives a stream destroyed or moved while they are
// pending.
template <typename Socket, typename RatePolicy>
struct tcp_stream_state : std::enable_shared_from_this<tcp_stream_state<Socket, RatePolicy>>
{
  template <typename Policy, typename... Args>
  explicit tcp_stream_state(Policy&& p, Args&&... a)
    : socket(std::forward<Args>(a)...), policy(std::forward<Policy>(p)), rate(socket.get_executor())
  {
  }
  ~tcp_stream_state()
  {
    if (read_deadlines* d = deadlines) d->sched().with_loop([d] { read_deadlines::release(d); });
  }
  tcp_stream_state(const tcp_stream_state&) = delete;
  tcp_stream_state& operator=(const tcp_stream_state&) = delete;

  Socket socket;
  RatePolicy policy;
  rate_timer<typename Socket::executor_type, !is_unlimited_v<RatePolicy>> rate;
  // A deadline passed since the last new one: what the close ends completes
  // with timeout. Set where the deadline is seen (the loop), reset by
  // expires_* (the stream's executor), read by completions on either.
  std::atomic<bool> timed_out{false};
  // Counts the times the socket left this state (the stream moved from, its
  // socket released, the stream closed): a request started before the last
  // of them is no longer the stream's, and one that its deadline ends then
  // completes with operation_aborted and closes nothing. An atomic, so that
  // the loop may compare it when it sees a deadline pass while the stream's
  // own executor moves or closes it (the socket's descriptor is that
  // executor's to read).
  std::atomic<unsigned> socket_gen{0};
  read_deadlines* deadlines = nullptr;  // created at the first timed read that waits
  void socket_leaves() noexcept { socket_gen.fetch_add(1, std::memory_order_release); }

  // An operation on descriptor `fd` ran past its deadline: as Beast's timer
  // handler does, the socket is closed on the stream's executor, so that a
  // strand orders the close with the stream's other operations (the loop
  // that saw the deadline may be any thread), and only if the socket is
  // still the one the operation used (`gen`; and that descriptor). Inline
  // when the executor allows it here (the context's own, from inside run()).
  // A deadline set meanwhile (expires_*) does not keep the socket open: it
  // is for later operations, and Beast's timer closes the stream just the
  // same (the strand may run the deadline's expires_never() after the loop
  // saw the deadline pass, when the thread that runs it was preempted).
  static void close_on_timeout(std::shared_ptr<tcp_stream_state> st, int fd, unsigned gen)
  {
    auto ex = st->socket.get_executor();
    boost::asio::dispatch(ex, [st = std::move(st), fd, gen] {
      if (st->socket_gen.load(std::memory_order_relaxed) != gen || st->socket.native_handle() != fd) return;
      boost::system::error_code ignored;
      st->socket.close(ignored);  // ends the stream's other operations too
    });
  }

  // A waiting read's deadline passed (loop owner). If the socket is still
  // the one the read started on, the read ends with timeout and the socket
  // is closed as above, once per deadline; otherwise (the stream was moved
  // or closed, or the socket released) the read alone ends, with
  // operation_aborted.
  static void read_expired(void* p, tcp_read* r)
  {
    auto* st = static_cast<tcp_stream_state*>(p);
    const int fd = r->fd;
    const bool same = st->socket_gen.load(std::memory_order_acquire) == r->socket_gen;
    r->expired = same;
    r->rs->cancel_reader(r);
    if (same && !st->timed_out.exchange(true, std::memory_order_acq_rel))
      close_on_timeout(st->shared_from_this(), fd, r->socket_gen);
  }
};

// A tcp_stream read through the multishot receive (recv_state_op): a
// socket's read, plus the deadline (read_deadlines) and the stream's timeout
// result. Its single-shot request (after -ENOBUFS) is a recv, or a readv for
// several buffers (no msghdr to keep). Handler arguments: (error_code, bytes).
template <typename State>
struct tcp_stream_read : tcp_read
{
  // (`st` by pointer: recv_state_op passes its Reader's arguments by value.)
  template <typename Buffers>
  tcp_stream_read(func_type f, scheduler&, recv_state* rs, const Buffers& b, int fd,
      const std::shared_ptr<State>* st, clock::time_point expiry)
    : tcp_read(f, bufs_.iov, &prep, rs, fd, expiry), bufs_(b), state_(*st)
  {
    iovcnt = bufs_.count;
    socket_gen = state_->socket_gen.load(std::memory_order_relaxed);
  }

  static void prep(recv_reader* base, io_uring_sqe* sqe)
  {
    auto* r = static_cast<tcp_stream_read*>(base);
    const iov_buffers<>& b = r->bufs_;
    if (b.count == 1) io_uring_prep_recv(sqe, r->fd, b.iov[0].iov_base, b.iov[0].iov_len, 0);
    else io_uring_prep_readv(sqe, r->fd, b.iov, static_cast<unsigned>(b.count), std::uint64_t(-1));
  }

  recv_state* state() const noexcept { return rs; }
  // Queued data (or the end) completes it without waiting: no deadline.
  void start(scheduler& s)
  {
    const bool waits = expiry != clock::time_point::max() && !rs->has_data_or_end();
    rs->start(this);
    if (waits)
    {
      if (!state_->deadlines) [[unlikely]]
        state_->deadlines = new read_deadlines(s, &State::read_expired, state_.get());
      state_->deadlines->wait(this);
    }
  }
  void restarting()
  {
    if (linked) state_->deadlines->rewait(this);
  }
  void ending()
  {
    if (linked) state_->deadlines->done(this);
  }
  void discard() noexcept {}

  std::tuple<boost::system::error_code, std::size_t> result(int res)
  {
    auto r = res == 0 && bufs_.total > 0
        ? std::tuple<boost::system::error_code, std::size_t>(boost::asio::error::eof, 0)
        : transfer_result(res);
    if (res == -ECANCELED && (expired || state_->timed_out.load(std::memory_order_acquire)))
      std::get<0>(r) = boost::beast::error::timeout;
    return r;
  }

  iov_buffers<> bufs_;
  std::shared_ptr<State> state_;
};

template <typename Handler, typename IoExecutor, typename State>
using tcp_read_op = recv_state_op<Handler, IoExecutor, tcp_stream_read<State>>;

// Adds a deadline to a request kind: prep stays Inner's. A request cancelled
// because its deadline passed closes the stream's socket; it and every other
// request cancelled by that close complete with beast::error::timeout.
template <typename Inner, typename State>
struct timed_kind : Inner
{
  using clock = std::chrono::steady_clock;

  template <typename... Args>
  timed_kind(std::shared_ptr<State> state, clock::time_point expiry, Args&&... args)
    : Inner(std::forward<Args>(args)...), state_(std::move(state)), expiry_(expiry),
      socket_gen_(state_->socket_gen.load(std::memory_order_relaxed))
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
    // Cancelled with its deadline passed (its linked timeout fired) on the
    // descriptor the stream still has: it ends with timeout and the socket
    // is closed on the stream's executor (State::close_on_timeout), once per
    // deadline. Cancelled otherwise: by that close (timeout), or by the user
    // or a move (operation_aborted).
    if (expiry_ != clock::time_point::max() && clock::now() >= expiry_
        && state_->socket_gen.load(std::memory_order_acquire) == socket_gen_)
    {
      std::get<0>(r) = boost::beast::error::timeout;
      if (!state_->timed_out.exchange(true, std::memory_order_acq_rel))
        State::close_on_timeout(state_, this->Inner::fd, socket_gen_);
    }
    else if (state_->timed_out.load(std::memory_order_acquire))
      std::get<0>(r) = boost::beast::error::timeout;
    return r;
  }

  std::shared_ptr<State> state_;
  clock::time_point expiry_;
  unsigned socket_gen_;  // State::socket_gen when it started
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
    other.state_->socket_leaves();
  }

  // As in Beast, the moved-from stream is left as if newly constructed (a
  // closed socket on the same executor).
  basic_tcp_stream(basic_tcp_stream&& o)
    : state_(std::make_shared<state_type>(std::move(o.rate_policy()), std::move(o.socket()))),
      expiry_(o.expiry_)
  {
    o.state_->socket_leaves();
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
    state_->socket_leaves();
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
    state_->socket_leaves();
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
    state_->timed_out.store(false, std::memory_order_release);
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

  // An unlimited read: from the socket's second read on, through its
  // multishot receive (detail::tcp_read_op), as the socket's own reads; the
  // first one, and every read where the multishot is off or unavailable, is
  // one timed request.
  template <typename Handler, typename Buffers>
  static void start_read(Handler& handler, const state_ptr& state, clock::time_point expiry,
      const Buffers& bufs)
  {
    using op = detail::tcp_read_op<Handler, Executor, state_type>;
    socket_type& s = state->socket;
    // The steady state: on the loop's thread, straight to the recv_state.
    if (s.recv_ && s.fd_ >= 0 && s.sched_->loop_owner_here() && boost::asio::buffer_size(bufs) > 0)
        [[likely]]
    {
      op::launch(handler, s.ex_, *s.sched_, s.recv_, bufs, s.fd_, &state, expiry);
      return;
    }
    if (s.fd_ >= 0 && boost::asio::buffer_size(bufs) > 0 && s.use_multishot(true))
    {
      bool started = false;
      detail::scheduler& sched = *s.sched_;
      // Before the launch, as in basic_stream_socket::start_multishot.
      s.async_used_ = true;
      sched.with_loop([&] {
        if (!s.recv_) s.recv_ = detail::recv_state::create(sched, s.fd_);
        if (!s.recv_) return;
        op::launch(handler, s.ex_, sched, s.recv_, bufs, s.fd_, &state, expiry);
        started = true;
      });
      if (started) return;
      s.reads_ = 2;  // no buffer ring: never again for this socket
    }
    start_transfer<true>(handler, state, expiry, bufs, std::size_t(-1));
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
            if constexpr (Read) start_read(handler, state, expiry, bufs);
            else start_transfer<Read>(handler, state, expiry, bufs, std::size_t(-1));
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
