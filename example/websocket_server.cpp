// A Beast websocket echo server written the Beast way: one coroutine per
// session over websocket::stream<tcp_stream>, Beast's suggested timeouts, a
// clean close handshake. Only the type aliases below name asio_uring.
//   websocket_server [port]   (default 8081); exits cleanly on SIGINT/SIGTERM
#include "select.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdio>
#include <cstdlib>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using example::tcp;
#ifdef EXAMPLE_USE_ASIO
using tcp_stream = beast::tcp_stream;
#else
using tcp_stream = asio_uring::tcp_stream;
#endif

net::awaitable<void> session(websocket::stream<tcp_stream> ws)
{
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(beast::http::field::server, "asio_uring websocket_server");
  }));
  auto [aec] = co_await ws.async_accept(net::as_tuple(net::use_awaitable));
  if (aec) co_return;
  beast::flat_buffer buffer;
  for (;;)
  {
    auto [ec, n] = co_await ws.async_read(buffer, net::as_tuple(net::use_awaitable));
    if (ec) co_return;  // websocket::error::closed after the peer's close, or a failure
    ws.text(ws.got_text());
    auto [wec, w] = co_await ws.async_write(buffer.data(), net::as_tuple(net::use_awaitable));
    if (wec) co_return;
    buffer.consume(n);
  }
}

net::awaitable<void> listen(tcp::acceptor& acceptor)
{
  for (;;)
  {
    auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted) co_return;
    if (ec) continue;
    net::co_spawn(acceptor.get_executor(),
        session(websocket::stream<tcp_stream>(std::move(socket))), net::detached);
  }
}

int main(int argc, char** argv)
{
  unsigned short port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 8081);
  example::io_context ctx(1);
  tcp::acceptor acceptor(ctx, {net::ip::tcp::v4(), port});
  example::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signo) {
    std::printf("signal %d: exiting\n", signo);
    std::fflush(stdout);
    ctx.stop();
  });
  net::co_spawn(ctx, listen(acceptor), net::detached);
  std::printf("websocket server listening on %u\n", port);
  std::fflush(stdout);
  ctx.run();
  return 0;
}
