// Files, pipes, stream descriptors and the Networking TS face.
#define BOOST_TEST_MODULE file_pipe
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>
#include <asio_uring/net.hpp>

#include <boost/asio.hpp>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <numeric>

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

struct temp_dir
{
  std::string path;
  temp_dir()
  {
    char tmpl[] = "/tmp/asio_uring_file_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { std::system(("rm -rf " + path).c_str()); }
  std::string file(const char* name) const { return path + "/" + name; }
};

} // namespace

BOOST_AUTO_TEST_CASE(random_access_file_write_read_at_and_sync)
{
  temp_dir dir;
  asio_uring::io_context ctx;
  asio_uring::random_access_file f(ctx, dir.file("data"),
      asio_uring::file_base::read_write | asio_uring::file_base::create | asio_uring::file_base::truncate);
  std::vector<char> out(1 << 20);
  std::iota(out.begin(), out.end(), 0);
  std::vector<char> in(out.size());
  std::size_t written = 0, read = 0;
  error_code sync_ec = asio::error::would_block, eof_ec;
  asio::async_write_at(f, 4096, asio::buffer(out), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    written = n;
    f.async_sync_data([&](error_code ec) {
      sync_ec = ec;
      asio::async_read_at(f, 4096, asio::buffer(in), [&](error_code ec, std::size_t n) {
        BOOST_TEST(!ec);
        read = n;
        char c;
        f.async_read_some_at(4096 + out.size(), asio::buffer(&c, 1), [&](error_code ec, std::size_t) { eof_ec = ec; });
      });
    });
  });
  ctx.run();
  BOOST_TEST(written == out.size());
  BOOST_TEST(!sync_ec);
  BOOST_TEST(read == out.size());
  BOOST_TEST((in == out));
  BOOST_TEST(eof_ec == asio::error::eof);
  BOOST_TEST(f.size() == 4096u + out.size());
  f.resize(10);
  BOOST_TEST(f.size() == 10u);
  f.sync_all();
  char head[4];
  BOOST_TEST(f.read_some_at(0, asio::buffer(head)) == 4u);
  BOOST_TEST(std::string(head, 4) == std::string(4, '\0'));
}

BOOST_AUTO_TEST_CASE(stream_file_positions_append_and_seek)
{
  temp_dir dir;
  asio_uring::io_context ctx;
  {
    asio_uring::stream_file w(ctx, dir.file("log"),
        asio_uring::file_base::write_only | asio_uring::file_base::create | asio_uring::file_base::truncate);
    const std::string first = "first,", second = "second";  // outlive the writes
    asio::async_write(w, asio::buffer(first), [](error_code ec, std::size_t) { BOOST_TEST(!ec); });
    ctx.run();
    ctx.restart();
    asio::async_write(w, asio::buffer(second), [](error_code ec, std::size_t) { BOOST_TEST(!ec); });
    ctx.run();
    ctx.restart();
  }
  {
    asio_uring::stream_file a(ctx, dir.file("log"), asio_uring::file_base::write_only | asio_uring::file_base::append);
    a.write_some(asio::buffer(std::string("+tail")));
  }
  asio_uring::stream_file r(ctx, dir.file("log"), asio_uring::file_base::read_only);
  std::string all;
  error_code end;
  asio::async_read(r, asio::dynamic_buffer(all), [&](error_code ec, std::size_t) { end = ec; });
  ctx.run();
  BOOST_TEST(all == "first,second+tail");
  BOOST_TEST(end == asio::error::eof);
  BOOST_TEST(r.seek(6, asio_uring::file_base::seek_set) == 6u);
  char six[6];
  BOOST_TEST(r.read_some(asio::buffer(six)) == 6u);
  BOOST_TEST(std::string(six, 6) == "second");
  BOOST_TEST(r.seek(-4, asio_uring::file_base::seek_end) == 13u);
}

BOOST_AUTO_TEST_CASE(open_failures_are_error_codes)
{
  temp_dir dir;
  asio_uring::io_context ctx;
  asio_uring::random_access_file f(ctx);
  error_code ec;
  f.open(dir.file("missing"), asio_uring::file_base::read_only, ec);
  BOOST_TEST(ec == boost::system::errc::no_such_file_or_directory);
  f.open(dir.path, asio_uring::file_base::read_only, ec);
  BOOST_TEST(ec == boost::system::error_code(EISDIR, boost::system::system_category()));
  std::ofstream(dir.file("locked")) << "x";
  ::chmod(dir.file("locked").c_str(), 0);
  if (::geteuid() != 0)
  {
    f.open(dir.file("locked"), asio_uring::file_base::read_only, ec);
    BOOST_TEST(ec == asio::error::access_denied);
  }
  else
  {
    // Root ignores permissions: check from a child that became "nobody".
    ::chmod(dir.path.c_str(), 0755);
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0)
    {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
      asio_uring::io_context c;
      asio_uring::random_access_file locked(c);
      error_code e;
      locked.open(dir.file("locked"), asio_uring::file_base::read_only, e);
      ::_exit(e == asio::error::access_denied ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);  // 1: not access_denied, 3: could not drop root
  }
  f.open(dir.file("new"), asio_uring::file_base::write_only | asio_uring::file_base::create |
      asio_uring::file_base::exclusive, ec);
  BOOST_TEST(!ec);
  asio_uring::random_access_file g(ctx);
  g.open(dir.file("new"), asio_uring::file_base::write_only | asio_uring::file_base::create |
      asio_uring::file_base::exclusive, ec);
  BOOST_TEST(ec == boost::system::errc::file_exists);
  BOOST_CHECK_THROW(asio_uring::stream_file(ctx, dir.file("missing"), asio_uring::file_base::read_only),
      boost::system::system_error);
}

BOOST_AUTO_TEST_CASE(direct_io_with_aligned_buffers)
{
  temp_dir dir;
  asio_uring::io_context ctx;
  asio_uring::random_access_file f(ctx);
  error_code ec;
  f.open(dir.file("direct"), asio_uring::file_base::read_write | asio_uring::file_base::create |
      asio_uring::file_base::direct, ec);
  if (ec == boost::system::error_code(EINVAL, boost::system::system_category()))
  {
    BOOST_TEST_MESSAGE("file system without O_DIRECT (tmpfs): skipped");
    return;
  }
  BOOST_REQUIRE(!ec);
  void* mem = std::aligned_alloc(4096, 8192);
  std::memset(mem, 'd', 8192);
  std::size_t n = 0;
  f.async_write_some_at(0, asio::buffer(mem, 8192), [&](error_code e, std::size_t k) { BOOST_TEST(!e); n = k; });
  ctx.run();
  BOOST_TEST(n == 8192u);
  std::free(mem);
}

// An O_DIRECT read started by a handler reaches the kernel when that handler
// returns (the device must not wait for the rest of the turn); a buffered
// read waits for the end of the turn and is submitted with its batch.
BOOST_AUTO_TEST_CASE(direct_io_is_submitted_when_the_handler_returns)
{
  temp_dir dir;
  {
    std::vector<char> data(64 * 1024, 'x');
    asio_uring::io_context c;
    asio_uring::random_access_file w(c, dir.file("d"), asio_uring::file_base::write_only | asio_uring::file_base::create);
    BOOST_REQUIRE(w.write_some_at(0, asio::buffer(data)) == data.size());
  }
  for (bool direct : {true, false})
  {
    asio_uring::io_context ctx;
    asio_uring::random_access_file f(ctx);
    error_code ec;
    f.open(dir.file("d"), direct ? asio_uring::file_base::read_only | asio_uring::file_base::direct
                                 : asio_uring::file_base::read_only, ec);
    if (direct && ec == boost::system::error_code(EINVAL, boost::system::system_category()))
    {
      BOOST_TEST_MESSAGE("file system without O_DIRECT (tmpfs): skipped");
      continue;
    }
    BOOST_REQUIRE(!ec);
    void* mem = std::aligned_alloc(4096, 8192);
    std::vector<std::string> log;
    io_uring* ring = ctx.impl().get_ring().get();
    asio::post(ctx, [&] {
      f.async_read_some_at(4096, asio::buffer(mem, 4096), [&](error_code e, std::size_t n) {
        log.push_back("read " + std::to_string(n) + (e ? " " + e.message() : ""));
      });
      // Queued behind this handler in the same turn.
      asio::post(ctx, [&] { log.push_back("unsubmitted " + std::to_string(io_uring_sq_ready(ring))); });
    });
    ctx.run();
    BOOST_REQUIRE_EQUAL(log.size(), 2u);
    BOOST_TEST(log[0] == (direct ? "unsubmitted 0" : "unsubmitted 1"));
    BOOST_TEST(log[1] == "read 4096");
    std::free(mem);
  }
}

BOOST_AUTO_TEST_CASE(files_adopt_native_descriptors)
{
  temp_dir dir;
  asio_uring::io_context ctx;
  {
    asio_uring::stream_file w(ctx, ::open(dir.file("adopted").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    BOOST_REQUIRE(w.is_open());
    BOOST_TEST(w.write_some(asio::buffer("0123456789", 10)) == 10u);
  }
  {
    // An O_APPEND descriptor appends, whatever the stream's position.
    asio_uring::stream_file a(ctx, ::open(dir.file("adopted").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    const std::string tail = "abc";
    std::size_t n = 0;
    asio::async_write(a, asio::buffer(tail), [&](error_code ec, std::size_t k) { BOOST_TEST(!ec); n = k; });
    ctx.run();
    ctx.restart();
    BOOST_TEST(n == 3u);
  }
  asio_uring::random_access_file r(ctx, ::open(dir.file("adopted").c_str(), O_RDONLY | O_CLOEXEC));
  BOOST_REQUIRE(r.is_open());
  char got[13] = {};
  std::size_t n = 0;
  asio::async_read_at(r, 0, asio::buffer(got), [&](error_code ec, std::size_t k) { BOOST_TEST(!ec); n = k; });
  ctx.run();
  BOOST_TEST(n == 13u);
  BOOST_TEST(std::string(got, 13) == "0123456789abc");
}

BOOST_AUTO_TEST_CASE(registered_buffers_for_file_io)
{
  temp_dir dir;
  asio_uring::io_context ctx;
  std::vector<char> out(64 * 1024), in(64 * 1024);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(i * 13);
  asio_uring::registered_buffers regs(ctx, {asio::buffer(out), asio::buffer(in)});
  BOOST_TEST(regs.size() == 2u);
  // A second registration on the same ring is refused, with the reason.
  BOOST_CHECK_EXCEPTION(asio_uring::registered_buffers(ctx, {asio::buffer(in)}), boost::system::system_error,
      [](const boost::system::system_error& e) { return e.code().value() == EBUSY; });
  asio_uring::random_access_file f(ctx, dir.file("fixed"),
      asio_uring::file_base::read_write | asio_uring::file_base::create);
  std::size_t wrote = 0, read = 0, tail = 0;
  f.async_write_some_at(0, regs[0], [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    wrote = n;
    f.async_read_some_at(0, regs[1], [&](error_code ec, std::size_t n) {
      BOOST_TEST(!ec);
      read = n;
      f.async_read_some_at(1000, regs[1].slice(0, 24), [&](error_code ec, std::size_t n) {
        BOOST_TEST(!ec);
        tail = n;
      });
    });
  });
  ctx.run();
  BOOST_TEST(wrote == out.size());
  BOOST_TEST(read == in.size());
  BOOST_TEST(tail == 24u);
  BOOST_TEST(std::memcmp(in.data(), out.data() + 1000, 24) == 0);
  BOOST_TEST(std::memcmp(in.data() + 24, out.data() + 24, in.size() - 24) == 0);
}

BOOST_AUTO_TEST_CASE(pipe_round_trip_eof_and_cancel)
{
  asio_uring::io_context ctx;
  asio_uring::readable_pipe r(ctx);
  asio_uring::writable_pipe w(ctx);
  asio_uring::connect_pipe(r, w);
  std::string got(11, '\0');
  const std::string message = "hello pipes";  // must outlive the write
  asio::async_write(w, asio::buffer(message), [](error_code ec, std::size_t) { BOOST_TEST(!ec); });
  asio::async_read(r, asio::buffer(got), [](error_code ec, std::size_t) { BOOST_TEST(!ec); });
  ctx.run();
  BOOST_TEST(got == "hello pipes");

  ctx.restart();
  char c;
  error_code cancelled;
  r.async_read_some(asio::buffer(&c, 1), [&](error_code ec, std::size_t) { cancelled = ec; });
  asio::post(ctx, [&] { r.cancel(); });
  ctx.run();
  BOOST_TEST(cancelled == asio::error::operation_aborted);

  ctx.restart();
  error_code end;
  r.async_read_some(asio::buffer(&c, 1), [&](error_code ec, std::size_t) { end = ec; });
  asio::post(ctx, [&] { w.close(); });
  ctx.run();
  BOOST_TEST(end == asio::error::eof);
}

BOOST_AUTO_TEST_CASE(stream_descriptor_on_eventfd)
{
  asio_uring::io_context ctx;
  asio_uring::posix::stream_descriptor d(ctx, ::eventfd(0, EFD_CLOEXEC));
  std::uint64_t value = 0;
  bool readable = false;
  d.async_wait(asio::posix::descriptor_base::wait_read, [&](error_code ec) {
    readable = !ec;
    d.async_read_some(asio::buffer(&value, sizeof value), [](error_code ec, std::size_t n) {
      BOOST_TEST(!ec);
      BOOST_TEST(n == 8u);
    });
  });
  asio::post(ctx, [&] {
    std::uint64_t seven = 7;
    d.write_some(asio::buffer(&seven, sizeof seven));
  });
  ctx.run();
  BOOST_TEST(readable);
  BOOST_TEST(value == 7u);
}

// A program written against the Networking TS names only.
namespace ts_program {
namespace net = asio_uring::net;

std::string run()
{
  net::io_context ctx;
  net::ip::tcp::acceptor acceptor(ctx, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  net::ip::tcp::socket server(ctx), client(ctx);
  auto guard = net::make_work_guard(ctx);
  std::string reply(4, '\0');
  acceptor.async_accept(server, [&](std::error_code ec) {
    if (ec) return;
    net::async_write(server, net::buffer("pong", 4), [&](std::error_code, std::size_t) {});
  });
  client.async_connect(acceptor.local_endpoint(), [&](std::error_code ec) {
    if (ec) return;
    net::async_read(client, net::buffer(reply), [&](std::error_code, std::size_t) { guard.reset(); });
  });
  net::steady_timer t(ctx, std::chrono::milliseconds(1));
  std::future<void> done = t.async_wait(net::use_future);
  net::post(ctx, [] {});
  ctx.run();
  done.get();
  return reply;
}

} // namespace ts_program

BOOST_AUTO_TEST_CASE(networking_ts_program)
{
  BOOST_TEST(ts_program::run() == "pong");
}
