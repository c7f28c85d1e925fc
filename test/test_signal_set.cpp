// signal_set: delivery, several sets and contexts, cancellation.
#define BOOST_TEST_MODULE signal_set
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <csignal>
#include <atomic>
#include <thread>

namespace net = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;

BOOST_AUTO_TEST_CASE(delivers_signal_number)
{
  asio_uring::io_context ctx;
  asio_uring::signal_set sigs(ctx, SIGUSR1, SIGUSR2);
  int got = 0;
  error_code result = net::error::would_block;
  sigs.async_wait([&](error_code ec, int signo) { result = ec; got = signo; });
  net::post(ctx, [] { ::raise(SIGUSR2); });
  ctx.run();
  BOOST_TEST(!result);
  BOOST_TEST(got == SIGUSR2);
}

BOOST_AUTO_TEST_CASE(signal_before_wait_is_kept)
{
  asio_uring::io_context ctx;
  asio_uring::signal_set sigs(ctx, SIGUSR1);
  ::raise(SIGUSR1);
  ctx.poll();  // the pipe read completes; nobody waits yet
  ctx.restart();
  int got = 0;
  sigs.async_wait([&](error_code ec, int signo) { if (!ec) got = signo; });
  ctx.run();
  BOOST_TEST(got == SIGUSR1);
}

BOOST_AUTO_TEST_CASE(every_set_in_every_context_sees_it)
{
  asio_uring::io_context a, b;
  asio_uring::signal_set a1(a, SIGUSR1), a2(a, SIGUSR1), b1(b, SIGUSR1);
  std::atomic<int> seen{0};  // the two contexts run on two threads
  auto handler = [&](error_code ec, int signo) { if (!ec && signo == SIGUSR1) ++seen; };
  a1.async_wait(handler);
  a2.async_wait(handler);
  b1.async_wait(handler);
  std::thread tb([&] { b.run(); });
  std::this_thread::sleep_for(20ms);
  ::raise(SIGUSR1);
  a.run();
  tb.join();
  BOOST_TEST(seen.load() == 3);
}

BOOST_AUTO_TEST_CASE(cancel_and_slot_and_remove)
{
  asio_uring::io_context ctx;
  asio_uring::signal_set sigs(ctx);
  sigs.add(SIGUSR1);
  error_code r1, r2;
  sigs.async_wait([&](error_code ec, int) { r1 = ec; });
  sigs.cancel();
  net::cancellation_signal cs;
  sigs.async_wait(net::bind_cancellation_slot(cs.slot(), [&](error_code ec, int) { r2 = ec; }));
  net::post(ctx, [&] { cs.emit(net::cancellation_type::total); });
  ctx.run();
  BOOST_TEST(r1 == net::error::operation_aborted);
  BOOST_TEST(r2 == net::error::operation_aborted);

  error_code ec;
  sigs.add(SIGKILL, ec);
  BOOST_TEST(ec == net::error::invalid_argument);
  sigs.add(0, ec);
  BOOST_TEST(ec == net::error::invalid_argument);
  sigs.remove(SIGUSR1, ec);
  BOOST_TEST(!ec);
  sigs.clear();
}

BOOST_AUTO_TEST_CASE(destroying_set_aborts_wait_and_run_returns)
{
  asio_uring::io_context ctx;
  error_code result;
  {
    asio_uring::signal_set sigs(ctx, SIGUSR1);
    sigs.async_wait([&](error_code ec, int) { result = ec; });
  }
  BOOST_TEST(ctx.run() == 1u);
  BOOST_TEST(result == net::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(coroutine_waits_for_sigterm)
{
  asio_uring::io_context ctx;
  int got = 0;
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    asio_uring::signal_set sigs(co_await net::this_coro::executor, SIGINT, SIGTERM);
    got = co_await sigs.async_wait(net::use_awaitable);
  }, net::detached);
  asio_uring::steady_timer t(ctx, 10ms);
  t.async_wait([](error_code) { ::kill(::getpid(), SIGTERM); });
  ctx.run();
  BOOST_TEST(got == SIGTERM);
}
