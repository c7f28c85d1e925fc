// Registered files in the library, measured in one process as free of the
// shared machine's noise as a kernel-side cost can be (as
// bench/fixed_files_micro.cpp does for raw liburing): two io_context(1)s,
// one with registered_files off and one with it on, each with a loopback TCP
// pair doing 64-byte ping-pong (async_write + async_read on each end: four
// requests per round trip without multishot receive, two sends and the
// multishot's CQEs with it), in short batches that alternate between the
// two. Per variant the minimum and the median over the batches of the thread
// CPU time (user + kernel) per round trip: other jobs only ever add time, so
// the minimum is the cleanest figure. ASIO_URING_FEATURES applies to both
// contexts except for registered_files, which this program sets.
//   registered_files_micro [BATCHES] [ROUNDS]      (200 2000)
#include <asio_uring.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <vector>

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;

namespace {

double thread_cpu_ns()
{
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

struct pair_loop
{
  asio_uring::io_context ctx;
  tcp::acceptor acceptor{ctx, {net::ip::address_v4::loopback(), 0}};
  tcp::socket a{ctx}, b{ctx};
  std::array<char, 64> out{}, mid{}, back{};
  std::size_t left = 0;

  explicit pair_loop(const asio_uring::io_context_options& o) : ctx(o)
  {
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
    a.set_option(tcp::no_delay(true));
    b.set_option(tcp::no_delay(true));
    out.fill('p');
  }

  void round()
  {
    net::async_write(a, net::buffer(out), [](boost::system::error_code, std::size_t) {});
    net::async_read(b, net::buffer(mid), [this](boost::system::error_code e, std::size_t) {
      if (e) std::abort();
      net::async_write(b, net::buffer(mid), [](boost::system::error_code, std::size_t) {});
      net::async_read(a, net::buffer(back), [this](boost::system::error_code e2, std::size_t) {
        if (e2) std::abort();
        if (--left > 0) round();
      });
    });
  }

  void batch(std::size_t n)
  {
    left = n;
    round();
    ctx.restart();
    ctx.run();
  }
};

asio_uring::io_context_options options(bool registered)
{
  asio_uring::io_context_options o;
  o.concurrency_hint = 1;
  apply_feature_env(o);
  o.registered_files = registered;
  return o;
}

} // namespace

int main(int argc, char** argv)
{
  const int batches = argc > 1 ? std::atoi(argv[1]) : 200;
  const std::size_t rounds = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 2000;
  // The contexts apply ASIO_URING_FEATURES again: it must not override the
  // one switch this program sets.
  const asio_uring::io_context_options po = options(false), fo = options(true);
  ::unsetenv("ASIO_URING_FEATURES");
  auto plain = std::make_unique<pair_loop>(po);
  auto fixed = std::make_unique<pair_loop>(fo);
  plain->batch(rounds);  // warm up; the second one crosses the threshold
  fixed->batch(rounds);
  if (fixed->a.registered_file_slot() < 0 || fixed->b.registered_file_slot() < 0)
    std::fprintf(stderr, "registered_files_micro: the sockets have no slot (no table?)\n");
  std::vector<double> t[2];
  for (int i = 0; i < batches; ++i)
  {
    for (int v = 0; v < 2; ++v)
    {
      pair_loop& p = v ? *fixed : *plain;
      const double t0 = thread_cpu_ns();
      p.batch(rounds);
      t[v].push_back((thread_cpu_ns() - t0) / double(rounds));
    }
  }
  const double per_round = double(fixed->ctx.impl().get_ring().files().stats.fixed_requests)
      / double(rounds * std::size_t(batches + 1));
  std::printf("fixed: %.2f requests per round trip named a slot\n", per_round);
  for (int v = 0; v < 2; ++v)
  {
    std::sort(t[v].begin(), t[v].end());
    std::printf("%-6s min %.0f ns  median %.0f ns  per round trip\n", v ? "fixed" : "plain",
        t[v].front(), t[v][t[v].size() / 2]);
  }
  return 0;
}
