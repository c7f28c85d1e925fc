// The idle-connection server of bench/ablation.sh's memory cell: every
// accepted connection has one read pending and echoes whatever arrives, so
// the resident memory of N connections that send nothing is the price of a
// pending read. Three builds of this source (bench/CMakeLists.txt):
//   idle_server_uring_provided  asio_uring, async_receive_provided: no read
//                               buffer per connection, the kernel picks one
//                               from the context's provided buffer ring when
//                               data arrives (asio_uring/provided_buffer.hpp)
//   idle_server_uring           asio_uring, async_read_some into a 4 KiB
//                               buffer per connection
//   idle_server_asio            boost::asio (epoll), the same 4 KiB buffer
//   idle_server_* PORT          exits cleanly on SIGINT/SIGTERM
#include <boost/asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>

#if defined(IDLE_USE_ASIO)
namespace idle {
using io_context = boost::asio::io_context;
using tcp = boost::asio::ip::tcp;
using signal_set = boost::asio::signal_set;
} // namespace idle
#else
#include <asio_uring.hpp>
#if defined(IDLE_PROVIDED)
#if __has_include(<asio_uring/provided_buffer.hpp>)
#include <asio_uring/provided_buffer.hpp>
#else
#error "IDLE_PROVIDED needs asio_uring/provided_buffer.hpp (bench/CMakeLists.txt adds this build only where it exists)"
#endif
#endif
namespace idle {
using io_context = asio_uring::io_context;
using tcp = asio_uring::ip::tcp;
using signal_set = asio_uring::signal_set;
} // namespace idle
#endif

namespace net = boost::asio;
using idle::tcp;

#if defined(IDLE_PROVIDED)
net::awaitable<void> serve(tcp::socket socket)
{
  for (;;)
  {
    // The handle owns the kernel's buffer until it is destroyed, after the
    // write below: then the buffer goes back to the ring.
    auto [ec, data] = co_await socket.async_receive_provided(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    auto [wec, w] = co_await net::async_write(socket, data.buffer(), net::as_tuple(net::use_awaitable));
    if (wec) co_return;
  }
}
#else
net::awaitable<void> serve(tcp::socket socket)
{
  constexpr std::size_t buffer_size = 4096;
  // A heap buffer, zeroed, so its pages are resident as soon as the
  // connection exists (as they are in a server once the first request has
  // been read into it); a buffer in the coroutine frame that was never
  // written could stay unmapped and make a pending read look free.
  auto buf = std::make_unique<char[]>(buffer_size);
  for (;;)
  {
    auto [ec, n] = co_await socket.async_read_some(net::buffer(buf.get(), buffer_size),
        net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    auto [wec, w] = co_await net::async_write(socket, net::buffer(buf.get(), n), net::as_tuple(net::use_awaitable));
    if (wec) co_return;
  }
}
#endif

net::awaitable<void> listen(tcp::acceptor& acceptor)
{
  for (;;)
  {
    auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted) co_return;
    if (ec) continue;
    net::co_spawn(acceptor.get_executor(), serve(std::move(socket)), net::detached);
  }
}

int main(int argc, char** argv)
{
  if (argc != 2)
  {
    std::fprintf(stderr, "usage: idle_server PORT\n");
    return 2;
  }
  const auto port = static_cast<unsigned short>(std::atoi(argv[1]));
  idle::io_context ctx(1);
  tcp::acceptor acceptor(ctx, {net::ip::tcp::v4(), port});
  idle::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { ctx.stop(); });
  net::co_spawn(ctx, listen(acceptor), net::detached);
  std::printf("idle server listening on %u\n", port);
  std::fflush(stdout);
  ctx.run();
  return 0;
}
