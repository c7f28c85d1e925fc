// An HTTP/1.1 static-file server: each GET is answered from a file under
// ROOT, read with asio_uring::random_access_file in 64 KiB blocks and
// written to the socket, one coroutine per connection.
//   file_server ROOT [port]     (default 8081); exits cleanly on SIGINT/SIGTERM
#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace net = boost::asio;
using asio_uring::ip::tcp;

std::string root;

// "GET /path HTTP/1.1" -> "/path"; empty when the request is not a plain GET
// or tries to leave ROOT.
std::string target_of(std::string_view head)
{
  if (head.substr(0, 4) != "GET ") return {};
  auto end = head.find(' ', 4);
  if (end == std::string_view::npos) return {};
  std::string path(head.substr(4, end - 4));
  if (path.empty() || path[0] != '/' || path.find("..") != std::string::npos) return {};
  if (path.back() == '/') path += "index.html";
  return path;
}

net::awaitable<void> send_status(tcp::socket& socket, const char* status)
{
  std::string head = std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 0\r\n\r\n";
  co_await net::async_write(socket, net::buffer(head), net::use_awaitable);
}

net::awaitable<void> serve(tcp::socket socket)
{
  std::string in;
  std::vector<char> block(64 * 1024);
  auto ex = co_await net::this_coro::executor;
  for (;;)
  {
    auto [ec, n] = co_await net::async_read_until(socket, net::dynamic_buffer(in, 65536), "\r\n\r\n",
        net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    std::string path = target_of(std::string_view(in).substr(0, n));
    in.erase(0, n);
    if (path.empty())
    {
      co_await send_status(socket, "400 Bad Request");
      continue;
    }
    asio_uring::random_access_file file(ex);
    boost::system::error_code open_ec;
    file.open(root + path, asio_uring::file_base::read_only, open_ec);
    if (open_ec)
    {
      co_await send_status(socket, "404 Not Found");
      continue;
    }
    const std::uint64_t size = file.size();
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n";
    co_await net::async_write(socket, net::buffer(head), net::use_awaitable);
    for (std::uint64_t offset = 0; offset < size;)
    {
      std::size_t got = co_await net::async_read_at(file, offset,
          net::buffer(block.data(), static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), size - offset))),
          net::use_awaitable);
      co_await net::async_write(socket, net::buffer(block.data(), got), net::use_awaitable);
      offset += got;
    }
  }
}

net::awaitable<void> listen(tcp::acceptor& acceptor)
{
  for (;;)
  {
    auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted) co_return;
    if (ec) continue;
    net::co_spawn(acceptor.get_executor(), serve(std::move(socket)), [](std::exception_ptr) {});
  }
}

int main(int argc, char** argv)
{
  if (argc < 2)
  {
    std::fprintf(stderr, "usage: file_server ROOT [port]\n");
    return 2;
  }
  root = argv[1];
  unsigned short port = static_cast<unsigned short>(argc > 2 ? std::atoi(argv[2]) : 8081);
  asio_uring::io_context ctx(1);
  tcp::acceptor acceptor(ctx, {net::ip::tcp::v4(), port});
  asio_uring::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signo) {
    std::printf("signal %d: exiting\n", signo);
    std::fflush(stdout);
    ctx.stop();
  });
  net::co_spawn(ctx, listen(acceptor), net::detached);
  std::printf("file server listening on %u\n", port);
  std::fflush(stdout);
  ctx.run();
  return 0;
}
