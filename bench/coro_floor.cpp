// The floor of the coroutine servers' user-space cost: the same
// `co_await s.async_read_some(..., as_tuple(use_awaitable))` /
// `co_await async_write(s, ..., as_tuple(use_awaitable))` loop as
// example/echo_server.cpp, on a stream whose operations complete at once, so
// that what is left is Asio's coroutine machinery (awaitable frames,
// co_spawn's awaitable_thread, use_awaitable's handler, any_io_executor,
// async_write's composed operation) and the least an operation can cost.
//   coro_floor SOURCE MODE CONTEXT ROUNDS [CONNS]
//   SOURCE  echo: example/echo_server.cpp's loop (64-byte reads);
//           http: example/http_server.cpp's loop, each read getting one
//                 request as wrk sends it
//   MODE    direct: an operation is the handler moved into storage of the
//                   stream, queued and called by a loop of this program
//                   (inside the context's run(), so that Asio's per-thread
//                   caches for coroutine frames are there): no context does
//                   less.
//           post:   an operation posts its handler to its associated
//                   executor (boost::asio::post of the handler with its
//                   arguments appended): the context's generic queue.
//           ring:   every operation is a real io_uring request
//                   (IORING_OP_NOP: callgrind counts user space only, where
//                   a NOP and a recv/send cost the same prep and reap) on a
//                   ring of this program set up as src/ring.cpp sets up the
//                   context's (SINGLE_ISSUER, DEFER_TASKRUN, COOP_TASKRUN,
//                   SUBMIT_ALL, CQSIZE, registered ring fd); the handler is
//                   moved into storage of the stream (no allocation), the
//                   SQE's user_data is the operation, and a loop of this
//                   program inside the context's run() submits and waits,
//                   reaps the CQEs and calls each handler: the floor of a
//                   coroutine on a real ring.
//           ring_asio: ring, plus what Asio's rules oblige an operation of a
//                   conforming context to do: the operation allocated through
//                   the handler's associated allocator (Asio's recycling
//                   allocator for std::allocator), the context's outstanding
//                   work counted per operation and a tracked executor kept
//                   when the handler's associated executor is not the
//                   context's own, the handler's cancellation slot tested
//                   (a cancel handler emplaced when it is connected, cleared
//                   at completion), and completion through the associated
//                   executor (a plain call when it is the context's own).
//           ring_asio_opalloc: ring_asio with the operations allocated as
//                   asio_uring allocates them for std::allocator
//                   (op_recycling_allocator, detail/handler_work.hpp: the
//                   running thread_ctx's cache, inlined) instead of Asio's
//                   recycling allocator; uring context only.
//   CONTEXT uring (asio_uring::io_context(1)) or asio (boost::asio::io_context(1))
//   CONNS   ring modes only (default 1): that many streams and coroutines,
//           each doing its share of ROUNDS, so that a loop turn submits and
//           reaps up to CONNS requests (the server cells run 64 connections)
// Run it under callgrind for two round counts and divide the difference of
// the instruction totals by the difference of the rounds (bench/floor.sh):
// instructions per round trip, one read and one write (doc/benchmarks.md,
// section 5; doc/design.md, "Instructions per request").
#include "../example/http_requests.hpp"

#include <asio_uring/detail/handler_work.hpp>
#include <asio_uring/io_context.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/recycling_allocator.hpp>
#include <boost/asio/execution/allocator.hpp>
#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <liburing.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace net = boost::asio;

namespace {

// --- direct mode: the least an operation can be ------------------------------
struct op_base
{
  op_base* next = nullptr;
  void (*complete)(op_base*) = nullptr;
};

// Ready operations, run by drain().
struct ready_queue
{
  op_base* head = nullptr;
  op_base* tail = nullptr;
  void push(op_base* o) noexcept
  {
    o->next = nullptr;
    if (tail) tail->next = o; else head = o;
    tail = o;
  }
  op_base* pop() noexcept
  {
    op_base* o = head;
    if (o && !(head = o->next)) tail = nullptr;
    return o;
  }
};
ready_queue ready;

// An operation that completes with (no error, n): the handler, moved into
// storage the stream keeps for its one pending operation of each direction
// (no allocation: a real context needs one, or a cache like Asio's), queued
// and called.
template <typename Handler>
struct instant_op : op_base
{
  instant_op(Handler&& h, std::size_t bytes) : handler(std::move(h)), n(bytes) { complete = &run; }

  static void start(void* storage, std::size_t size, Handler& h, std::size_t bytes)
  {
    static_assert(alignof(instant_op) <= 16);
    if (sizeof(instant_op) > size) std::abort();
    ready.push(new (storage) instant_op(std::move(h), bytes));
  }

  static void run(op_base* base)
  {
    auto* o = static_cast<instant_op*>(base);
    Handler h(std::move(o->handler));
    const std::size_t bytes = o->n;
    o->~instant_op();
    std::move(h)(boost::system::error_code(), bytes);
  }

  Handler handler;
  std::size_t n;
};

// --- ring modes: every operation is an io_uring request ----------------------
struct ring_op_base
{
  void (*complete)(ring_op_base*, int res) = nullptr;
};

// This program's ring, and the loop that drives it from inside the context's
// run() (one thread).
struct uring_loop
{
  io_uring ring{};
  std::size_t pending = 0;  // requests whose CQE is not reaped yet

  void setup()
  {
    // src/ring.cpp's first choice for a context run by one thread.
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN
        | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = 8 * 256;
    if (const int r = io_uring_queue_init_params(256, &ring, &p); r < 0)
    {
      std::fprintf(stderr, "coro_floor: io_uring_queue_init_params: %s\n", std::strerror(-r));
      std::exit(2);
    }
    // As the context's run() does (refused: the plain fd, same user-space path).
    io_uring_register_ring_fd(&ring);
  }
  void teardown() { io_uring_queue_exit(&ring); }

  // liburing's io_uring_get_sqe for this ring (no SQPOLL, no SQE128),
  // always inlined; a full SQ is submitted first.
  [[gnu::always_inline]] io_uring_sqe* get_sqe()
  {
    io_uring_sq& sq = ring.sq;
    if (sq.sqe_tail + 1 - IO_URING_READ_ONCE(*sq.khead) > sq.ring_entries) [[unlikely]]
      io_uring_submit(&ring);
    return &sq.sqes[sq.sqe_tail++ & sq.ring_mask];
  }

  [[gnu::always_inline]] void queue(ring_op_base* o)
  {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, o);
    ++pending;
  }

  // One turn: submit what the handlers queued and wait for a CQE, then call
  // the handler of each CQE there is.
  void run()
  {
    io_uring_cq& cq = ring.cq;
    while (pending > 0)
    {
      if (const int r = io_uring_submit_and_wait(&ring, 1); r < 0 && r != -EINTR)
      {
        std::fprintf(stderr, "coro_floor: io_uring_submit_and_wait: %s\n", std::strerror(-r));
        std::exit(2);
      }
      unsigned head = *cq.khead;
      const unsigned tail = io_uring_smp_load_acquire(cq.ktail);
      for (; head != tail; ++head)
      {
        const io_uring_cqe& cqe = cq.cqes[head & cq.ring_mask];
        auto* o = reinterpret_cast<ring_op_base*>(static_cast<std::uintptr_t>(cqe.user_data));
        if (o == nullptr) continue;  // a cancel request's own CQE
        --pending;
        o->complete(o, cqe.res);
      }
      io_uring_smp_store_release(cq.khead, head);
    }
  }
};
uring_loop uring;

// The handler's arguments from a CQE: -errno, or the bytes (a recv's or
// send's res is the count; a NOP's is 0, so the operation's own count).
inline std::pair<boost::system::error_code, std::size_t> ring_result(int res, std::size_t n)
{
  if (res < 0) return {boost::system::error_code(-res, boost::system::system_category()), 0};
  return {boost::system::error_code(), n};
}

// ring: the handler moved into storage of the stream, an SQE, a CQE, a call.
template <typename Handler>
struct ring_op : ring_op_base
{
  ring_op(Handler&& h, std::size_t bytes) : handler(std::move(h)), n(bytes) { complete = &run; }

  static void start(void* storage, std::size_t size, Handler& h, std::size_t bytes)
  {
    static_assert(alignof(ring_op) <= 16);
    if (sizeof(ring_op) > size) std::abort();
    uring.queue(new (storage) ring_op(std::move(h), bytes));
  }

  static void run(ring_op_base* base, int res)
  {
    auto* o = static_cast<ring_op*>(base);
    Handler h(std::move(o->handler));
    const auto [ec, bytes] = ring_result(res, o->n);
    o->~ring_op();
    std::move(h)(ec, bytes);
  }

  Handler handler;
  std::size_t n;
};

// --- ring_asio: what Asio's rules add to each operation ------------------------
// Completing on `ex` is a plain call: it is `ctx`'s executor (maybe inside
// an any_io_executor, as use_awaitable's handler has it).
template <typename Context, typename Executor>
bool is_native(const Executor& ex, const Context& ctx) noexcept
{
  if constexpr (std::is_same_v<Executor, typename Context::executor_type>)
    return &ex.context() == &ctx;
  else if constexpr (std::is_same_v<Executor, net::any_io_executor>)
  {
    const auto* p = ex.template target<typename Context::executor_type>();
    return p && &p->context() == &ctx;
  }
  else
    return false;
}

// The outstanding work kept on the handler's associated executor when it is
// not the context's own (the context counts the operation itself), and the
// completion through that executor (Asio's detail/handler_work.hpp;
// standard executors only, which is all this program has).
template <typename Handler, typename Context>
class ring_work
{
  using assoc_type = net::associated_executor_t<Handler, net::any_io_executor>;
  static_assert(net::execution::is_executor<assoc_type>::value);
  using tracked_type = std::decay_t<typename net::prefer_result<assoc_type,
      net::execution::outstanding_work_t::tracked_t>::type>;

public:
  ring_work(Handler& h, const net::any_io_executor& io_ex, const Context& ctx)
  {
    assoc_type ex = net::get_associated_executor(h, io_ex);
    if (!is_native(ex, ctx)) work_.emplace(net::prefer(ex, net::execution::outstanding_work.tracked));
  }

  template <typename Function>
  void complete(Function& f, Handler& h)
  {
    if (!work_)
    {
      f();
      return;
    }
    net::prefer(*work_, net::execution::blocking.possibly,
        net::execution::allocator(net::get_associated_allocator(h))).execute(std::move(f));
  }

private:
  std::optional<tracked_type> work_;
};

// The handler's associated allocator; for std::allocator, Asio's recycling
// allocator (the thread's cache in thread_info_base), or asio_uring's
// (OurAlloc).
template <typename Handler, bool OurAlloc>
struct op_memory
{
  using recycling = net::detail::get_recycling_allocator<net::associated_allocator_t<Handler>,
      net::detail::thread_info_base::default_tag>;
  using type = typename recycling::type;
  static type get(const Handler& h) { return recycling::get(net::get_associated_allocator(h)); }
};
template <typename Handler>
struct op_memory<Handler, true>
{
  using type = typename asio_uring::detail::op_allocator<Handler>::type;
  static type get(const Handler& h) { return asio_uring::detail::op_allocator<Handler>::get(h); }
};

template <typename Handler, typename Context, bool OurAlloc>
struct conforming_op : ring_op_base
{
  using alloc_type = typename std::allocator_traits<typename op_memory<Handler, OurAlloc>::type>::template
      rebind_alloc<conforming_op>;
  static alloc_type allocator(const Handler& h) { return alloc_type(op_memory<Handler, OurAlloc>::get(h)); }

  conforming_op(Handler&& h, const net::any_io_executor& io_ex, Context& ctx, std::size_t bytes)
    : handler(std::move(h)), work(handler, io_ex, ctx), native_ex(ctx.get_executor()), n(bytes)
  {
    complete = &run;
  }

  // Per-operation cancellation: ask the kernel to cancel the request.
  struct cancel_handler
  {
    ring_op_base* op;
    void operator()(net::cancellation_type_t type)
    {
      using ct = net::cancellation_type;
      if ((type & (ct::terminal | ct::partial | ct::total)) == ct::none) return;
      io_uring_sqe* sqe = uring.get_sqe();
      io_uring_prep_cancel64(sqe, reinterpret_cast<std::uintptr_t>(op), 0);
      io_uring_sqe_set_data64(sqe, 0);
    }
  };

  static void start(Handler& h, const net::any_io_executor& io_ex, Context& ctx, std::size_t bytes)
  {
    alloc_type a(allocator(h));
    conforming_op* o = a.allocate(1);
    try { new (o) conforming_op(std::move(h), io_ex, ctx, bytes); }
    catch (...) { a.deallocate(o, 1); throw; }
    o->native_ex.on_work_started();
    auto slot = net::get_associated_cancellation_slot(o->handler);
    if (slot.is_connected()) slot.template emplace<cancel_handler>(cancel_handler{o});
    uring.queue(o);
  }

  static void run(ring_op_base* base, int res)
  {
    auto* o = static_cast<conforming_op*>(base);
    // The request is gone: a later cancellation must not name this memory.
    auto slot = net::get_associated_cancellation_slot(o->handler);
    if (slot.is_connected()) slot.clear();
    alloc_type a(allocator(o->handler));
    const auto ex = o->native_ex;
    ring_work<Handler, Context> w(std::move(o->work));
    const auto [ec, bytes] = ring_result(res, o->n);
    // As Asio's ops: the handler moved out, the memory freed, then the upcall.
    net::detail::binder2<Handler, boost::system::error_code, std::size_t> f(o->handler, ec, bytes);
    o->~conforming_op();
    a.deallocate(o, 1);
    w.complete(f, f.handler_);
    ex.on_work_finished();
  }

  Handler handler;
  ring_work<Handler, Context> work;
  typename Context::executor_type native_ex;
  std::size_t n;
};

enum class mode { direct, post, ring, ring_asio, ring_asio_opalloc };

// A stream whose reads and writes transfer the whole buffer at once.
template <typename Context, mode M>
class instant_stream
{
public:
  using executor_type = net::any_io_executor;
  explicit instant_stream(Context& ctx) : ctx_(ctx), ex_(ctx.get_executor()) {}
  executor_type get_executor() const noexcept { return ex_; }

  // Reads get `request` (set: what wrk sends), or as many bytes as asked.
  std::string_view request;

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& b, Token&& token)
  {
    std::size_t n = net::buffer_size(b);
    if (!request.empty())
    {
      n = net::buffer_copy(b, net::buffer(request));
    }
    return initiate(0, n, std::forward<Token>(token));
  }
  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& b, Token&& token)
  {
    return initiate(1, net::buffer_size(b), std::forward<Token>(token));
  }

private:
  template <typename Token>
  auto initiate(int dir, std::size_t n, Token&& token)
  {
    return net::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this, dir](auto handler, std::size_t bytes) {
          using handler_type = decltype(handler);
          if constexpr (M == mode::direct)
            instant_op<handler_type>::start(slot_[dir], sizeof slot_[dir], handler, bytes);
          else if constexpr (M == mode::post)
          {
            auto ex = net::get_associated_executor(handler, ex_);
            net::post(ex, net::append(std::move(handler), boost::system::error_code(), bytes));
          }
          else if constexpr (M == mode::ring)
            ring_op<handler_type>::start(slot_[dir], sizeof slot_[dir], handler, bytes);
          else
            conforming_op<handler_type, Context, M == mode::ring_asio_opalloc>::start(handler, ex_, ctx_, bytes);
        }, token, n);
  }

  Context& ctx_;
  executor_type ex_;
  alignas(16) unsigned char slot_[2][256];
};

// example/echo_server.cpp's connection loop, for a fixed number of rounds.
template <typename Stream>
net::awaitable<void> echo(Stream& s, std::size_t rounds, std::size_t& done)
{
  char data[4096];
  for (std::size_t i = 0; i < rounds; ++i)
  {
    auto [ec, n] = co_await s.async_read_some(net::buffer(data, 64), net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    auto [wec, w] = co_await net::async_write(s, net::buffer(data, n), net::as_tuple(net::use_awaitable));
    if (wec) co_return;
    ++done;
  }
}

// example/http_server.cpp's connection loop, for a fixed number of requests.
template <typename Stream>
net::awaitable<void> serve(Stream& s, std::size_t rounds, std::size_t& done)
{
  char buf[8192];
  std::size_t have = 0;
  std::array<net::const_buffer, 16> out;
  out.fill(net::buffer(example::http::response));
  for (std::size_t i = 0; i < rounds; ++i)
  {
    auto [ec, n] = co_await s.async_read_some(net::buffer(buf + have, sizeof buf - have),
        net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    have += n;
    auto [answers, close] = example::http::take_heads(buf, have);
    if (answers == 0 && have == sizeof buf) co_return;
    while (answers > 0)
    {
      const std::size_t k = std::min(answers, out.size());
      answers -= k;
      auto [wec, w] = co_await net::async_write(s, std::span<const net::const_buffer>(out.data(), k),
          net::as_tuple(net::use_awaitable));
      if (wec) co_return;
    }
    if (close) co_return;
    ++done;
  }
}

template <typename Context, mode M>
std::size_t run(bool http, std::size_t rounds, std::size_t conns)
{
  Context ctx(1);
  std::size_t done = 0;
  std::vector<std::unique_ptr<instant_stream<Context, M>>> streams;
  for (std::size_t k = 0; k < conns; ++k)
  {
    streams.push_back(std::make_unique<instant_stream<Context, M>>(ctx));
    if (http) streams.back()->request = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
  }
  auto coro = [&](std::size_t k) {
    const std::size_t share = rounds / conns + (k < rounds % conns ? 1 : 0);
    return http ? serve(*streams[k], share, done) : echo(*streams[k], share, done);
  };
  if constexpr (M == mode::direct)
  {
    // The coroutine starts and ends through the context; in between, its
    // operations run here, inside run().
    net::post(ctx, [&] {
      net::co_spawn(ctx, coro(0), net::detached);
      while (ready.head == nullptr) ctx.poll_one();
      while (op_base* o = ready.pop()) o->complete(o);
    });
  }
  else if constexpr (M == mode::post)
  {
    net::co_spawn(ctx, coro(0), net::detached);
  }
  else
  {
    // Likewise: the coroutines start through the context, then this loop
    // drives the ring until their operations are done.
    net::post(ctx, [&] {
      uring.setup();
      for (std::size_t k = 0; k < conns; ++k) net::co_spawn(ctx, coro(k), net::detached);
      while (uring.pending < conns && ctx.poll_one() != 0) {}
      uring.run();
      uring.teardown();
    });
  }
  ctx.run();
  return done;
}

template <typename Context>
std::size_t run(mode m, bool http, std::size_t rounds, std::size_t conns)
{
  switch (m)
  {
  case mode::direct: return run<Context, mode::direct>(http, rounds, conns);
  case mode::post: return run<Context, mode::post>(http, rounds, conns);
  case mode::ring: return run<Context, mode::ring>(http, rounds, conns);
  case mode::ring_asio: return run<Context, mode::ring_asio>(http, rounds, conns);
  case mode::ring_asio_opalloc:
    if constexpr (std::is_same_v<Context, asio_uring::io_context>)
      return run<Context, mode::ring_asio_opalloc>(http, rounds, conns);
    break;
  }
  return 0;
}

} // namespace

int main(int argc, char** argv)
{
  const char* const modes[] = {"direct", "post", "ring", "ring_asio", "ring_asio_opalloc"};
  int mi = -1;
  for (int i = 0; argc >= 3 && i < 5; ++i)
    if (std::strcmp(argv[2], modes[i]) == 0) mi = i;
  const std::size_t conns = argc == 6 ? std::strtoull(argv[5], nullptr, 10) : 1;
  if ((argc != 5 && argc != 6) || (std::strcmp(argv[1], "echo") != 0 && std::strcmp(argv[1], "http") != 0)
      || mi < 0 || (std::strcmp(argv[3], "uring") != 0 && std::strcmp(argv[3], "asio") != 0)
      || conns == 0 || (mi < 2 && conns != 1) || (mi == 4 && std::strcmp(argv[3], "uring") != 0))
  {
    std::fprintf(stderr, "usage: coro_floor echo|http direct|post|ring|ring_asio|ring_asio_opalloc uring|asio"
        " ROUNDS [CONNS]\n  (CONNS > 1: ring modes only; ring_asio_opalloc: uring only)\n");
    return 2;
  }
  const bool http = std::strcmp(argv[1], "http") == 0;
  const mode m = static_cast<mode>(mi);
  const std::size_t rounds = std::strtoull(argv[4], nullptr, 10);
  const std::size_t done = std::strcmp(argv[3], "uring") == 0
      ? run<asio_uring::io_context>(m, http, rounds, conns) : run<net::io_context>(m, http, rounds, conns);
  std::printf("%zu rounds\n", done);
  return done == rounds ? 0 : 1;
}
