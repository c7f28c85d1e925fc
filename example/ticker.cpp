#include <boost/asio/experimental/awaitable_operators.hpp>
// A coroutine that ticks every 100 ms until SIGINT or SIGTERM, written
// exactly as for boost::asio::io_context but for the three asio_uring types.
#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <csignal>
#include <cstdio>

namespace net = boost::asio;
using namespace net::experimental::awaitable_operators;

net::awaitable<void> tick()
{
  asio_uring::steady_timer timer(co_await net::this_coro::executor);
  for (int n = 1;; ++n)
  {
    timer.expires_after(std::chrono::milliseconds(100));
    co_await timer.async_wait(net::use_awaitable);
    std::printf("tick %d\n", n);
    std::fflush(stdout);
  }
}

net::awaitable<int> wait_for_signal()
{
  asio_uring::signal_set signals(co_await net::this_coro::executor, SIGINT, SIGTERM);
  co_return co_await signals.async_wait(net::use_awaitable);
}

int main()
{
  asio_uring::io_context ctx;
  net::co_spawn(ctx, tick() || wait_for_signal(), [](std::exception_ptr e, auto result) {
    if (e) std::rethrow_exception(e);
    if (result.index() == 1) std::printf("signal %d: exiting\n", std::get<1>(result));
  });
  ctx.run();
  return 0;
}
