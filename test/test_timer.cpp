// Timers: ordering, cancellation (object, per operation, racing expiry),
// destruction, many timers on one kernel timeout.
#define BOOST_TEST_MODULE timer
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <random>
#include <thread>

namespace net = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;

BOOST_AUTO_TEST_CASE(expiry_and_result)
{
  asio_uring::io_context ctx;
  asio_uring::steady_timer t(ctx);
  auto before = std::chrono::steady_clock::now();
  BOOST_TEST(t.expires_after(20ms) == 0u);
  BOOST_TEST((t.expiry() >= before + 20ms));
  error_code result = net::error::would_block;
  std::chrono::steady_clock::time_point fired_at;
  t.async_wait([&](error_code ec) { result = ec; fired_at = std::chrono::steady_clock::now(); });
  BOOST_TEST(ctx.run() == 1u);
  BOOST_TEST(!result);
  BOOST_TEST((fired_at >= t.expiry()));
  BOOST_TEST((fired_at - t.expiry() < 500ms));
}

BOOST_AUTO_TEST_CASE(already_expired_completes_but_not_inline)
{
  asio_uring::io_context ctx;
  asio_uring::steady_timer t(ctx, std::chrono::steady_clock::now() - 1s);
  bool fired = false;
  t.async_wait([&](error_code ec) { fired = !ec; });
  BOOST_TEST(!fired);
  ctx.run();
  BOOST_TEST(fired);
}

BOOST_AUTO_TEST_CASE(many_deadlines_fire_in_order)
{
  asio_uring::io_context ctx;
  std::vector<int> delays_ms(200);
  for (int i = 0; i < 200; ++i) delays_ms[i] = i / 2;  // pairs share a millisecond
  std::shuffle(delays_ms.begin(), delays_ms.end(), std::mt19937(7));
  std::vector<std::unique_ptr<asio_uring::steady_timer>> timers;
  std::vector<std::chrono::steady_clock::time_point> fired_expiries;
  auto base = std::chrono::steady_clock::now() + 20ms;
  for (int d : delays_ms)
  {
    timers.push_back(std::make_unique<asio_uring::steady_timer>(ctx, base + std::chrono::milliseconds(d)));
    auto* t = timers.back().get();
    t->async_wait([&, t](error_code ec) {
      BOOST_TEST(!ec);
      fired_expiries.push_back(t->expiry());
    });
  }
  BOOST_TEST(ctx.run() == 200u);
  BOOST_TEST(fired_expiries.size() == 200u);
  BOOST_TEST(std::is_sorted(fired_expiries.begin(), fired_expiries.end()));
}

BOOST_AUTO_TEST_CASE(thousands_of_timers_use_no_sqe_each)
{
  asio_uring::io_context ctx;
  std::vector<std::unique_ptr<asio_uring::steady_timer>> timers;
  int fired = 0;
  for (int i = 0; i < 10000; ++i)
  {
    timers.push_back(std::make_unique<asio_uring::steady_timer>(ctx, std::chrono::microseconds(10 * i)));
    timers.back()->async_wait([&](error_code ec) { if (!ec) ++fired; });
  }
  ctx.poll();
  // Nothing of ours is in the kernel: the loop's wait carries one timeout.
  BOOST_TEST(ctx.impl().in_flight() == 0u);
  ctx.restart();
  ctx.run();
  BOOST_TEST(fired == 10000);
}

BOOST_AUTO_TEST_CASE(cancel_and_cancel_one_and_expires_at_counts)
{
  asio_uring::io_context ctx;
  asio_uring::steady_timer t(ctx, 1h);
  std::vector<std::string> log;
  for (int i = 0; i < 3; ++i)
    t.async_wait([&, i](error_code ec) {
      log.push_back(std::to_string(i) + (ec == net::error::operation_aborted ? " aborted" : " other"));
    });
  BOOST_TEST(t.cancel_one() == 1u);
  BOOST_TEST(t.expires_after(1h) == 2u);
  BOOST_TEST(t.cancel() == 0u);
  ctx.run();
  BOOST_TEST((log == std::vector<std::string>{"0 aborted", "1 aborted", "2 aborted"}));
}

BOOST_AUTO_TEST_CASE(cancel_racing_expiry_completes_once)
{
  asio_uring::io_context ctx;
  for (int round = 0; round < 200; ++round)
  {
    asio_uring::steady_timer t(ctx, std::chrono::microseconds(round % 50));
    int calls = 0;
    error_code result;
    t.async_wait([&](error_code ec) { ++calls; result = ec; });
    std::this_thread::sleep_for(std::chrono::microseconds(25));
    std::size_t cancelled = t.cancel();
    ctx.restart();
    ctx.run();
    BOOST_TEST(calls == 1);
    // Either it had expired (and completed with success) or it was cancelled.
    if (cancelled) BOOST_TEST(result == net::error::operation_aborted);
  }
}

BOOST_AUTO_TEST_CASE(cancel_from_within_run_after_expiry_is_zero)
{
  asio_uring::io_context ctx;
  asio_uring::steady_timer t(ctx, 1ms);
  asio_uring::steady_timer guard_timer(ctx, 20ms);
  int calls = 0;
  error_code result = net::error::would_block;
  t.async_wait([&](error_code ec) { ++calls; result = ec; });
  guard_timer.async_wait([&](error_code) { BOOST_TEST(t.cancel() == 0u); });
  ctx.run();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!result);
}

BOOST_AUTO_TEST_CASE(per_operation_cancellation_slot)
{
  asio_uring::io_context ctx;
  asio_uring::steady_timer t(ctx, 1h);
  net::cancellation_signal sig;
  error_code result;
  t.async_wait(net::bind_cancellation_slot(sig.slot(), [&](error_code ec) { result = ec; }));
  net::post(ctx, [&] { sig.emit(net::cancellation_type::terminal); });
  BOOST_TEST(ctx.run() == 2u);
  BOOST_TEST(result == net::error::operation_aborted);

  // Emitted after completion: no effect, one call.
  ctx.restart();
  t.expires_after(1ms);
  int calls = 0;
  t.async_wait(net::bind_cancellation_slot(sig.slot(), [&](error_code ec) { ++calls; result = ec; }));
  ctx.run();
  sig.emit(net::cancellation_type::terminal);
  ctx.restart();
  ctx.run();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!result);
}

BOOST_AUTO_TEST_CASE(awaitable_operators_cancel_the_loser)
{
  using namespace net::experimental::awaitable_operators;
  asio_uring::io_context ctx;
  asio_uring::steady_timer fast(ctx, 5ms), slow(ctx, 1h);
  std::size_t winner = 99;
  auto start = std::chrono::steady_clock::now();
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    auto r = co_await (fast.async_wait(net::use_awaitable) || slow.async_wait(net::use_awaitable));
    winner = r.index();
  }, net::detached);
  ctx.run();
  BOOST_TEST(winner == 0u);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 10s));
}

BOOST_AUTO_TEST_CASE(destroying_timer_aborts_wait)
{
  asio_uring::io_context ctx;
  error_code result;
  {
    asio_uring::steady_timer t(ctx, 1h);
    t.async_wait([&](error_code ec) { result = ec; });
  }
  BOOST_TEST(ctx.run() == 1u);
  BOOST_TEST(result == net::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(moved_timer_keeps_its_wait)
{
  asio_uring::io_context ctx;
  asio_uring::steady_timer a(ctx, 5ms);
  error_code result = net::error::would_block;
  a.async_wait([&](error_code ec) { result = ec; });
  asio_uring::steady_timer b(std::move(a));
  BOOST_TEST(b.cancel() == 1u);
  ctx.run();
  BOOST_TEST(result == net::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(system_and_high_resolution_timers)
{
  asio_uring::io_context ctx;
  asio_uring::system_timer s(ctx, std::chrono::system_clock::now() + 5ms);
  asio_uring::high_resolution_timer h(ctx, 3ms);
  std::vector<std::string> order;
  s.async_wait([&](error_code ec) { if (!ec) order.push_back("system"); });
  h.async_wait([&](error_code ec) { if (!ec) order.push_back("hires"); });
  ctx.run();
  BOOST_TEST((order == std::vector<std::string>{"hires", "system"}));
}

BOOST_AUTO_TEST_CASE(sync_wait_and_tokens)
{
  asio_uring::io_context ctx;
  asio_uring::steady_timer t(ctx, 5ms);
  auto start = std::chrono::steady_clock::now();
  t.wait();
  BOOST_TEST((std::chrono::steady_clock::now() - start >= 5ms));

  t.expires_after(1ms);
  std::future<void> f = t.async_wait(net::use_future);
  std::thread runner([&] { ctx.run(); });
  BOOST_CHECK_NO_THROW(f.get());
  runner.join();

  ctx.restart();
  t.expires_after(1ms);
  auto [ec] = std::tuple<error_code>{net::error::would_block};
  t.async_wait(net::as_tuple(net::deferred))([&](std::tuple<error_code> r) { ec = std::get<0>(r); });
  ctx.run();
  BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(wait_started_from_another_thread_while_running)
{
  asio_uring::io_context ctx;
  auto guard = net::make_work_guard(ctx);
  std::thread runner([&] { ctx.run(); });
  std::this_thread::sleep_for(20ms);
  asio_uring::steady_timer t(ctx, 10ms);
  std::promise<error_code> done;
  t.async_wait([&](error_code ec) { done.set_value(ec); });
  BOOST_TEST(!done.get_future().get());
  asio_uring::steady_timer t2(ctx, 1h);
  std::promise<error_code> aborted;
  t2.async_wait([&](error_code ec) { aborted.set_value(ec); });
  BOOST_TEST(t2.cancel() == 1u);  // synchronous count, taken on the loop's thread
  BOOST_TEST(aborted.get_future().get() == net::error::operation_aborted);
  guard.reset();
  runner.join();
}
