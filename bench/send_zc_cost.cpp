// The sender's CPU cost per MiB of zero-copy against copying sends, over
// loopback TCP (where the kernel copies zero-copy sends anyway).
//   send_zc_cost SIZE COUNT THRESHOLD
// Forks a reader that discards everything, then async_writes COUNT messages
// of SIZE bytes with io_context_options::send_zc_threshold = THRESHOLD (0:
// copying sends; 1: every send zero copy) and send_zc_local on. Prints the
// sender's user and system CPU time (getrusage) per MiB and what the
// notifications reported. Run it under callgrind for user-space
// instructions, or perf stat -e task-clock.
#include <asio_uring.hpp>

#include <boost/asio/write.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;

int main(int argc, char** argv)
{
  if (argc != 4)
  {
    std::fprintf(stderr, "usage: send_zc_cost SIZE COUNT THRESHOLD\n");
    return 2;
  }
  const std::size_t size = std::strtoull(argv[1], nullptr, 10);
  const std::size_t count = std::strtoull(argv[2], nullptr, 10);

  net::io_context plain;
  net::ip::tcp::acceptor listener(plain, {net::ip::address_v4::loopback(), 0});
  const pid_t reader = ::fork();
  if (reader == 0)
  {
    net::ip::tcp::socket s = listener.accept();
    std::vector<char> buf(1 << 20);
    boost::system::error_code ec;
    while (!ec) s.read_some(net::buffer(buf), ec);
    std::_Exit(0);
  }

  asio_uring::io_context_options o;
  o.send_zc_threshold = std::strtoull(argv[3], nullptr, 10);
  o.send_zc_local = true;
  asio_uring::io_context ctx(o);
  tcp::socket s(ctx);
  s.connect(tcp::endpoint(listener.local_endpoint()));
  rusage r0{};
  ::getrusage(RUSAGE_SELF, &r0);
  const std::string data(size, 'x');
  std::size_t left = count;
  std::function<void()> next = [&] {
    net::async_write(s, net::buffer(data), [&](boost::system::error_code ec, std::size_t) {
      if (!ec && --left) next();
    });
  };
  next();
  ctx.run();
  rusage r1{};
  ::getrusage(RUSAGE_SELF, &r1);
  s.close();
  ::waitpid(reader, nullptr, 0);

  auto us = [](const timeval& a, const timeval& b) { return double(b.tv_sec - a.tv_sec) * 1e6 + double(b.tv_usec - a.tv_usec); };
  const double mib = double(size) * double(count) / (1 << 20);
  const auto& z = ctx.impl().send_zc().stats;
  std::printf("size %zu threshold %s: user %.1f us/MiB, system %.1f us/MiB; zero-copy requests %lu, "
              "notifications %lu, copied %lu\n",
      size, argv[3], us(r0.ru_utime, r1.ru_utime) / mib, us(r0.ru_stime, r1.ru_stime) / mib,
      static_cast<unsigned long>(z.requests.load()), static_cast<unsigned long>(z.notifications.load()),
      static_cast<unsigned long>(z.copied.load()));
  return left == 0 ? 0 : 1;
}
