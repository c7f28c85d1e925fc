// Helpers shared by the test suites (header only). Include it after
// <boost/test/unit_test.hpp>: the parent-side checks use Boost.Test, on the
// main thread only.
#pragma once

#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace test_support {

// Ends the process (exit status 1, with a message naming `what`) unless it is
// destroyed within `limit`: a hang fails the test at once, with its name,
// instead of at CTest's timeout (threads stuck in run() cannot be joined).
class watchdog
{
public:
  watchdog(std::chrono::seconds limit, std::string what)
    : what_(std::move(what)), thread_([this, limit] {
        std::unique_lock<std::mutex> lock(mutex_);
        if (cv_.wait_for(lock, limit, [this] { return done_; })) return;
        std::fprintf(stderr, "watchdog: %s did not finish within %lld s\n", what_.c_str(),
            static_cast<long long>(limit.count()));
        std::fflush(stderr);
        std::_Exit(1);
      })
  {
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog()
  {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

private:
  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

// fork() with `ctx` told around it (fork_prepare; fork_parent in the parent,
// fork_child in the child). The child then runs `child(status)` and exits
// with `status` as it is when `child` returns or throws (it starts as
// `if_thrown`): no Boost.Test macro may run there. The parent waits for the
// child and checks that it exited with 0.
template <typename F>
void run_forked(asio_uring::io_context& ctx, int if_thrown, F child)
{
  ctx.notify_fork(asio_uring::io_context::fork_prepare);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0)
  {
    int status = if_thrown;
    try
    {
      ctx.notify_fork(asio_uring::io_context::fork_child);
      child(status);
    }
    catch (...) {}
    ::_exit(status);
  }
  ctx.notify_fork(asio_uring::io_context::fork_parent);
  int status = -1;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

} // namespace test_support
