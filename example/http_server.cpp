// An HTTP/1.1 keep-alive "hello" server for wrk: one coroutine per
// connection reads each request head (up to the empty line) and answers
// with a fixed response. Pipelined requests are answered in order.
//   http_server [port]     (default 8080); exits cleanly on SIGINT/SIGTERM
#include "select.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace net = boost::asio;
using example::tcp;

constexpr std::string_view response =
    "HTTP/1.1 200 OK\r\n"
    "Server: asio-uring-example\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";

bool wants_close(std::string_view head)
{
  // Case-insensitive search would be more thorough; wrk and curl send this.
  return head.find("Connection: close") != std::string_view::npos
      || head.find("connection: close") != std::string_view::npos;
}

net::awaitable<void> serve(tcp::socket socket)
{
  std::string in;
  in.reserve(4096);
  for (;;)
  {
    auto [ec, n] = co_await net::async_read_until(socket, net::dynamic_buffer(in, 65536), "\r\n\r\n",
        net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    bool close = wants_close(std::string_view(in).substr(0, n));
    in.erase(0, n);
    auto [wec, w] = co_await net::async_write(socket, net::buffer(response), net::as_tuple(net::use_awaitable));
    if (wec || close) co_return;
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

int main(int argc, char** argv)
{
  unsigned short port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 8080);
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
