// An HTTP/1.1 keep-alive "hello" server for wrk: coroutines, Beast parser.
//   http_server [port]     (default 8080); exits cleanly on SIGINT/SIGTERM
#include "select.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using example::tcp;

net::awaitable<void> serve(tcp::socket socket)
{
  beast::flat_buffer buffer;
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::server, "asio-uring-example");
  res.set(http::field::content_type, "text/plain");
  res.body() = "Hello, World!";
  res.prepare_payload();
  for (;;)
  {
    http::request<http::empty_body> req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    res.keep_alive(req.keep_alive());
    auto [wec, w] = co_await http::async_write(socket, res, net::as_tuple(net::use_awaitable));
    if (wec || !req.keep_alive()) co_return;
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
