// 64-byte ping-pong between two coroutines on one io_context(1), over
// loopback TCP: the user-space cost of one round trip (two reads, two writes,
// four coroutine resumptions) on the multishot receive path or, with
// ASIO_URING_FEATURES=-multishot_recv, the single-shot one.
//   pingpong ROUNDS [stream|timed]   (prints the rounds and the process CPU
//   time per round)
// `stream`: the echoing side is an asio_uring::tcp_stream; `timed`: one that
// sets expires_after(30 s) before each read, as Beast's servers do
// (doc/design.md, "tcp_stream").
// Run it under callgrind for two round counts and divide the difference of
// the instruction totals by the difference of the rounds: that removes the
// setup (doc/design.md, "Multishot receive").
#include <asio_uring.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;

namespace {

constexpr std::size_t message = 64;

net::awaitable<void> echo(tcp::socket s, std::size_t rounds)
{
  std::array<char, message> buf{};
  for (std::size_t i = 0; i < rounds; ++i)
  {
    co_await net::async_read(s, net::buffer(buf), net::use_awaitable);
    co_await net::async_write(s, net::buffer(buf), net::use_awaitable);
  }
}

net::awaitable<void> echo_stream(asio_uring::tcp_stream s, std::size_t rounds, bool timed)
{
  std::array<char, message> buf{};
  for (std::size_t i = 0; i < rounds; ++i)
  {
    if (timed) s.expires_after(std::chrono::seconds(30));
    co_await net::async_read(s, net::buffer(buf), net::use_awaitable);
    co_await net::async_write(s, net::buffer(buf), net::use_awaitable);
  }
}

net::awaitable<void> ping(tcp::socket& s, std::size_t rounds, std::size_t& done)
{
  std::array<char, message> buf{};
  buf.fill('p');
  for (std::size_t i = 0; i < rounds; ++i)
  {
    co_await net::async_write(s, net::buffer(buf), net::use_awaitable);
    co_await net::async_read(s, net::buffer(buf), net::use_awaitable);
    ++done;
  }
}

} // namespace

int main(int argc, char** argv)
{
  const std::string_view mode = argc == 3 ? argv[2] : "";
  if ((argc != 2 && argc != 3) || (argc == 3 && mode != "stream" && mode != "timed"))
  {
    std::fprintf(stderr, "usage: pingpong ROUNDS [stream|timed]\n");
    return 2;
  }
  const std::size_t rounds = std::strtoull(argv[1], nullptr, 10);

  asio_uring::io_context ctx(1);
  tcp::acceptor acceptor(ctx, {net::ip::address_v4::loopback(), 0});
  tcp::socket client(ctx);
  client.connect(acceptor.local_endpoint());
  client.set_option(tcp::no_delay(true));
  tcp::socket server = acceptor.accept();
  server.set_option(tcp::no_delay(true));

  std::size_t done = 0;
  if (mode.empty()) net::co_spawn(ctx, echo(std::move(server), rounds), net::detached);
  else
    net::co_spawn(ctx, echo_stream(asio_uring::tcp_stream(std::move(server)), rounds, mode == "timed"),
        net::detached);
  net::co_spawn(ctx, ping(client, rounds, done), net::detached);
  timespec t0{}, t1{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  ctx.run();
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  // Process CPU time (user + kernel) per round trip: the whole loop, both
  // ends, with no tracer attached.
  const double ns = double(t1.tv_sec - t0.tv_sec) * 1e9 + double(t1.tv_nsec - t0.tv_nsec);
  std::printf("%zu rounds %.0f ns/round\n", done, done ? ns / double(done) : 0.0);
  return done == rounds ? 0 : 1;
}
