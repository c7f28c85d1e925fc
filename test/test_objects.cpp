// The non-socket I/O objects' full Asio surface: default tokens, rebinding and
// converting construction, posix::descriptor, serial_port (over a
// pseudo-terminal), file members, and io_context::notify_fork.
#define BOOST_TEST_MODULE objects
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "support.hpp"

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;
using ctx_executor = asio_uring::io_context::executor_type;

namespace {

struct os_pipe
{
  int fds[2];
  os_pipe() { BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
};

// A pseudo-terminal: `slave` is a path to open as a serial port.
struct pty
{
  int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  std::string slave;
  pty()
  {
    BOOST_REQUIRE(master >= 0);
    BOOST_REQUIRE(::grantpt(master) == 0);
    BOOST_REQUIRE(::unlockpt(master) == 0);
    slave = ::ptsname(master);
  }
  ~pty() { ::close(master); }
};

std::string read_exact(int fd, std::size_t n)
{
  std::string s(n, '\0');
  std::size_t got = 0;
  while (got < n)
  {
    ssize_t r = ::read(fd, s.data() + got, n - got);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  s.resize(got);
  return s;
}

} // namespace

// Rebinding names the same template on the other executor, as Asio's do.
static_assert(std::is_same_v<asio_uring::steady_timer::rebind_executor<ctx_executor>::other,
    asio_uring::basic_waitable_timer<std::chrono::steady_clock,
        asio::wait_traits<std::chrono::steady_clock>, ctx_executor>>);
static_assert(std::is_same_v<asio_uring::serial_port::rebind_executor<ctx_executor>::other,
    asio_uring::basic_serial_port<ctx_executor>>);
static_assert(std::is_same_v<asio_uring::posix::stream_descriptor::rebind_executor<ctx_executor>::other,
    asio_uring::posix::basic_stream_descriptor<ctx_executor>>);
static_assert(std::is_same_v<asio_uring::posix::descriptor::rebind_executor<ctx_executor>::other,
    asio_uring::posix::basic_descriptor<ctx_executor>>);
static_assert(std::is_same_v<asio_uring::readable_pipe::rebind_executor<ctx_executor>::other,
    asio_uring::basic_readable_pipe<ctx_executor>>);
static_assert(std::is_same_v<asio_uring::stream_file::rebind_executor<ctx_executor>::other,
    asio_uring::basic_stream_file<ctx_executor>>);
// posix::descriptor is a base, as in Asio: not destructible on its own.
static_assert(!std::is_destructible_v<asio_uring::posix::descriptor>);
static_assert(std::is_base_of_v<asio_uring::posix::descriptor, asio_uring::posix::stream_descriptor>);

BOOST_AUTO_TEST_CASE(timer_as_default_on_use_awaitable)
{
  asio_uring::io_context ctx;
  using awaitable_timer = asio::use_awaitable_t<>::as_default_on_t<asio_uring::steady_timer>;
  std::string order;
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration waited{};
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    // From the context, and converted from a timer on another executor.
    awaitable_timer t1(ctx, 20ms);
    auto t2 = asio::use_awaitable_t<>::as_default_on(asio_uring::steady_timer(ctx, 5ms));
    co_await t2.async_wait();
    order += "2";
    co_await t1.async_wait();
    order += "1";
    waited = std::chrono::steady_clock::now() - start;
  }, asio::detached);
  BOOST_TEST(ctx.run() > 0u);
  BOOST_TEST(order == "21");
  BOOST_TEST(waited >= 20ms);
}

BOOST_AUTO_TEST_CASE(timer_converting_assignment_moves_pending_wait)
{
  asio_uring::io_context ctx;
  asio_uring::basic_waitable_timer<std::chrono::steady_clock,
      asio::wait_traits<std::chrono::steady_clock>, ctx_executor> narrow(ctx, 10ms);
  error_code got = asio::error::would_block;
  narrow.async_wait([&](error_code ec) { got = ec; });
  asio_uring::steady_timer wide(ctx);
  wide = std::move(narrow);
  BOOST_TEST(wide.cancel_one() == 1u);
  ctx.run();
  BOOST_TEST(got == asio::error::operation_aborted);
  BOOST_TEST(wide.cancel_one() == 0u);
}

BOOST_AUTO_TEST_CASE(pipe_converting_construction_keeps_descriptor)
{
  asio_uring::io_context ctx;
  asio_uring::basic_readable_pipe<ctx_executor> narrow(ctx);
  asio_uring::basic_writable_pipe<ctx_executor> w(ctx);
  asio_uring::connect_pipe(narrow, w);
  const int fd = narrow.native_handle();
  asio_uring::readable_pipe r(std::move(narrow));
  BOOST_TEST(!narrow.is_open());
  BOOST_TEST(r.native_handle() == fd);
  auto ar = asio::use_awaitable_t<>::as_default_on(std::move(r));
  std::string got;
  asio::co_spawn(ctx, [&]() -> asio::awaitable<void> {
    char buf[5];
    std::size_t n = co_await asio::async_read(ar, asio::buffer(buf));
    got.assign(buf, n);
  }, asio::detached);
  BOOST_TEST(w.write_some(asio::buffer("abcde", 5)) == 5u);
  ctx.run();
  BOOST_TEST(got == "abcde");
  BOOST_TEST(ar.release() == fd);
  BOOST_TEST(!ar.is_open());
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(descriptor_wait_modes_and_io_control)
{
  asio_uring::io_context ctx;
  os_pipe p;
  asio_uring::posix::stream_descriptor d(ctx, p.fds[0]);
  std::string order;
  d.async_wait(asio_uring::posix::descriptor::wait_read, [&](error_code ec) {
    BOOST_TEST(!ec);
    order += "ready";
  });
  asio::post(ctx, [&] {
    order += "post,";
    BOOST_REQUIRE(::write(p.fds[1], "xyz", 3) == 3);
  });
  ctx.run();
  BOOST_TEST(order == "post,ready");

  asio::posix::descriptor_base::bytes_readable avail;
  d.io_control(avail);
  BOOST_TEST(avail.get() == 3u);

  // User non-blocking mode: a sync read of an empty pipe is would_block.
  char buf[8];
  BOOST_TEST(d.read_some(asio::buffer(buf)) == 3u);
  BOOST_TEST(!d.non_blocking());
  d.non_blocking(true);
  BOOST_TEST(d.non_blocking());
  BOOST_TEST(d.native_non_blocking());
  error_code ec;
  BOOST_TEST(d.read_some(asio::buffer(buf), ec) == 0u);
  BOOST_TEST(ec == asio::error::would_block);
  d.native_non_blocking(false, ec);
  BOOST_TEST(ec == asio::error::invalid_argument);

  // Back to blocking: the read waits (poll) on the still non-blocking fd.
  d.non_blocking(false);
  BOOST_TEST(d.native_non_blocking());
  // Boost.Test is not thread-safe: the writer only records its result.
  ssize_t written = 0;
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    written = ::write(p.fds[1], "q", 1);
  });
  BOOST_TEST(d.read_some(asio::buffer(buf), ec) == 1u);
  writer.join();
  BOOST_TEST(written == 1);
  BOOST_TEST(!ec);
  BOOST_TEST(buf[0] == 'q');

  asio_uring::posix::stream_descriptor wr(ctx, p.fds[1]);
  wr.wait(asio_uring::posix::descriptor::wait_write, ec);
  BOOST_TEST(!ec);
  d.close();
  d.wait(asio_uring::posix::descriptor::wait_read, ec);
  BOOST_TEST(ec == asio::error::bad_descriptor);
  error_code aec;
  d.async_wait(asio_uring::posix::descriptor::wait_read, [&](error_code e) { aec = e; });
  ctx.restart();
  ctx.run();
  BOOST_TEST(aec == error_code(EBADF, boost::system::system_category()));
}

BOOST_AUTO_TEST_CASE(serial_port_over_pty)
{
  pty t;
  asio_uring::io_context ctx;
  asio_uring::serial_port sp(ctx, t.slave);
  BOOST_TEST(sp.is_open());
  BOOST_TEST((::fcntl(sp.native_handle(), F_GETFL) & O_NONBLOCK) != 0);

  // Raw mode, as Asio sets it up.
  termios ios;
  BOOST_REQUIRE(::tcgetattr(sp.native_handle(), &ios) == 0);
  BOOST_TEST((ios.c_lflag & (ICANON | ECHO | ISIG)) == 0u);
  BOOST_TEST((ios.c_oflag & OPOST) == 0u);
  BOOST_TEST((ios.c_cflag & CSIZE) == tcflag_t(CS8));
  BOOST_TEST((ios.c_cflag & (CREAD | CLOCAL)) == tcflag_t(CREAD | CLOCAL));

  // Options through Asio's serial_port_base, checked in termios too.
  sp.set_option(asio_uring::serial_port::baud_rate(115200));
  asio_uring::serial_port::baud_rate baud;
  sp.get_option(baud);
  BOOST_TEST(baud.value() == 115200u);
  BOOST_REQUIRE(::tcgetattr(sp.native_handle(), &ios) == 0);
  BOOST_TEST(::cfgetospeed(&ios) == speed_t(B115200));
  sp.set_option(asio_uring::serial_port::flow_control(asio_uring::serial_port::flow_control::software));
  asio_uring::serial_port::flow_control flow;
  sp.get_option(flow);
  BOOST_TEST(flow.value() == asio_uring::serial_port::flow_control::software);
  sp.set_option(asio_uring::serial_port::flow_control(asio_uring::serial_port::flow_control::none));
  asio_uring::serial_port::character_size cs;
  sp.get_option(cs);
  BOOST_TEST(cs.value() == 8u);
  // A pty refuses 7-bit characters (and ignores parity and stop bits): the
  // kernel's answer comes back as the error code.
  error_code opt_ec;
  sp.set_option(asio_uring::serial_port::character_size(7), opt_ec);
  BOOST_TEST(opt_ec == error_code(EINVAL, boost::system::system_category()));

  // Bytes from the master arrive exactly (no CR translation, no signal for ^C).
  const std::string in("hello\r\n\x03\x7f", 9);
  std::string got(in.size(), '\0');
  std::size_t got_n = 0;
  asio::async_read(sp, asio::buffer(got), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    got_n = n;
  });
  asio::post(ctx, [&] { BOOST_REQUIRE(::write(t.master, in.data(), in.size()) == ssize_t(in.size())); });
  ctx.run();
  BOOST_TEST(got_n == in.size());
  BOOST_TEST(got == in);

  // And the other way, asynchronously then synchronously.
  ctx.restart();
  std::size_t wrote = 0;
  asio::async_write(sp, asio::buffer("ping\n", 5), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    wrote = n;
  });
  ctx.run();
  BOOST_TEST(wrote == 5u);
  BOOST_TEST(read_exact(t.master, 5) == "ping\n");
  BOOST_TEST(sp.write_some(asio::buffer("ab", 2)) == 2u);
  BOOST_TEST(read_exact(t.master, 2) == "ab");
  BOOST_REQUIRE(::write(t.master, "Z", 1) == 1);
  char c = 0;
  BOOST_TEST(sp.read_some(asio::buffer(&c, 1)) == 1u);  // blocks (poll) on the O_NONBLOCK fd
  BOOST_TEST(c == 'Z');

  error_code ec;
  sp.send_break(ec);
  BOOST_TEST(!ec);

  // cancel() aborts a pending read; close() then closes.
  ctx.restart();
  error_code rec;
  sp.async_read_some(asio::buffer(&c, 1), [&](error_code e, std::size_t) { rec = e; });
  asio::post(ctx, [&] { sp.cancel(); });
  ctx.run();
  BOOST_TEST(rec == asio::error::operation_aborted);
  sp.open(t.slave, ec);
  BOOST_TEST(ec == asio::error::already_open);
  sp.close();
  BOOST_TEST(!sp.is_open());
  sp.open("/nonexistent/tty", ec);
  BOOST_TEST(ec == error_code(ENOENT, boost::system::system_category()));
}

BOOST_AUTO_TEST_CASE(file_members)
{
  char tmpl[] = "/tmp/asio_uring_objects_XXXXXX";
  int tmpfd = ::mkstemp(tmpl);
  BOOST_REQUIRE(tmpfd >= 0);
  ::close(tmpfd);
  asio_uring::io_context ctx;
  asio_uring::basic_stream_file<ctx_executor> narrow(ctx, tmpl,
      asio_uring::stream_file::read_write | asio_uring::stream_file::truncate);
  asio_uring::stream_file f(std::move(narrow));
  BOOST_TEST(f.is_open());
  BOOST_TEST(f.write_some(asio::buffer("0123456789", 10)) == 10u);
  error_code ec;
  BOOST_TEST(f.size(ec) == 10u);
  BOOST_TEST(!ec);
  f.resize(4, ec);
  BOOST_TEST(!ec);
  BOOST_TEST(f.size() == 4u);
  BOOST_TEST(f.seek(1, asio_uring::stream_file::seek_set, ec) == 1u);
  BOOST_TEST(f.seek(2, asio_uring::stream_file::seek_cur) == 3u);
  BOOST_TEST(f.seek(-1, asio_uring::stream_file::seek_end) == 3u);
  char c;
  BOOST_TEST(f.read_some(asio::buffer(&c, 1)) == 1u);
  BOOST_TEST(c == '3');
  BOOST_TEST(f.seek(-10, asio_uring::stream_file::seek_cur, ec) == 0u);
  BOOST_TEST(ec == asio::error::invalid_argument);
  f.sync_all(ec);
  BOOST_TEST(!ec);
  f.sync_data(ec);
  BOOST_TEST(!ec);

  int fd = f.release(ec);
  BOOST_TEST(!ec);
  BOOST_TEST(!f.is_open());
  f.size(ec);
  BOOST_TEST(ec == error_code(EBADF, boost::system::system_category()));
  asio_uring::random_access_file rf(ctx, fd);
  char two[2];
  BOOST_TEST(rf.read_some_at(0, asio::buffer(two)) == 2u);
  BOOST_TEST(std::string(two, 2) == "01");
  rf.close();
  ::unlink(tmpl);
}

namespace {

// The child's checks after fork (and fork_child): the operation parked by
// fork_prepare is pending on the child's own ring (cancel reaches it), a
// timer and a new pipe's read complete, and run() returns. Returns the exit
// status.
int child_after_fork(asio_uring::io_context& ctx, asio_uring::readable_pipe& inherited,
    error_code& inherited_result)
{
  ctx.restart();
  asio_uring::steady_timer t(ctx, 5ms);
  bool timer_done = false;
  t.async_wait([&](error_code ec) { timer_done = !ec; });
  asio_uring::readable_pipe r(ctx);
  asio_uring::writable_pipe w(ctx);
  asio_uring::connect_pipe(r, w);
  char buf[5] = {};
  std::size_t n = 0;
  asio::async_read(r, asio::buffer(buf), [&](error_code ec, std::size_t k) { if (!ec) n = k; });
  asio::write(w, asio::buffer("child", 5));
  asio::post(ctx, [&] { inherited.cancel(); });
  ctx.run();
  if (!timer_done) return 10;
  if (n != 5 || std::string(buf, 5) != "child") return 11;
  if (inherited_result != asio::error::operation_aborted) return 12;
  return 0;
}

} // namespace

BOOST_AUTO_TEST_CASE(notify_fork_child_gets_own_ring_parent_keeps_working)
{
  asio_uring::io_context ctx;
  asio_uring::readable_pipe r(ctx);
  asio_uring::writable_pipe w(ctx);
  asio_uring::connect_pipe(r, w);
  char buf[6] = {};
  std::size_t got = 0;
  error_code result = asio::error::would_block;
  asio::async_read(r, asio::buffer(buf), [&](error_code ec, std::size_t n) {
    result = ec;
    got = n;
  });
  ctx.poll();  // the read is in the kernel now
  BOOST_TEST(ctx.get_executor().context().impl().in_flight() == 1u);

  test_support::run_forked(ctx, 20, [&](int& status) { status = child_after_fork(ctx, r, result); });

  // The parent's read is still pending, restarted on its ring.
  asio_uring::steady_timer t(ctx, 5ms);
  bool timer_done = false;
  t.async_wait([&](error_code ec) { timer_done = !ec; });
  asio::write(w, asio::buffer("parent", 6));
  ctx.run();
  BOOST_TEST(timer_done);
  BOOST_TEST(!result);
  BOOST_TEST(got == 6u);
  BOOST_TEST(std::string(buf, 6) == "parent");
}

BOOST_AUTO_TEST_CASE(notify_fork_child_without_prepare_is_a_clear_error)
{
  asio_uring::io_context ctx;
  asio_uring::readable_pipe r(ctx);
  asio_uring::writable_pipe w(ctx);
  asio_uring::connect_pipe(r, w);
  char c;
  error_code result;
  r.async_read_some(asio::buffer(&c, 1), [&](error_code ec, std::size_t) { result = ec; });
  ctx.poll();
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0)
  {
    int status = 1;
    try { ctx.notify_fork(asio_uring::io_context::fork_child); }
    catch (const boost::system::system_error& e)
    {
      status = e.code() == asio::error::operation_not_supported ? 0 : 2;
    }
    ::_exit(status);
  }
  int status = -1;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  r.cancel();
  ctx.run();
  BOOST_TEST(result == asio::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(notify_fork_signal_set_waits_in_both_processes)
{
  asio_uring::io_context ctx;
  asio_uring::signal_set signals(ctx, SIGUSR1);
  int got = 0;
  signals.async_wait([&](error_code ec, int signo) { if (!ec) got = signo; });
  ctx.poll();
  test_support::run_forked(ctx, 30, [&](int& status) {
    ::raise(SIGUSR1);
    ctx.run_for(2s);
    status = got == SIGUSR1 ? 0 : 31;
  });
  BOOST_TEST(got == 0);  // the child's signal reached only the child
  ::raise(SIGUSR1);
  ctx.run_for(2s);
  BOOST_TEST(got == SIGUSR1);
}
