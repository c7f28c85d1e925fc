// TCP, UDP and local sockets on the ring: exact bytes, exact error codes,
// cancellation, and every completion token.
#define BOOST_TEST_MODULE socket
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/promise.hpp>
#include <boost/asio/experimental/use_promise.hpp>

#include <algorithm>
#include <csignal>
#include <future>
#include <memory>
#include <numeric>
#include <thread>

#include "support.hpp"

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

using test_support::pattern;
using test_support::tcp_pair;

BOOST_AUTO_TEST_CASE(async_accept_connect_read_write_exact_bytes)
{
  asio_uring::io_context ctx;
  tcp::acceptor acceptor(ctx, {net::ip::address_v4::loopback(), 0});
  tcp::socket server(ctx), client(ctx);
  std::vector<std::string> log;
  std::string received(5, '\0');
  acceptor.async_accept(server, [&](error_code ec) {
    log.push_back("accept " + ec.message());
    net::async_read(server, net::buffer(received), [&](error_code ec, std::size_t n) {
      log.push_back("read " + std::to_string(n) + " " + ec.message());
    });
  });
  client.async_connect(acceptor.local_endpoint(), [&](error_code ec) {
    log.push_back("connect " + ec.message());
    net::async_write(client, net::buffer("hello", 5), [&](error_code ec, std::size_t n) {
      log.push_back("write " + std::to_string(n) + " " + ec.message());
    });
  });
  ctx.run();
  BOOST_TEST(received == "hello");
  BOOST_TEST(log.size() == 4u);
  BOOST_TEST((std::count(log.begin(), log.end(), "read 5 Success") == 1));
  BOOST_TEST((std::count(log.begin(), log.end(), "write 5 Success") == 1));
  BOOST_TEST(server.remote_endpoint() == client.local_endpoint());
}

BOOST_AUTO_TEST_CASE(coroutine_echo_and_eof)
{
  asio_uring::io_context ctx;
  tcp::acceptor acceptor(ctx, {net::ip::address_v4::loopback(), 0});
  auto port = acceptor.local_endpoint().port();
  std::string echoed;
  error_code server_end;
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    tcp::socket s = co_await acceptor.async_accept(net::use_awaitable);
    char buf[1024];
    for (;;)
    {
      auto [ec, n] = co_await s.async_read_some(net::buffer(buf), net::as_tuple(net::use_awaitable));
      if (ec)
      {
        server_end = ec;
        break;
      }
      co_await net::async_write(s, net::buffer(buf, n), net::use_awaitable);
    }
  }, net::detached);
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    tcp::socket c(co_await net::this_coro::executor);
    co_await c.async_connect({net::ip::address_v4::loopback(), port}, net::use_awaitable);
    std::string msg = pattern(100000);
    co_await net::async_write(c, net::buffer(msg), net::use_awaitable);
    echoed.resize(msg.size());
    co_await net::async_read(c, net::buffer(echoed), net::use_awaitable);
    c.shutdown(tcp::socket::shutdown_send);
    char extra;
    auto [ec, n] = co_await c.async_read_some(net::buffer(&extra, 1), net::as_tuple(net::use_awaitable));
    BOOST_TEST(ec == net::error::eof);
    BOOST_TEST(n == 0u);
  }, net::detached);
  ctx.run();
  BOOST_TEST(echoed == pattern(100000));
  BOOST_TEST(server_end == net::error::eof);
}

BOOST_AUTO_TEST_CASE(zero_length_buffer_completes_at_once_with_zero)
{
  asio_uring::io_context ctx;
  tcp_pair p(ctx);
  bool inside = true;
  error_code result = net::error::would_block;
  std::size_t bytes = 99;
  p.server.async_read_some(net::mutable_buffer(), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!inside);
    result = ec;
    bytes = n;
  });
  inside = false;
  ctx.run();
  BOOST_TEST(!result);
  BOOST_TEST(bytes == 0u);
}

BOOST_AUTO_TEST_CASE(connection_refused)
{
  asio_uring::io_context ctx;
  tcp::endpoint dead;
  {
    tcp::acceptor a(ctx, {net::ip::address_v4::loopback(), 0});
    dead = a.local_endpoint();
  }
  tcp::socket s(ctx);
  error_code result;
  s.async_connect(dead, [&](error_code ec) { result = ec; });
  ctx.run();
  BOOST_TEST(result == net::error::connection_refused);
}

BOOST_AUTO_TEST_CASE(peer_reset_and_broken_pipe_without_sigpipe)
{
  asio_uring::io_context ctx;
  // A SIGPIPE would kill the test: make sure none is raised at all.
  struct sigaction old_action, count_action{};
  static int sigpipes = 0;
  count_action.sa_handler = [](int) { ++sigpipes; };
  ::sigaction(SIGPIPE, &count_action, &old_action);

  tcp_pair p(ctx);
  // Closing with unread data sends RST.
  p.server.send(net::buffer("x", 1));
  ::linger lg{1, 0};
  ::setsockopt(p.client.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  std::this_thread::sleep_for(10ms);
  p.client.close();
  std::this_thread::sleep_for(10ms);
  error_code read_ec, write_ec;
  char buf[16];
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) { read_ec = ec; });
  ctx.run();
  BOOST_TEST(read_ec == net::error::connection_reset);

  ctx.restart();
  std::string big(1 << 20, 'z');
  net::async_write(p.server, net::buffer(big), [&](error_code ec, std::size_t) { write_ec = ec; });
  ctx.run();
  BOOST_TEST((write_ec == net::error::broken_pipe || write_ec == net::error::connection_reset));
  BOOST_TEST(sigpipes == 0);
  ::sigaction(SIGPIPE, &old_action, nullptr);
}

BOOST_AUTO_TEST_CASE(cancel_close_and_slot_abort_pending_operations)
{
  asio_uring::io_context ctx;
  tcp_pair p(ctx);
  char buf[16];
  error_code r1, r2, r3, r4;
  int calls = 0;
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) { r1 = ec; ++calls; });
  net::post(ctx, [&] { p.server.cancel(); });
  ctx.run();
  BOOST_TEST(r1 == net::error::operation_aborted);

  // The socket is usable after a cancelled read.
  ctx.restart();
  std::size_t got = 0;
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) { r2 = ec; got = n; ++calls; });
  p.client.send(net::buffer("abc", 3));
  ctx.run();
  BOOST_TEST(!r2);
  BOOST_TEST(got == 3u);
  BOOST_TEST(std::string(buf, 3) == "abc");

  // Per-operation cancellation, each type.
  for (auto type : {net::cancellation_type::terminal, net::cancellation_type::partial,
           net::cancellation_type::total})
  {
    ctx.restart();
    net::cancellation_signal sig;
    p.server.async_read_some(net::buffer(buf),
        net::bind_cancellation_slot(sig.slot(), [&](error_code ec, std::size_t) { r3 = ec; ++calls; }));
    net::post(ctx, [&] { sig.emit(type); });
    ctx.run();
    BOOST_TEST(r3 == net::error::operation_aborted);
  }

  // close() aborts a pending accept and a pending read.
  ctx.restart();
  tcp::socket never(ctx);
  p.acceptor.async_accept(never, [&](error_code ec) { r4 = ec; ++calls; });
  error_code r5;
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) { r5 = ec; ++calls; });
  net::post(ctx, [&] {
    p.acceptor.close();
    p.server.close();
  });
  ctx.run();
  BOOST_TEST(r4 == net::error::operation_aborted);
  BOOST_TEST(r5 == net::error::operation_aborted);
  BOOST_TEST(calls == 7);
  BOOST_TEST(!never.is_open());
}

BOOST_AUTO_TEST_CASE(cancel_racing_completion_calls_once)
{
  asio_uring::io_context ctx;
  tcp_pair p(ctx);
  for (int round = 0; round < 200; ++round)
  {
    ctx.restart();
    char buf[4];
    int calls = 0;
    p.server.async_read_some(net::buffer(buf), [&](error_code, std::size_t) { ++calls; });
    p.client.send(net::buffer("ping", 4));
    if (round % 2) std::this_thread::sleep_for(std::chrono::microseconds(20));
    p.server.cancel();
    ctx.run();
    BOOST_TEST(calls == 1);
    // Drain whatever the cancelled read did not take.
    while (p.server.available() > 0) p.server.read_some(net::buffer(buf));
  }
}

BOOST_AUTO_TEST_CASE(write_64_mib_completes_whole)
{
  asio_uring::io_context ctx;
  tcp_pair p(ctx);
  const std::size_t size = 64u << 20;
  std::vector<char> out(size), in(size);
  std::iota(out.begin(), out.end(), 0);
  std::size_t written = 0, read = 0;
  net::async_write(p.client, net::buffer(out), [&](error_code ec, std::size_t n) { BOOST_TEST(!ec); written = n; });
  net::async_read(p.server, net::buffer(in), [&](error_code ec, std::size_t n) { BOOST_TEST(!ec); read = n; });
  ctx.run();
  BOOST_TEST(written == size);
  BOOST_TEST(read == size);
  BOOST_TEST((in == out));
}

BOOST_AUTO_TEST_CASE(write_some_may_be_short)
{
  asio_uring::io_context ctx;
  tcp_pair p(ctx);
  p.client.set_option(net::socket_base::send_buffer_size(4096));
  std::string big(8 << 20, 'q');
  std::size_t n = 0;
  p.client.async_write_some(net::buffer(big), [&](error_code ec, std::size_t k) { BOOST_TEST(!ec); n = k; });
  ctx.run();
  BOOST_TEST(n > 0u);
  BOOST_TEST(n < big.size());
}

BOOST_AUTO_TEST_CASE(read_until_streambuf_and_dynamic_buffer)
{
  asio_uring::io_context ctx;
  tcp_pair p(ctx);
  p.client.send(net::buffer(std::string("line one\r\nline two\r\n")));
  net::streambuf sb;
  std::string line1;
  std::string dyn;
  std::size_t n2 = 0;
  net::async_read_until(p.server, sb, "\r\n", [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    line1.assign(net::buffers_begin(sb.data()), net::buffers_begin(sb.data()) + n);
    sb.consume(n);
    // The rest is already in the streambuf; a dynamic_buffer read gets more.
    p.client.send(net::buffer(std::string("three\n")));
    net::async_read_until(p.server, net::dynamic_buffer(dyn), '\n', [&](error_code ec, std::size_t n) {
      BOOST_TEST(!ec);
      n2 = n;
    });
  });
  ctx.run();
  BOOST_TEST(line1 == "line one\r\n");
  BOOST_TEST(n2 > 0u);
  BOOST_TEST(dyn.find("three\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_completion_token)
{
  asio_uring::io_context ctx;
  tcp_pair p(ctx);
  char buf[8];
  auto strand = net::make_strand(ctx);
  std::vector<std::string> seen;

  p.client.send(net::buffer("12345678", 8));
  std::future<std::size_t> fut = p.server.async_read_some(net::buffer(buf, 1), net::use_future);
  auto def = p.server.async_read_some(net::buffer(buf + 1, 1), net::deferred);
  std::move(def)([&](error_code ec, std::size_t n) { if (!ec && n == 1) seen.push_back("deferred"); });
  p.server.async_read_some(net::buffer(buf + 2, 1), net::as_tuple([&](std::tuple<error_code, std::size_t> t) {
    if (!std::get<0>(t)) seen.push_back("as_tuple");
  }));
  error_code redirected = net::error::would_block;
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    std::size_t n = co_await p.server.async_read_some(net::buffer(buf + 3, 1),
        net::redirect_error(net::use_awaitable, redirected));
    if (n == 1) seen.push_back("redirect_error");
  }, net::detached);
  auto promise = p.server.async_read_some(net::buffer(buf + 4, 1), net::experimental::use_promise);
  promise([&](error_code ec, std::size_t n) { if (!ec && n == 1) seen.push_back("use_promise"); });
  p.server.async_read_some(net::buffer(buf + 5, 1), net::bind_executor(strand, [&](error_code ec, std::size_t) {
    if (!ec && strand.running_in_this_thread()) seen.push_back("strand");
  }));
  std::thread runner([&] { ctx.run(); });
  BOOST_TEST(fut.get() == 1u);
  runner.join();
  BOOST_TEST(!redirected);
  std::sort(seen.begin(), seen.end());
  BOOST_TEST((seen == std::vector<std::string>{"as_tuple", "deferred", "redirect_error", "strand", "use_promise"}));
  // Reads complete in the order they reached the kernel; the coroutine's
  // starts last (co_spawn posts its first step).
  BOOST_TEST(std::string(buf, 3) == "123");
  std::string rest(buf + 3, 3);
  std::sort(rest.begin(), rest.end());
  BOOST_TEST(rest == "456");
}

BOOST_AUTO_TEST_CASE(invalid_descriptor_and_closed_socket_errors)
{
  asio_uring::io_context ctx;
  tcp::socket s(ctx);
  char buf[4];
  error_code r1, r2;
  s.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) { r1 = ec; });
  s.async_write_some(net::buffer(buf), [&](error_code ec, std::size_t) { r2 = ec; });
  ctx.run();
  BOOST_TEST(r1 == net::error::bad_descriptor);
  BOOST_TEST(r2 == net::error::bad_descriptor);
  error_code ec;
  s.cancel(ec);
  BOOST_TEST(ec == net::error::bad_descriptor);
  BOOST_CHECK_THROW(s.remote_endpoint(), boost::system::system_error);
}

BOOST_AUTO_TEST_CASE(move_accept_on_another_executor_and_peer_endpoint)
{
  asio_uring::io_context ctx, other;
  tcp::acceptor acceptor(ctx, {net::ip::address_v4::loopback(), 0});
  tcp::endpoint peer;
  tcp::socket accepted(ctx);
  bool on_other = false;
  acceptor.async_accept(other.get_executor(), [&](error_code ec, tcp::socket s) {
    BOOST_TEST(!ec);
    on_other = s.get_executor() == net::any_io_executor(other.get_executor());
    accepted = tcp::socket(std::move(s));
  });
  tcp::socket c(ctx);
  c.connect(acceptor.local_endpoint());
  ctx.run();
  BOOST_TEST(on_other);
  BOOST_TEST(accepted.is_open());

  ctx.restart();
  tcp::socket c2(ctx);
  tcp::socket into(ctx);
  acceptor.async_accept(into, peer, [&](error_code ec) { BOOST_TEST(!ec); });
  c2.connect(acceptor.local_endpoint());
  ctx.run();
  BOOST_TEST(peer == c2.local_endpoint());
}

BOOST_AUTO_TEST_CASE(socket_members)
{
  asio_uring::io_context ctx;
  tcp_pair p(ctx);
  p.client.set_option(tcp::no_delay(true));
  tcp::no_delay nd;
  p.client.get_option(nd);
  BOOST_TEST(nd.value());
  p.client.send(net::buffer("abcd", 4));
  std::this_thread::sleep_for(5ms);
  BOOST_TEST(p.server.available() == 4u);
  net::socket_base::bytes_readable cmd;
  p.server.io_control(cmd);
  BOOST_TEST(cmd.get() == 4u);
  BOOST_TEST(!p.server.non_blocking());
  p.server.non_blocking(true);
  char buf[8];
  BOOST_TEST(p.server.read_some(net::buffer(buf)) == 4u);
  error_code ec;
  p.server.read_some(net::buffer(buf), ec);
  BOOST_TEST(ec == net::error::would_block);
  // Asynchronous operations still wait on a non-blocking socket.
  std::size_t n = 0;
  p.server.async_read_some(net::buffer(buf), [&](error_code e, std::size_t k) { BOOST_TEST(!e); n = k; });
  net::post(ctx, [&] { p.client.send(net::buffer("xy", 2)); });
  ctx.run();
  BOOST_TEST(n == 2u);

  ctx.restart();
  bool writable = false;
  p.client.async_wait(tcp::socket::wait_write, [&](error_code e) { writable = !e; });
  ctx.run();
  BOOST_TEST(writable);
  int fd = p.client.release();
  BOOST_TEST(!p.client.is_open());
  ::close(fd);
}

BOOST_AUTO_TEST_CASE(udp_send_to_receive_from)
{
  asio_uring::io_context ctx;
  asio_uring::ip::udp::socket a(ctx, {net::ip::address_v4::loopback(), 0});
  asio_uring::ip::udp::socket b(ctx, {net::ip::address_v4::loopback(), 0});
  char buf[64];
  asio_uring::ip::udp::endpoint from;
  std::size_t got = 0;
  b.async_receive_from(net::buffer(buf), from, [&](error_code ec, std::size_t n) { BOOST_TEST(!ec); got = n; });
  a.async_send_to(net::buffer("datagram", 8), b.local_endpoint(), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    BOOST_TEST(n == 8u);
  });
  ctx.run();
  BOOST_TEST(got == 8u);
  BOOST_TEST(std::string(buf, 8) == "datagram");
  BOOST_TEST(from == a.local_endpoint());
}

BOOST_AUTO_TEST_CASE(local_stream_sockets)
{
  asio_uring::io_context ctx;
  std::string path = "/tmp/asio_uring_test_" + std::to_string(::getpid());
  ::unlink(path.c_str());
  asio_uring::local::stream_protocol::acceptor acceptor(ctx, asio_uring::local::stream_protocol::endpoint(path));
  asio_uring::local::stream_protocol::socket server(ctx), client(ctx);
  std::string got(4, '\0');
  acceptor.async_accept(server, [&](error_code ec) {
    BOOST_TEST(!ec);
    net::async_read(server, net::buffer(got), [&](error_code ec, std::size_t) { BOOST_TEST(!ec); });
  });
  client.async_connect(asio_uring::local::stream_protocol::endpoint(path), [&](error_code ec) {
    BOOST_TEST(!ec);
    net::async_write(client, net::buffer("unix", 4), [](error_code, std::size_t) {});
  });
  ctx.run();
  BOOST_TEST(got == "unix");
  ::unlink(path.c_str());
}

BOOST_AUTO_TEST_CASE(resolver_and_connect_over_results)
{
  asio_uring::io_context ctx;
  tcp::acceptor acceptor(ctx, {net::ip::address_v4::loopback(), 0});
  tcp::resolver resolver(ctx);
  tcp::socket s(ctx);
  tcp::endpoint connected;
  bool resolved_on_loop = false;
  resolver.async_resolve("127.0.0.1", std::to_string(acceptor.local_endpoint().port()),
      [&](error_code ec, tcp::resolver::results_type results) {
        BOOST_TEST(!ec);
        resolved_on_loop = ctx.get_executor().running_in_this_thread();
        asio_uring::async_connect(s, results, [&](error_code ec, const tcp::endpoint& ep) {
          BOOST_TEST(!ec);
          connected = ep;
        });
      });
  tcp::socket peer(ctx);
  acceptor.async_accept(peer, [](error_code) {});
  ctx.run();
  BOOST_TEST(resolved_on_loop);
  BOOST_TEST(connected == acceptor.local_endpoint());
}

BOOST_AUTO_TEST_CASE(pending_operations_destroyed_with_context)
{
  auto alive = std::make_shared<int>(0);
  {
    asio_uring::io_context ctx;
    tcp::acceptor acceptor(ctx, {net::ip::address_v4::loopback(), 0});
    auto sock = std::make_shared<tcp::socket>(ctx);
    acceptor.async_accept(*sock, [alive, sock](error_code) {});
    char buf[4];
    tcp::socket c(ctx);
    c.connect(acceptor.local_endpoint());
    ctx.poll();
    c.async_read_some(net::buffer(buf), [alive](error_code, std::size_t) {});
    ctx.poll();
    BOOST_TEST(alive.use_count() >= 2);
  }
  BOOST_TEST(alive.use_count() == 1);
}

namespace {

// Counts what operations allocate through a handler's own allocator.
struct alloc_counts
{
  int allocs = 0;
  int frees = 0;
};

template <typename T>
struct counting_allocator
{
  using value_type = T;
  alloc_counts* counts;
  explicit counting_allocator(alloc_counts* c) noexcept : counts(c) {}
  template <typename U>
  counting_allocator(const counting_allocator<U>& o) noexcept : counts(o.counts) {}
  T* allocate(std::size_t n)
  {
    ++counts->allocs;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept
  {
    ++counts->frees;
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const counting_allocator<U>& o) const noexcept { return counts == o.counts; }
  template <typename U>
  bool operator!=(const counting_allocator<U>& o) const noexcept { return counts != o.counts; }
};

} // namespace

// Operations allocate through the handler's associated allocator when it
// has one (the default one is the library's per-thread cache): one
// allocation per operation, each freed, on the single-shot read and on the
// multishot reads that follow it.
BOOST_AUTO_TEST_CASE(operations_allocate_through_the_handlers_allocator)
{
  asio_uring::io_context ctx(1);
  tcp_pair p(ctx);
  alloc_counts counts;
  std::vector<std::string> log;
  for (int round = 0; round < 4; ++round)
  {
    std::string got(5, '\0');
    net::async_write(p.client, net::buffer("hello", 5),
        net::bind_allocator(counting_allocator<void>(&counts), [&](error_code ec, std::size_t n) {
          log.push_back("write " + std::to_string(n) + " " + ec.message());
        }));
    p.server.async_read_some(net::buffer(got),
        net::bind_allocator(counting_allocator<void>(&counts), [&](error_code ec, std::size_t n) {
          log.push_back("read " + std::to_string(n) + " " + ec.message() + " " + got.substr(0, n));
        }));
    BOOST_TEST(ctx.run() == 2u);
    ctx.restart();
  }
  BOOST_TEST(counts.allocs == 8);
  BOOST_TEST(counts.frees == 8);
  const std::string ok = error_code().message();
  std::vector<std::string> want;
  for (int round = 0; round < 4; ++round)
  {
    want.push_back("write 5 " + ok);
    want.push_back("read 5 " + ok + " hello");
  }
  std::sort(log.begin(), log.end());
  std::sort(want.begin(), want.end());
  BOOST_TEST(log == want, boost::test_tools::per_element());
}

// A handler passed as an lvalue is copied, as Asio does: the caller's object
// keeps its state (the initiation moves only from Asio's own temporary).
BOOST_AUTO_TEST_CASE(lvalue_handlers_are_copied_not_moved_from)
{
  asio_uring::io_context ctx(1);
  tcp_pair p(ctx);
  auto keep = std::make_shared<int>(7);
  std::vector<std::string> log;
  std::string got(3, '\0');
  auto on_read = [keep, &log, &got](error_code ec, std::size_t n) {
    log.push_back("read " + std::to_string(n) + " " + ec.message() + " " + got.substr(0, n) + " "
        + std::to_string(*keep));
  };
  auto on_write = [keep, &log](error_code ec, std::size_t n) {
    log.push_back("write " + std::to_string(n) + " " + ec.message() + " " + std::to_string(*keep));
  };
  for (int round = 0; round < 3; ++round)
  {
    p.server.async_read_some(net::buffer(got), on_read);
    p.client.async_write_some(net::buffer("abc", 3), on_write);
    // keep, on_read, on_write, and the copy in each pending operation.
    BOOST_TEST(keep.use_count() == 5);
    BOOST_TEST(ctx.run() == 2u);
    ctx.restart();
    BOOST_TEST(keep.use_count() == 3);
  }
  on_read(error_code(), 0);
  on_write(error_code(), 0);
  const std::string ok = error_code().message();
  std::vector<std::string> want;
  for (int round = 0; round < 3; ++round)
  {
    want.push_back("write 3 " + ok + " 7");
    want.push_back("read 3 " + ok + " abc 7");
  }
  std::sort(log.begin(), log.end() - 2);
  std::sort(want.begin(), want.end());
  want.push_back("read 0 " + ok + "  7");
  want.push_back("write 0 " + ok + " 7");
  BOOST_TEST(log == want, boost::test_tools::per_element());
}
