// Reproducer: a tcp_stream on a strand of a context run by two threads. A
// read waits under a short deadline (multishot path: read_deadlines) while
// the same strand keeps writing (no deadline). When the deadline passes,
// the loop owner closes the socket (tcp_stream_state::read_expired) on
// whatever thread reaps, not through the stream's executor, while the
// strand's write handler starts the next write on the same socket.
//
// Build (against a TSan build of the library in build-tsan):
//   g++ -fsanitize=thread -Wno-tsan -O1 -g -std=c++20 -Iinclude repro/tcp_stream_timeout_race.cpp \
//     build-tsan/libasio_uring.a -lboost_system -luring -lpthread -o timeout_race_tsan
//   ./timeout_race_tsan 50                                  # multishot path: read_deadlines
//   ASIO_URING_FEATURES=-multishot_recv ./timeout_race_tsan 50  # single-shot: timed_kind::result
// Both report a data race on the socket's descriptor (basic_socket::close on
// the reaping thread vs descriptor_object::early_check / launch of the next
// write on the strand's thread).
#include <asio_uring.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <atomic>
#include <cstdio>
#include <thread>

namespace net = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

int main(int argc, char** argv)
{
  int rounds = argc > 1 ? std::atoi(argv[1]) : 50;
  net::io_context pio;
  net::ip::tcp::acceptor acc(pio, {net::ip::address_v4::loopback(), 0});
  int timeouts = 0;
  for (int round = 0; round < rounds; ++round)
  {
    asio_uring::io_context ctx(2);
    auto strand = net::make_strand(ctx);
    asio_uring::tcp_stream s(strand);
    s.connect(acc.local_endpoint());
    net::ip::tcp::socket peer(pio);
    acc.accept(peer);
    std::thread drain([&] {
      char b[65536];
      error_code ec;
      while (!ec) peer.read_some(net::buffer(b), ec);
    });
    char rbuf[16];
    std::string out(512, 'x');
    error_code read_ec;
    std::function<void()> write_more;
    write_more = [&] {
      s.async_write_some(net::buffer(out), [&](error_code ec, std::size_t) {
        if (!ec) write_more();
      });
    };
    // Two reads first: the third goes through the multishot.
    net::write(peer, net::buffer("ab", 2));
    net::post(strand, [&] {
      s.async_read_some(net::buffer(rbuf, 1), [&](error_code, std::size_t) {
        s.async_read_some(net::buffer(rbuf, 1), [&](error_code, std::size_t) {
          s.expires_after(std::chrono::milliseconds(2 + round % 5));
          s.async_read_some(net::buffer(rbuf), [&](error_code ec, std::size_t) { read_ec = ec; });
          s.expires_never();
          write_more();
        });
      });
    });
    std::thread t1([&] { ctx.run(); });
    std::thread t2([&] { ctx.run(); });
    t1.join();
    t2.join();
    if (read_ec == boost::beast::error::timeout) ++timeouts;
    drain.join();  // the timeout closed the stream: the peer sees the end
  }
  std::printf("rounds %d, read timeouts %d\n", rounds, timeouts);
}
