// Handlers per second: asio_uring::io_context vs boost::asio::io_context,
// side by side in one process, each row measured several times in
// alternating order; prints medians and the ratio.
//
//   bench_context                      the whole table
//   bench_context ROW IMPL ITERATIONS  one row once (for callgrind)
//     ROW: post_inside | post_foreign | coro_post | coro_call | timer_churn
//     IMPL: asio | uring
#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

// Every row: run `iterations` handlers on a fresh context, return seconds.
template <typename Context>
double post_inside(long iterations)
{
  // 16 chains re-posting themselves: the queue is never empty, as in a busy
  // server, and every handler is a fresh post from inside run().
  Context ctx(1);
  constexpr int chains = 16;
  long left = iterations;
  struct chain
  {
    Context* ctx;
    long* left;
    void operator()() const
    {
      if (--*left >= chains) net::post(*ctx, *this);
    }
  };
  for (int i = 0; i < chains; ++i) net::post(ctx, chain{&ctx, &left});
  auto t0 = clock_type::now();
  ctx.run();
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

template <typename Context>
double post_foreign(long iterations)
{
  Context ctx(1);
  auto guard = net::make_work_guard(ctx);
  long done = 0;
  auto t0 = clock_type::now();
  std::thread producer([&] {
    for (long i = 0; i < iterations; ++i)
      net::post(ctx, [&] {
        if (++done == iterations) guard.reset();
      });
  });
  ctx.run();
  producer.join();
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

template <typename Context>
double coro_post(long iterations)
{
  Context ctx(1);
  net::co_spawn(ctx, [iterations]() -> net::awaitable<void> {
    auto ex = co_await net::this_coro::executor;
    for (long i = 0; i < iterations; ++i) co_await net::post(ex, net::use_awaitable);
  }, net::detached);
  auto t0 = clock_type::now();
  ctx.run();
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

net::awaitable<long> trivial(long v) { co_return v + 1; }

template <typename Context>
double coro_call(long iterations)
{
  Context ctx(1);
  long sum = 0;
  net::co_spawn(ctx, [iterations, &sum]() -> net::awaitable<void> {
    for (long i = 0; i < iterations; ++i) sum += co_await trivial(i);
  }, net::detached);
  auto t0 = clock_type::now();
  ctx.run();
  if (sum == 42) std::puts("");
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

template <typename Context, typename Timer>
double timer_churn(long iterations)
{
  // Arm a long timer, cancel it, and re-arm from the aborted handler: the
  // pattern of per-request timeouts that are almost always cancelled.
  Context ctx(1);
  Timer timer(ctx);
  long left = iterations;
  struct on_wait
  {
    Timer* timer;
    long* left;
    void operator()(boost::system::error_code) const
    {
      if (--*left > 0) arm(*timer, *this);
    }
    static void arm(Timer& t, on_wait h)
    {
      t.expires_after(std::chrono::hours(1));
      t.async_wait(h);
      t.cancel();
    }
  };
  on_wait::arm(timer, on_wait{&timer, &left});
  auto t0 = clock_type::now();
  ctx.run();
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

struct row
{
  const char* name;
  const char* what;
  long iterations;
  double (*asio)(long);
  double (*uring)(long);
};

const row rows[] = {
  {"post_inside", "post from inside run, 1 thread", 2'000'000,
    &post_inside<net::io_context>, &post_inside<asio_uring::io_context>},
  {"post_foreign", "post from a second thread", 1'000'000,
    &post_foreign<net::io_context>, &post_foreign<asio_uring::io_context>},
  {"coro_post", "co_await post(use_awaitable)", 1'000'000,
    &coro_post<net::io_context>, &coro_post<asio_uring::io_context>},
  {"coro_call", "co_await trivial awaitable", 2'000'000,
    &coro_call<net::io_context>, &coro_call<asio_uring::io_context>},
  {"timer_churn", "timer arm + cancel + handler", 500'000,
    &timer_churn<net::io_context, net::steady_timer>,
    &timer_churn<asio_uring::io_context, asio_uring::steady_timer>},
};

double median(std::vector<double> v)
{
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
  if (argc == 4)
  {
    for (const row& r : rows)
    {
      if (std::strcmp(r.name, argv[1]) != 0) continue;
      long n = std::atol(argv[3]);
      double s = std::strcmp(argv[2], "asio") == 0 ? r.asio(n) : r.uring(n);
      std::printf("%s %s %ld %.3f s\n", r.name, argv[2], n, s);
      return 0;
    }
    std::fprintf(stderr, "unknown row %s\n", argv[1]);
    return 2;
  }

  const int runs = argc == 2 ? std::atoi(argv[1]) : 5;
  std::printf("%-14s %-32s %14s %14s %8s\n", "row", "what", "asio Mhandl/s", "uring Mhandl/s", "ratio");
  for (const row& r : rows)
  {
    std::vector<double> a, u;
    r.asio(r.iterations / 10);  // warm up caches and allocators
    r.uring(r.iterations / 10);
    for (int i = 0; i < runs; ++i)
    {
      if (i % 2 == 0)
      {
        a.push_back(r.iterations / r.asio(r.iterations) / 1e6);
        u.push_back(r.iterations / r.uring(r.iterations) / 1e6);
      }
      else
      {
        u.push_back(r.iterations / r.uring(r.iterations) / 1e6);
        a.push_back(r.iterations / r.asio(r.iterations) / 1e6);
      }
    }
    double ma = median(a), mu = median(u);
    std::printf("%-14s %-32s %14.2f %14.2f %7.2fx\n", r.name, r.what, ma, mu, mu / ma);
    std::fflush(stdout);
  }
  return 0;
}
