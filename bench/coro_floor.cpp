// The floor of the coroutine servers' user-space cost: the same
// `co_await s.async_read_some(..., as_tuple(use_awaitable))` /
// `co_await async_write(s, ..., as_tuple(use_awaitable))` loop as
// example/echo_server.cpp, on a stream whose operations complete at once, so
// that what is left is Asio's coroutine machinery (awaitable frames,
// co_spawn's awaitable_thread, use_awaitable's handler, any_io_executor,
// async_write's composed operation) and the least an operation can cost.
//   coro_floor SOURCE MODE CONTEXT ROUNDS
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
//   CONTEXT uring (asio_uring::io_context(1)) or asio (boost::asio::io_context(1))
// Run it under callgrind for two round counts and divide the difference of
// the instruction totals by the difference of the rounds (bench/floor.sh):
// instructions per round trip, one read and one write (doc/benchmarks.md,
// section 5; doc/design.md, "Instructions per request").
#include "../example/http_requests.hpp"

#include <asio_uring/io_context.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

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

enum class mode { direct, post };

// A stream whose reads and writes transfer the whole buffer at once.
template <typename Executor>
class instant_stream
{
public:
  using executor_type = Executor;
  instant_stream(const Executor& ex, mode m) : ex_(ex), mode_(m) {}
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
          if (mode_ == mode::direct)
            instant_op<decltype(handler)>::start(slot_[dir], sizeof slot_[dir], handler, bytes);
          else
          {
            auto ex = net::get_associated_executor(handler, ex_);
            net::post(ex, net::append(std::move(handler), boost::system::error_code(), bytes));
          }
        }, token, n);
  }

  Executor ex_;
  mode mode_;
  alignas(16) unsigned char slot_[2][256];
};

// example/echo_server.cpp's connection loop, for a fixed number of rounds.
net::awaitable<void> echo(instant_stream<net::any_io_executor>& s, std::size_t rounds, std::size_t& done)
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
net::awaitable<void> serve(instant_stream<net::any_io_executor>& s, std::size_t rounds, std::size_t& done)
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

template <typename Context>
std::size_t run(mode m, bool http, std::size_t rounds)
{
  Context ctx(1);
  std::size_t done = 0;
  instant_stream<net::any_io_executor> s(ctx.get_executor(), m);
  if (http) s.request = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
  auto coro = [&] { return http ? serve(s, rounds, done) : echo(s, rounds, done); };
  if (m == mode::direct)
  {
    // The coroutine starts and ends through the context; in between, its
    // operations run here, inside run().
    net::post(ctx, [&] {
      net::co_spawn(ctx, coro(), net::detached);
      while (ready.head == nullptr) ctx.poll_one();
      while (op_base* o = ready.pop()) o->complete(o);
    });
  }
  else
  {
    net::co_spawn(ctx, coro(), net::detached);
  }
  ctx.run();
  return done;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc != 5 || (std::strcmp(argv[1], "echo") != 0 && std::strcmp(argv[1], "http") != 0)
      || (std::strcmp(argv[2], "direct") != 0 && std::strcmp(argv[2], "post") != 0)
      || (std::strcmp(argv[3], "uring") != 0 && std::strcmp(argv[3], "asio") != 0))
  {
    std::fprintf(stderr, "usage: coro_floor echo|http direct|post uring|asio ROUNDS\n");
    return 2;
  }
  const bool http = std::strcmp(argv[1], "http") == 0;
  const mode m = std::strcmp(argv[2], "direct") == 0 ? mode::direct : mode::post;
  const std::size_t rounds = std::strtoull(argv[4], nullptr, 10);
  const std::size_t done = std::strcmp(argv[3], "uring") == 0
      ? run<asio_uring::io_context>(m, http, rounds) : run<net::io_context>(m, http, rounds);
  std::printf("%zu rounds\n", done);
  return done == rounds ? 0 : 1;
}
