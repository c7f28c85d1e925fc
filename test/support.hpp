// Helpers shared by the test suites (header only): a watchdog, forked
// children, a connected TCP pair, byte patterns, and the multishot receive
// probes. Include it after <boost/test/unit_test.hpp> (with
// BOOST_TEST_MODULE defined); the Boost.Test checks here are for the main
// thread only.
#pragma once

#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// A connected pair of our TCP sockets on loopback. `rcvbuf`: the server's
// receive buffer (0: the default), set on the listener so the window is
// small from the first segment. `sndbuf`: the client's send buffer (0: the
// default, which the kernel grows as ACKs come), set before connecting; a
// set size is fixed.
struct tcp_pair
{
  asio_uring::io_context& ctx;
  asio_uring::ip::tcp::acceptor acceptor{ctx, {boost::asio::ip::address_v4::loopback(), 0}};
  asio_uring::ip::tcp::socket client{ctx};
  asio_uring::ip::tcp::socket server{ctx};

  explicit tcp_pair(asio_uring::io_context& c, int rcvbuf = 0, int sndbuf = 0) : ctx(c)
  {
    if (rcvbuf) acceptor.set_option(boost::asio::socket_base::receive_buffer_size(rcvbuf));
    if (sndbuf)
    {
      client.open(asio_uring::ip::tcp::v4());
      client.set_option(boost::asio::socket_base::send_buffer_size(sndbuf));
    }
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

// `n` letters cycling with period 26 from `seed`.
inline std::string pattern(std::size_t n, std::size_t seed = 0)
{
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
}

// `n` letters whose 26-letter cycle shifts every 26 bytes: a piece read at
// a wrong offset differs.
inline std::string shifting_pattern(std::size_t n, std::size_t seed = 0)
{
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + ((i + seed) * 7 + i / 26) % 26);
  return s;
}

// --- multishot receive (detail/buffer_ring.hpp) ----------------------------

inline asio_uring::detail::buffer_ring::counters stats(asio_uring::io_context& ctx)
{
  asio_uring::detail::scheduler& s = ctx.impl();
  asio_uring::detail::buffer_ring::counters c;
  s.with_loop([&] { c = s.recv_buffers().stats; });
  return c;
}

// The kernel ring with the buffer ring registered and multishot receive on:
// the multishot path runs (false on the emulated engine and with
// ASIO_URING_FEATURES=-multishot_recv).
inline bool multishot_active(asio_uring::io_context& ctx)
{
  asio_uring::detail::scheduler& s = ctx.impl();
  bool on = false;
  s.with_loop([&] { on = s.recv_buffers().multishot_ok(); });
  return on;
}

// Lets data arrive, then reaps the ring without running handlers: a
// multishot queues what it received (it counts no work, so run() would
// return at once).
inline void settle(asio_uring::io_context& ctx)
{
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  asio_uring::detail::scheduler& s = ctx.impl();
  s.with_loop([&] { s.poll_completions(); });
}

// Runs the context until `done()` or 5 s.
template <typename F>
void run_until(asio_uring::io_context& ctx, F done)
{
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done() && std::chrono::steady_clock::now() < end)
  {
    ctx.restart();
    ctx.run_for(std::chrono::milliseconds(5));
  }
}

// Reads from `s` with sizes cycling through `sizes`, alternately into one
// buffer and into a sequence of three, until an error (eof: the end);
// collects the bytes and the error. With `timed` (a tcp_stream), a deadline
// of 5 s before each read.
template <typename Stream>
struct reader
{
  Stream& s;
  std::vector<std::size_t> sizes;
  bool timed;
  std::string got;
  std::vector<char> buf;
  std::size_t i = 0;
  boost::system::error_code end;
  int ends = 0;

  void next()
  {
    std::size_t n = sizes[i % sizes.size()];
    buf.assign(n, '\0');
    if constexpr (requires { s.expires_after(std::chrono::seconds(5)); })
      if (timed) s.expires_after(std::chrono::seconds(5));
    auto done = [this](boost::system::error_code ec, std::size_t k) {
      got.append(buf.data(), k);
      if (ec)
      {
        end = ec;
        ++ends;
        return;
      }
      next();
    };
    if (i++ % 2 == 0 || n < 3)
      s.async_read_some(boost::asio::buffer(buf), done);
    else
    {
      std::array<boost::asio::mutable_buffer, 3> seq{boost::asio::buffer(buf.data(), 1),
          boost::asio::buffer(buf.data() + 1, n / 2),
          boost::asio::buffer(buf.data() + 1 + n / 2, n - 1 - n / 2)};
      s.async_read_some(seq, done);
    }
  }
};

// Runs `f` in a child process (fork(), no io_context involved) and returns
// what it returned, or "exception: " and the message of what it threw.
inline std::string child_output(const std::function<std::string()>& f)
{
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0)
  {
    ::close(fds[0]);
    std::string out;
    try { out = f(); }
    catch (const std::exception& e) { out = std::string("exception: ") + e.what(); }
    [[maybe_unused]] auto n = ::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string result;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) result.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return result;
}

} // namespace test_support
