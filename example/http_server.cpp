// An HTTP/1.1 keep-alive "hello" server for wrk: one coroutine per
// connection reads request heads (up to the empty line) and answers each with
// a fixed response. Pipelined requests are answered in order.
//   http_server [port]     (default 8080); exits cleanly on SIGINT/SIGTERM
#include "select.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
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
  // Request heads are parsed in place: read into a fixed buffer, answer every
  // complete head in it, keep the incomplete rest at the front.
  char buf[8192];
  std::size_t have = 0;
  std::array<net::const_buffer, 16> out;
  out.fill(net::buffer(response));
  for (;;)
  {
    auto [ec, n] = co_await socket.async_read_some(net::buffer(buf + have, sizeof buf - have),
        net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    have += n;
    const std::string_view data(buf, have);
    std::size_t consumed = 0, answers = 0;
    bool close = false;
    for (std::size_t end; !close && (end = data.find("\r\n\r\n", consumed)) != std::string_view::npos;
         consumed = end + 4)
    {
      close = wants_close(data.substr(consumed, end - consumed));
      ++answers;
    }
    if (answers == 0 && have == sizeof buf) co_return;  // a head larger than the buffer
    have -= consumed;
    std::memmove(buf, buf + consumed, have);
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
