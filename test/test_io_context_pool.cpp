// io_context_pool: one context per thread (pinned or not), SO_REUSEPORT
// acceptors spreading connections over the contexts, stop(), destruction
// with pending operations, exceptions from handlers.
#define BOOST_TEST_MODULE io_context_pool
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <sched.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

struct where
{
  std::thread::id thread;
  int cpu = -1;
  int cpus_allowed = 0;
  bool in_context = false;
};

// Where a handler posted to each context of `pool` ran.
std::vector<where> locate(asio_uring::io_context_pool& pool)
{
  std::vector<where> out(pool.size());
  for (std::size_t i = 0; i < pool.size(); ++i)
  {
    auto& ctx = pool.context(i);
    net::post(ctx, [&out, &ctx, i] {
      cpu_set_t set;
      CPU_ZERO(&set);
      ::pthread_getaffinity_np(::pthread_self(), sizeof set, &set);
      out[i] = {std::this_thread::get_id(), ::sched_getcpu(), CPU_COUNT(&set),
                ctx.get_executor().running_in_this_thread()};
    });
  }
  pool.run();  // returns: the posted handlers were the only work
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(each_context_runs_on_its_own_thread)
{
  asio_uring::io_context_pool pool(3);
  BOOST_TEST(pool.size() == 3u);
  auto w = locate(pool);
  std::set<std::thread::id> ids;
  for (auto& x : w)
  {
    BOOST_TEST(x.in_context);
    BOOST_TEST((x.thread != std::this_thread::get_id()));
    ids.insert(x.thread);
  }
  BOOST_TEST(ids.size() == 3u);
  // Round-robin.
  BOOST_TEST(&pool.get_io_context() == &pool.context(0));
  BOOST_TEST(&pool.get_io_context() == &pool.context(1));
  BOOST_TEST(&pool.get_io_context() == &pool.context(2));
  BOOST_TEST(&pool.get_io_context() == &pool.context(0));
}

BOOST_AUTO_TEST_CASE(pinned_threads_run_on_their_cpu)
{
  asio_uring::io_context_pool pool(0, true);  // one per allowed CPU
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  BOOST_REQUIRE(::sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  BOOST_TEST(pool.size() == static_cast<std::size_t>(CPU_COUNT(&allowed)));
  auto w = locate(pool);
  for (std::size_t i = 0; i < pool.size(); ++i)
  {
    BOOST_TEST_CONTEXT("thread " << i)
    {
      BOOST_TEST(w[i].cpus_allowed == 1);
      BOOST_TEST(w[i].cpu == pool.cpu_of(i));
    }
  }
  if (pool.size() > 1) BOOST_TEST(pool.cpu_of(0) != pool.cpu_of(1));
}

// One acceptor per context on one port: the kernel spreads 64 connections
// over both (hashing the 4-tuple; all 64 on one side has probability 2^-63).
BOOST_AUTO_TEST_CASE(reuse_port_spreads_connections)
{
  asio_uring::io_context_pool pool(2);
  auto acceptors = asio_uring::reuse_port_acceptors<tcp::acceptor>(
      pool, {net::ip::address_v4::loopback(), 0});
  BOOST_REQUIRE(acceptors.size() == 2u);
  const auto port = acceptors[0].local_endpoint().port();
  BOOST_TEST(acceptors[1].local_endpoint().port() == port);
  asio_uring::reuse_port opt;
  acceptors[1].get_option(opt);
  BOOST_TEST(opt.value());

  constexpr int n = 64;
  std::atomic<int> total{0};
  std::atomic<int> per[2] = {0, 0};
  std::atomic<int> wrong_thread{0};
  for (std::size_t i = 0; i < 2; ++i)
  {
    auto& ctx = pool.context(i);
    net::co_spawn(ctx, [&, i, a = &acceptors[i]]() -> net::awaitable<void> {
      for (;;)
      {
        auto [ec, s] = co_await a->async_accept(net::as_tuple(net::use_awaitable));
        if (ec) co_return;
        if (!pool.context(i).get_executor().running_in_this_thread()) ++wrong_thread;
        char c = 0;
        auto [rec, k] = co_await net::async_read(s, net::buffer(&c, 1), net::as_tuple(net::use_awaitable));
        if (!rec && k == 1 && c == 'x') ++per[i];
        if (++total == n) pool.stop();
      }
    }, net::detached);
  }
  std::thread runner([&] { pool.run(); });
  net::io_context cio;
  std::vector<net::ip::tcp::socket> clients;
  for (int i = 0; i < n; ++i)
  {
    clients.emplace_back(cio);
    clients.back().connect({net::ip::address_v4::loopback(), port});
    net::write(clients.back(), net::buffer("x", 1));
  }
  runner.join();  // run() returned: stop() from a handler
  BOOST_TEST(total.load() == n);
  BOOST_TEST(per[0].load() + per[1].load() == n);
  BOOST_TEST(per[0].load() >= 1);
  BOOST_TEST(per[1].load() >= 1);
  BOOST_TEST(wrong_thread.load() == 0);
}

// stop() from another thread makes run() return although every context
// still has work.
BOOST_AUTO_TEST_CASE(stop_makes_run_return)
{
  asio_uring::io_context_pool pool(2);
  std::vector<net::executor_work_guard<asio_uring::io_context::executor_type>> guards;
  for (std::size_t i = 0; i < pool.size(); ++i) guards.push_back(net::make_work_guard(pool.context(i)));
  std::atomic<int> started{0};
  for (std::size_t i = 0; i < pool.size(); ++i) net::post(pool.context(i), [&] { ++started; });
  auto done = std::async(std::launch::async, [&] { pool.run(); });
  while (started.load() < 2) std::this_thread::sleep_for(1ms);
  BOOST_TEST((done.wait_for(50ms) == std::future_status::timeout));
  pool.stop();
  BOOST_TEST((done.wait_for(5s) == std::future_status::ready));
  done.get();
  for (std::size_t i = 0; i < pool.size(); ++i) BOOST_TEST(pool.context(i).stopped());
  // restart() and run() again (the guards go first: dropping the last work
  // stops a context, as in Asio).
  guards.clear();
  pool.restart();
  std::atomic<int> again{0};
  for (std::size_t i = 0; i < pool.size(); ++i) net::post(pool.context(i), [&] { ++again; });
  pool.run();
  BOOST_TEST(again.load() == 2);
}

// Destruction with operations pending (accepts, a timer, reads): their
// handlers are destroyed unrun, nothing is called after.
BOOST_AUTO_TEST_CASE(destruction_with_pending_operations)
{
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> alive = token;
  std::atomic<int> called{0};
  net::io_context cio;
  net::ip::tcp::socket client(cio);
  {
    asio_uring::io_context_pool pool(2);
    auto acceptors = asio_uring::reuse_port_acceptors<tcp::acceptor>(
        pool, {net::ip::address_v4::loopback(), 0});
    auto timer = std::make_unique<asio_uring::steady_timer>(pool.context(1), 1h);
    timer->async_wait([token, &called](error_code) { ++called; });
    for (auto& a : acceptors)
      for (int k = 0; k < 2; ++k)
        a.async_accept([token, &called](error_code, tcp::socket) { ++called; });
    std::thread runner([&] { pool.run(); });
    client.connect({net::ip::address_v4::loopback(), acceptors[0].local_endpoint().port()});
    auto t0 = std::chrono::steady_clock::now();
    while (called.load() < 1 && std::chrono::steady_clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
    BOOST_TEST(called.load() == 1);  // that connection's accept
    pool.stop();
    runner.join();
    token.reset();
    BOOST_TEST(!alive.expired());  // held by the pending handlers
    // The I/O objects go first (as a program's would), then the pool: the
    // pending handlers are destroyed unrun with the contexts.
    acceptors.clear();
    timer.reset();
  }
  BOOST_TEST(alive.expired());
  BOOST_TEST(called.load() == 1);
}

// An exception escaping a handler on one thread stops the pool and comes
// out of run() on the caller's thread; the other context keeps its work.
BOOST_AUTO_TEST_CASE(exception_propagates_to_run)
{
  asio_uring::io_context_pool pool(2);
  auto guard = net::make_work_guard(pool.context(0));
  std::atomic<bool> later{false};
  net::post(pool.context(1), [] { throw std::runtime_error("boom"); });
  std::string what;
  try
  {
    pool.run();
  }
  catch (const std::runtime_error& e)
  {
    what = e.what();
  }
  BOOST_TEST(what == "boom");
  BOOST_TEST(pool.context(0).stopped());
  // The pool runs again after restart().
  pool.restart();
  net::post(pool.context(0), [&] { later = true; });
  guard.reset();
  pool.run();
  BOOST_TEST(later.load());
}
