// An HTTP/1.1 keep-alive "hello" server for wrk: one coroutine per
// connection reads request heads (up to the empty line) and answers each with
// a fixed response. Pipelined requests are answered in order.
//   http_server [port] [--threads N]   (default 8080, 1); exits cleanly on SIGINT/SIGTERM
// With N > 1, thread per core: N contexts on N threads, each with its own
// acceptor on the port (SO_REUSEPORT), so the kernel spreads connections
// and a connection stays on one thread.
#include "http_requests.hpp"
#include "select.hpp"

#include <asio_uring/io_context_pool.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

namespace net = boost::asio;
using example::tcp;

net::awaitable<void> serve(tcp::socket socket)
{
  // Request heads are parsed in place: read into a fixed buffer, answer every
  // complete head in it, keep the incomplete rest at the front.
  char buf[8192];
  std::size_t have = 0;
  std::array<net::const_buffer, 16> out;
  out.fill(net::buffer(example::http::response));
  for (;;)
  {
    auto [ec, n] = co_await socket.async_read_some(net::buffer(buf + have, sizeof buf - have),
        net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    have += n;
    auto [answers, close] = example::http::take_heads(buf, have);
    if (answers == 0 && have == sizeof buf) co_return;  // a head larger than the buffer
    while (answers > 0)
    {
      // Pipelined requests are answered with one gathered write.
      const std::size_t k = std::min(answers, out.size());
      answers -= k;
      auto [wec, w] = co_await net::async_write(socket, std::span<const net::const_buffer>(out.data(), k),
          net::as_tuple(net::use_awaitable));
      if (wec) co_return;
    }
    if (close) co_return;
  }
}

net::awaitable<void> listen(tcp::acceptor& acceptor)
{
  for (;;)
  {
    auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted) co_return;
    if (ec) continue;
    socket.set_option(tcp::no_delay(true));
    net::co_spawn(acceptor.get_executor(), serve(std::move(socket)), net::detached);
  }
}

#ifdef EXAMPLE_USE_ASIO
using context_pool = asio_uring::basic_io_context_pool<boost::asio::io_context>;
#else
using context_pool = asio_uring::io_context_pool;
#endif

int run_pool(unsigned short port, std::size_t threads)
{
  context_pool pool(threads);
  auto acceptors = asio_uring::reuse_port_acceptors<tcp::acceptor>(pool, {net::ip::tcp::v4(), port});
  example::signal_set signals(pool.context(0), SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signo) {
    std::printf("signal %d: exiting\n", signo);
    std::fflush(stdout);
    pool.stop();
  });
  for (auto& a : acceptors) net::co_spawn(a.get_executor(), listen(a), net::detached);
  std::printf("http server listening on %u (%zu threads)\n", port, threads);
  std::fflush(stdout);
  pool.run();
  return 0;
}

int main(int argc, char** argv)
{
  unsigned short port = 8080;
  std::size_t threads = 1;
  for (int i = 1; i < argc; ++i)
  {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = std::strtoul(argv[++i], nullptr, 10);
    else
      port = static_cast<unsigned short>(std::atoi(argv[i]));
  }
  if (threads > 1) return run_pool(port, threads);
  example::io_context ctx(1);
  tcp::acceptor acceptor(ctx, {net::ip::tcp::v4(), port});
  example::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signo) {
    std::printf("signal %d: exiting\n", signo);
    std::fflush(stdout);
    ctx.stop();
  });
  net::co_spawn(ctx, listen(acceptor), net::detached);
  std::printf("http server listening on %u\n", port);
  std::fflush(stdout);
  ctx.run();
  return 0;
}
