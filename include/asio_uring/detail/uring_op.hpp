// One io_uring request with its handler: the generic operation behind every
// asynchronous member of the I/O objects. A `Kind` describes the request:
//   void prep(io_uring_sqe*)            fills the SQE
//   std::tuple<...> result(int res)     the handler's arguments from the CQE
#pragma once

#include <asio_uring/detail/handler_work.hpp>
#include <asio_uring/detail/io_object.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>

#include <sys/uio.h>

#include <cstddef>
#include <tuple>
#include <utility>

namespace asio_uring::detail {

// A handler with its arguments, as a nullary function that keeps the
// handler's associated executor, allocator and cancellation slot visible.
template <typename Handler, typename... Args>
struct bound_handler
{
  Handler handler_;
  std::tuple<Args...> args_;
  void operator()() { std::apply(std::move(handler_), std::move(args_)); }
};

// Frees operation `o` (allocated for its handler) and runs the handler with
// `args`, as every operation completes: called right here when its executor
// is ours on this thread, otherwise through handler_work.
template <typename Op, typename Handler, typename IoExecutor, typename Args>
[[gnu::always_inline]] inline void finish_op(Op* o, Handler& handler,
    handler_work<Handler, IoExecutor>& work, Args&& args)
{
  auto alloc = op_allocator<Handler>::get(handler);
  if (work.native())
  {
    Handler h(std::move(handler));
    op_allocator<Handler>::destroy(o, alloc);
    std::apply(std::move(h), std::move(args));
    return;
  }
  handler_work<Handler, IoExecutor> w(std::move(work));
  auto f = std::apply([&](auto&&... a) {
    return bound_handler<Handler, std::decay_t<decltype(a)>...>{std::move(handler), {std::move(a)...}};
  }, std::move(args));
  op_allocator<Handler>::destroy(o, alloc);
  w.complete(f, f.handler_);
}

// The cancellation slot's handler of an operation that is one request:
// asks the kernel to cancel it.
struct request_cancel
{
  scheduler* sched;
  operation* op;
  void operator()(boost::asio::cancellation_type_t type)
  {
    using ct = boost::asio::cancellation_type;
    if ((type & (ct::terminal | ct::partial | ct::total)) == ct::none) return;
    scheduler* s = sched;
    operation* o = op;
    s->with_loop([s, o] { s->cancel_in_flight(o); });
  }
};

template <typename Handler, typename IoExecutor, typename Kind>
class uring_op : public operation, public Kind
{
public:
  template <typename... KindArgs>
  [[gnu::always_inline]] uring_op(Handler&& h, const IoExecutor& ex, scheduler& s, KindArgs&&... args)
    : operation(&do_complete), Kind(std::forward<KindArgs>(args)...),
      handler_(std::move(h)), work_(handler_, ex, s)
  {
  }

  // Creates the operation and starts it; or completes it with `early_res`
  // (never inside this call) when that is not INT_MIN.
  [[gnu::always_inline]] static void launch(Handler& h, const IoExecutor& ex, scheduler& s,
      int early_res, Kind&& kind)
  {
    auto* o = op_allocator<Handler>::template create<uring_op>(h, ex, s, std::move(kind));
    s.work_started();
    if (early_res != start_marker)
    {
      o->set_result(early_res, 0);
      s.post_deferred(o);
      return;
    }
    auto slot = boost::asio::get_associated_cancellation_slot(o->handler_);
    if (slot.is_connected())
      slot.template emplace<request_cancel>(request_cancel{&s, o});
    // Started right here when this thread drives the ring (no indirect call);
    // otherwise handed to the thread that does.
    if (s.loop_owner_here()) o->queue_request(s);
    else s.defer_start(o);
  }

private:
  // Fills the SQE(s); loop owner only.
  [[gnu::always_inline]] void queue_request(scheduler& s)
  {
    __kernel_timespec* timeout = nullptr;
    if constexpr (requires { this->Kind::link_timeout(); })
      timeout = this->Kind::link_timeout();
    // A request and its linked timeout must reach the kernel together.
    if (timeout) s.reserve_sqes(2);
    io_uring_sqe* sqe = s.get_sqe();
    this->Kind::prep(sqe);
    // A socket request: its registered file slot, if it has one (file_table.hpp).
    if constexpr (requires { this->Kind::slot; })
      if (this->Kind::slot >= 0) s.get_ring().files().apply(sqe, this->Kind::slot);
    io_uring_sqe_set_data64(sqe, this->user_data());
    if (timeout)
    {
      sqe->flags |= IOSQE_IO_LINK;
      io_uring_sqe* t = s.get_sqe();
      io_uring_prep_link_timeout(t, timeout, 0);
      io_uring_sqe_set_data64(t, 0);
    }
    s.op_submitted();
    if constexpr (requires { this->Kind::submit_now; })
      if (this->Kind::submit_now) s.request_submit();
  }

  static void do_complete(scheduler* owner, operation* base, int res, unsigned)
  {
    auto* o = static_cast<uring_op*>(base);
    if (owner && res == start_marker)
    {
      o->queue_request(*owner);
      return;
    }
    clear_slot(o->handler_);
    if (!owner)
    {
      if (res != start_marker) o->Kind::discard(res);
      // (Not destroy_op: that, or any other change of this function, makes
      // GCC 12 stop inlining Asio's write_op start into a coroutine's
      // co_await, +50 instructions per request of example/http_server.)
      auto alloc = op_allocator<Handler>::get(o->handler_);
      op_allocator<Handler>::destroy(o, alloc);
      return;
    }
    finish_op(o, o->handler_, o->work_, o->Kind::result(res));
  }

  Handler handler_;
  handler_work<Handler, IoExecutor> work_;
};

// Kinds derive from this: nothing to release when destroyed unrun.
struct kind_base
{
  void discard(int) noexcept {}
};

// Up to `N` buffers of a sequence as iovecs (an operation may transfer less
// than the whole sequence, as write_some/read_some may).
template <std::size_t N = 8>
struct iov_buffers
{
  template <typename Buffers>
  [[gnu::always_inline]] explicit iov_buffers(const Buffers& bufs)
  {
    auto it = boost::asio::buffer_sequence_begin(bufs);
    auto end = boost::asio::buffer_sequence_end(bufs);
    for (; it != end && count < N; ++it)
    {
      auto b = *it;
      if (b.size() == 0) continue;
      iov[count].iov_base = const_cast<void*>(static_cast<const void*>(b.data()));
      iov[count].iov_len = b.size();
      total += b.size();
      ++count;
    }
  }
  ::iovec iov[N];
  std::size_t count = 0;
  std::size_t total = 0;
};

// The handler's arguments for operations that transfer bytes.
inline std::tuple<boost::system::error_code, std::size_t> transfer_result(int res)
{
  if (res < 0) return {result_error(res), 0};
  return {boost::system::error_code(), static_cast<std::size_t>(res)};
}

} // namespace asio_uring::detail
