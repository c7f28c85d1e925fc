// A C++20 coroutine echo server: one coroutine per connection.
//   echo_server [port]     (default 5555); exits cleanly on SIGINT/SIGTERM
#include "select.hpp"

#include <cstdio>
#include <cstdlib>

namespace net = boost::asio;
using example::tcp;

net::awaitable<void> echo(tcp::socket socket)
{
  char data[4096];
  for (;;)
  {
    auto [ec, n] = co_await socket.async_read_some(net::buffer(data), net::as_tuple(net::use_awaitable));
    if (ec) co_return;  // eof or reset: the connection is done
    auto [wec, w] = co_await net::async_write(socket, net::buffer(data, n), net::as_tuple(net::use_awaitable));
    if (wec) co_return;
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
    net::co_spawn(acceptor.get_executor(), echo(std::move(socket)), net::detached);
  }
}

int main(int argc, char** argv)
{
  unsigned short port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 5555);
  example::io_context ctx(1);
  tcp::acceptor acceptor(ctx, {net::ip::tcp::v4(), port});
  example::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signo) {
    std::printf("signal %d: exiting\n", signo);
    std::fflush(stdout);
    ctx.stop();
  });
  net::co_spawn(ctx, listen(acceptor), net::detached);
  std::printf("echo server listening on %u\n", port);
  std::fflush(stdout);
  ctx.run();
  return 0;
}
