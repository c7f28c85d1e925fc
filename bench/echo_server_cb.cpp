// example/echo_server.cpp's protocol with completion handlers instead of
// coroutines: a connection object that reads into its buffer and writes back
// what it read (async_read_some, then async_write), its handlers small
// lambdas that hold a pointer to it. Built on asio_uring (echo_server_cb) and,
// with -DEXAMPLE_USE_ASIO, on boost::asio (echo_server_cb_asio): the
// difference to the coroutine server on the same context is the cost of
// Asio's coroutine machinery in the running server (bench/ablation.sh's
// `callbacks` columns; doc/benchmarks.md, section 5).
//   echo_server_cb [port]     (default 5555); exits on SIGINT/SIGTERM
#include "../example/select.hpp"

#include <cstdio>
#include <cstdlib>

namespace net = boost::asio;
using example::tcp;

namespace {

class connection
{
public:
  explicit connection(tcp::socket s) : socket_(std::move(s)) {}

  void read()
  {
    socket_.async_read_some(net::buffer(data_), [this](boost::system::error_code ec, std::size_t n) {
      if (ec) { delete this; return; }
      write(n);
    });
  }

private:
  void write(std::size_t n)
  {
    net::async_write(socket_, net::buffer(data_, n), [this](boost::system::error_code ec, std::size_t) {
      if (ec) { delete this; return; }
      read();
    });
  }

  tcp::socket socket_;
  char data_[4096];
};

void accept(tcp::acceptor& acceptor)
{
  acceptor.async_accept([&acceptor](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec)
    {
      socket.set_option(tcp::no_delay(true));
      (new connection(std::move(socket)))->read();
    }
    accept(acceptor);
  });
}

} // namespace

int main(int argc, char** argv)
{
  unsigned short port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 5555);
  example::io_context ctx(1);
  tcp::acceptor acceptor(ctx, {net::ip::tcp::v4(), port});
  example::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    // Connections still open are left to the process exit (a benchmark
    // server: nothing to flush); main returns, so that atexit handlers run
    // (bench/alloc_count.c reports there).
    ctx.stop();
  });
  accept(acceptor);
  std::printf("echo server (callbacks) listening on %u\n", port);
  std::fflush(stdout);
  ctx.run();
  return 0;
}
