// Multishot receive into the provided buffer ring (basic_stream_socket) and
// async_receive_provided: exact bytes, the end of the stream after the data,
// buffer exhaustion, available(), synchronous reads, cancel, close, move,
// composed reads; the same results on the single-shot path (the _emulated
// twin, and -multishot_recv on the kernel ring).
#define BOOST_TEST_MODULE multishot_recv
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <atomic>
#include <thread>

#include <sys/wait.h>

#include "support.hpp"

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

// Named, not anonymous: the data test cases are templates.
namespace msr_test {

using test_support::multishot_active;
using test_support::reader;
using test_support::run_until;
using test_support::settle;
using test_support::shifting_pattern;
using test_support::stats;
using test_support::tcp_pair;

asio_uring::io_context_options opts(bool multishot, unsigned buffers = 1024, unsigned size = 4096)
{
  asio_uring::io_context_options o;
  o.multishot_recv = multishot;
  o.recv_buffers = buffers;
  o.recv_buffer_size = size;
  return o;
}

unsigned free_buffers(asio_uring::io_context& ctx)
{
  asio_uring::detail::scheduler& s = ctx.impl();
  unsigned n = 0;
  s.with_loop([&] { n = s.recv_buffers().free_count(); });
  return n;
}

// Gets the server's reads to the multishot: two reads of the byte `c` (the
// first read of a socket is single-shot), each run to its end.
void two_reads(asio_uring::io_context& ctx, tcp_pair& p, char c, net::mutable_buffer b)
{
  for (int i = 0; i < 2; ++i)
  {
    net::write(p.client, net::buffer(&c, 1));
    p.server.async_read_some(b, [](error_code, std::size_t) {});
    ctx.restart();
    ctx.run();
  }
}

// Sends `data` from a thread in chunks, then shuts the sending side down.
std::thread sender(tcp::socket& c, const std::string& data, std::size_t chunk)
{
  return std::thread([&c, &data, chunk] {
    for (std::size_t off = 0; off < data.size();)
    {
      std::size_t n = std::min(chunk, data.size() - off);
      ssize_t k = ::send(c.native_handle(), data.data() + off, n, MSG_NOSIGNAL);
      if (k <= 0) return;
      off += static_cast<std::size_t>(k);
    }
    ::shutdown(c.native_handle(), SHUT_WR);
  });
}

// Many reads of many sizes (1 B to 64 KiB) across buffer boundaries, into
// buffer sequences; eof once after the data.
std::string read_all_sizes(const asio_uring::io_context_options& o, std::size_t total,
    asio_uring::detail::buffer_ring::counters* c = nullptr)
{
  asio_uring::io_context ctx(o);
  tcp_pair p(ctx);
  const std::string data = shifting_pattern(total);
  reader<tcp::socket> r{p.server, {1, 7, 100, 4095, 4096, 4097, 9000, 65536, 3, 16384}, false, {}, {}, 0, {}, 0};
  r.next();
  std::thread t = sender(p.client, data, 7777);
  ctx.run();
  t.join();
  BOOST_TEST(r.ends == 1);
  BOOST_TEST(r.end == net::error::eof);
  BOOST_TEST(r.got.size() == data.size());
  BOOST_TEST((r.got == data));
  if (c) *c = stats(ctx);
  return r.got;
}

} // namespace msr_test

using namespace msr_test;

BOOST_AUTO_TEST_CASE(many_sizes_exact_bytes_and_fallback_identical)
{
  asio_uring::detail::buffer_ring::counters c;
  std::string on = read_all_sizes(opts(true), 2 << 20, &c);
  std::string off = read_all_sizes(opts(false), 2 << 20);
  BOOST_TEST((on == off));
  BOOST_TEST_MESSAGE("multishot requests " << c.multishot_requests << ", single " << c.single_requests
      << ", nobufs " << c.nobufs);
}

BOOST_AUTO_TEST_CASE(small_buffers_many_boundaries)
{
  // 64-byte ring buffers: every large read spans many of them.
  read_all_sizes(opts(true, 64, 64), 300000);
  // A 2-buffer ring and a fast sender: the multishot runs out of buffers
  // (-ENOBUFS) or stops at the queue bound again and again; nothing is lost.
  asio_uring::detail::buffer_ring::counters c;
  read_all_sizes(opts(true, 2, 16), 100000, &c);
  BOOST_TEST_MESSAGE("2 x 16 B ring: multishot requests " << c.multishot_requests
      << ", single " << c.single_requests << ", nobufs " << c.nobufs);
}

BOOST_AUTO_TEST_CASE(k_reads_one_request)
{
  asio_uring::io_context ctx(opts(true));
  tcp_pair p(ctx);
  const int k = 200;
  int reads = 0;
  std::string got;
  char buf[64];
  std::function<void()> ping = [&] {
    net::write(p.client, net::buffer(std::to_string(reads % 10)));
    p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
      BOOST_TEST(!ec);
      got.append(buf, n);
      if (++reads < k) ping();
    });
  };
  ping();
  ctx.run();
  BOOST_TEST(reads == k);
  std::string want;
  for (int i = 0; i < k; ++i) want += std::to_string(i % 10);
  BOOST_TEST(got == want);
  auto c = stats(ctx);
  if (multishot_active(ctx))
  {
    // The first read is single-shot; the other 199 share one request.
    BOOST_TEST(c.multishot_requests == 1u);
    BOOST_TEST(c.single_requests == 0u);
  }
  else
    BOOST_TEST(c.multishot_requests == 0u);
}

BOOST_DATA_TEST_CASE(data_before_any_read_then_eof_once, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms));
  tcp_pair p(ctx);
  const std::string data = shifting_pattern(50000, 3);
  net::write(p.client, net::buffer(data));
  p.client.shutdown(tcp::socket::shutdown_send);
  std::string got;
  std::vector<std::string> log;
  char buf[1000];
  std::function<void()> rd = [&] {
    p.server.async_receive(net::buffer(buf), [&](error_code ec, std::size_t n) {
      got.append(buf, n);
      if (ec)
      {
        log.push_back(ec.message());
        if (log.size() < 2) rd();  // a read after eof: eof again
        return;
      }
      rd();
    });
  };
  rd();
  ctx.run();
  BOOST_TEST((got == data));
  BOOST_TEST(log.size() == 2u);
  BOOST_TEST(log[0] == error_code(net::error::eof).message());
  BOOST_TEST(log[1] == error_code(net::error::eof).message());
}

BOOST_DATA_TEST_CASE(reset_after_queued_data, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms));
  tcp_pair p(ctx);
  char buf[100];
  std::string got;
  // Two reads: the multishot is armed after the second.
  for (const char* m : {"one", "two"})
  {
    net::write(p.client, net::buffer(std::string(m)));
    std::size_t n = 0;
    p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t k) { BOOST_TEST(!ec); n = k; });
    ctx.restart();
    ctx.run();
    got.append(buf, n);
  }
  // Data, then a reset, while no read is pending.
  net::write(p.client, net::buffer("tail", 4));
  settle(ctx);  // the multishot queues "tail", then sees the reset
  p.client.set_option(net::socket_base::linger(true, 0));
  p.client.close();
  settle(ctx);
  std::vector<std::string> log;
  std::function<void()> rd = [&] {
    p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
      got.append(buf, n);
      if (ec)
      {
        log.push_back(ec == net::error::connection_reset ? "reset" : ec.message());
        return;
      }
      rd();
    });
  };
  rd();
  ctx.restart();
  ctx.run();
  BOOST_TEST(got == "onetwotail");
  BOOST_TEST(log.size() == 1u);
  BOOST_TEST(log.at(0) == "reset");
}

// Every buffer of a 2-buffer ring held by provided_buffer handles of another
// socket: the transparent multishot ends with -ENOBUFS, the reader falls back
// to single-shot reads and loses nothing; the explicit API reports
// no_buffer_space.
BOOST_AUTO_TEST_CASE(enobufs_falls_back_and_loses_nothing)
{
  asio_uring::io_context ctx(opts(true, 2, 16));
  tcp_pair a(ctx);
  tcp_pair b(ctx);
  std::vector<asio_uring::provided_buffer> held;
  net::write(a.client, net::buffer(shifting_pattern(40)));
  std::function<void()> take = [&] {
    a.server.async_receive_provided([&](error_code ec, asio_uring::provided_buffer pb) {
      BOOST_TEST(!ec);
      held.push_back(std::move(pb));
      if (held.size() < 2) take();
    });
  };
  take();
  run_until(ctx, [&] { return held.size() == 2; });
  BOOST_REQUIRE(held.size() == 2u);
  BOOST_TEST(held[0].size() == 16u);
  BOOST_TEST(held[1].size() == 16u);
  BOOST_TEST(free_buffers(ctx) == 0u);

  // The explicit API with no buffer left: no_buffer_space (8 bytes wait in
  // the kernel's socket buffer for the next receive).
  error_code exhausted;
  a.server.async_receive_provided([&](error_code ec, asio_uring::provided_buffer pb) {
    exhausted = ec;
    BOOST_TEST(!pb);
  });
  run_until(ctx, [&] { return !!exhausted; });
  BOOST_TEST(exhausted == net::error::no_buffer_space);

  // The transparent reader on b with a fast sender.
  const std::string data = shifting_pattern(200000, 5);
  reader<tcp::socket> r{b.server, {1, 50, 1000, 17}, false, {}, {}, 0, {}, 0};
  r.next();
  std::thread t = sender(b.client, data, 3000);
  run_until(ctx, [&] { return r.ends > 0; });
  t.join();
  BOOST_TEST(r.end == net::error::eof);
  BOOST_TEST((r.got == data));
  if (multishot_active(ctx))
  {
    BOOST_TEST(stats(ctx).nobufs >= 1u);
    BOOST_TEST(stats(ctx).single_requests >= 1u);
  }

  // Buffers come back when the handles go: the explicit API works again.
  held.clear();
  BOOST_TEST(free_buffers(ctx) == 2u);
  std::string rest;
  error_code ec2;
  a.server.async_receive_provided([&](error_code ec, asio_uring::provided_buffer pb) {
    ec2 = ec;
    if (pb) rest.assign(pb.data(), pb.size());
  });
  run_until(ctx, [&] { return !rest.empty() || ec2; });
  BOOST_TEST(!ec2);
  BOOST_TEST(rest == shifting_pattern(40).substr(32));
}

BOOST_DATA_TEST_CASE(available_counts_queued_bytes_sync_read_drains_first,
    boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms));
  tcp_pair p(ctx);
  char buf[100];
  for (int i = 0; i < 3; ++i)
  {
    net::write(p.client, net::buffer("x", 1));
    p.server.async_read_some(net::buffer(buf), [](error_code ec, std::size_t n) {
      BOOST_TEST(!ec);
      BOOST_TEST(n == 1u);
    });
    ctx.restart();
    ctx.run();
  }
  net::write(p.client, net::buffer(shifting_pattern(100)));
  settle(ctx);  // with multishot the 100 bytes are now in a ring buffer
  BOOST_TEST(p.server.available() == 100u);
  // MSG_PEEK sees the queued bytes without taking them.
  char peek[10];
  BOOST_TEST(p.server.receive(net::buffer(peek), MSG_PEEK) == 10u);
  BOOST_TEST(std::string(peek, 10) == shifting_pattern(100).substr(0, 10));
  BOOST_TEST(p.server.available() == 100u);
  // Synchronous reads: the queue, then (multishot still armed) new data.
  BOOST_TEST(p.server.read_some(net::buffer(buf, 60)) == 60u);
  BOOST_TEST(std::string(buf, 60) == shifting_pattern(100).substr(0, 60));
  BOOST_TEST(p.server.available() == 40u);
  BOOST_TEST(p.server.read_some(net::buffer(buf)) == 40u);
  BOOST_TEST(std::string(buf, 40) == shifting_pattern(100).substr(60));
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    net::write(p.client, net::buffer("later", 5));
  });
  std::size_t n = p.server.read_some(net::buffer(buf));
  t.join();
  BOOST_TEST(std::string(buf, n) == "later");
  // Non-blocking mode with nothing anywhere: would_block.
  p.server.non_blocking(true);
  error_code ec;
  p.server.read_some(net::buffer(buf), ec);
  BOOST_TEST(ec == net::error::would_block);
  p.server.non_blocking(false);
  // Async reads go on after the synchronous ones.
  net::write(p.client, net::buffer("again", 5));
  std::string got;
  p.server.async_read_some(net::buffer(buf), [&](error_code e, std::size_t k) {
    BOOST_TEST(!e);
    got.assign(buf, k);
  });
  ctx.restart();
  ctx.run();
  BOOST_TEST(got == "again");
}

BOOST_DATA_TEST_CASE(cancel_aborts_the_read_and_keeps_data, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms));
  tcp_pair p(ctx);
  char buf[100];
  two_reads(ctx, p, 'y', net::buffer(buf));
  // Data queued, no read pending: cancel() keeps it.
  net::write(p.client, net::buffer("queued", 6));
  settle(ctx);
  p.server.cancel();
  std::string got;
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    got.assign(buf, n);
  });
  ctx.restart();
  ctx.run();
  BOOST_TEST(got == "queued");

  // A pending read: cancel() aborts it; the next read gets the next data.
  std::vector<std::string> log;
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
    log.push_back(ec == net::error::operation_aborted ? "aborted" : "other " + std::to_string(n));
  });
  ctx.restart();
  ctx.poll();
  p.server.cancel();
  ctx.restart();
  ctx.run();
  net::write(p.client, net::buffer("next", 4));
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
    log.push_back(ec ? ec.message() : std::string(buf, n));
  });
  ctx.restart();
  ctx.run();
  BOOST_TEST(log == (std::vector<std::string>{"aborted", "next"}), boost::test_tools::per_element());

  // Per-operation cancellation aborts that read only.
  net::cancellation_signal sig;
  p.server.async_read_some(net::buffer(buf), net::bind_cancellation_slot(sig.slot(),
      [&](error_code ec, std::size_t) { log.push_back(ec == net::error::operation_aborted ? "slot" : "x"); }));
  ctx.restart();
  ctx.poll();
  sig.emit(net::cancellation_type::terminal);
  ctx.restart();
  ctx.run();
  net::write(p.client, net::buffer("after", 5));
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
    log.push_back(ec ? ec.message() : std::string(buf, n));
  });
  ctx.restart();
  ctx.run();
  BOOST_TEST(log == (std::vector<std::string>{"aborted", "next", "slot", "after"}),
      boost::test_tools::per_element());
}

BOOST_DATA_TEST_CASE(close_with_queued_data_returns_buffers, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms, 4, 16));
  {
    tcp_pair p(ctx);
    char buf[100];
    two_reads(ctx, p, 'z', net::buffer(buf));
    net::write(p.client, net::buffer(shifting_pattern(64)));
    settle(ctx);
    if (ms && multishot_active(ctx)) BOOST_TEST(free_buffers(ctx) < 4u);
    p.server.close();
    settle(ctx);  // the cancelled multishot's last CQEs
  }
  BOOST_TEST(free_buffers(ctx) == 4u);
  // Every buffer is back: a new socket can hold all four.
  tcp_pair q(ctx);
  net::write(q.client, net::buffer(shifting_pattern(64, 9)));
  std::vector<asio_uring::provided_buffer> held;
  std::function<void()> take = [&] {
    q.server.async_receive_provided([&](error_code ec, asio_uring::provided_buffer pb) {
      BOOST_TEST(!ec);
      held.push_back(std::move(pb));
      if (held.size() < 4) take();
    });
  };
  take();
  run_until(ctx, [&] { return held.size() == 4; });
  BOOST_REQUIRE(held.size() == 4u);
  std::string got;
  for (auto& h : held) got.append(h.data(), h.size());
  BOOST_TEST(got == shifting_pattern(64, 9));
  BOOST_TEST(free_buffers(ctx) == 0u);
  held.clear();
  BOOST_TEST(free_buffers(ctx) == 4u);
}

BOOST_AUTO_TEST_CASE(close_aborts_pending_read_no_completion_after)
{
  asio_uring::io_context ctx(opts(true));
  tcp_pair p(ctx);
  char buf[10];
  two_reads(ctx, p, 'w', net::buffer(buf));
  std::vector<std::string> log;
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) {
    log.push_back(ec == net::error::operation_aborted ? "aborted" : ec.message());
  });
  ctx.restart();
  ctx.poll();
  p.server.close();
  net::write(p.client, net::buffer("late", 4));
  ctx.restart();
  ctx.run();
  BOOST_TEST(log == std::vector<std::string>{"aborted"}, boost::test_tools::per_element());
  BOOST_TEST(ctx.impl().in_flight() == 0u);
}

BOOST_DATA_TEST_CASE(move_with_queued_data, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms));
  tcp_pair p(ctx);
  char buf[100];
  two_reads(ctx, p, 'm', net::buffer(buf));
  net::write(p.client, net::buffer("moved data", 10));
  settle(ctx);
  tcp::socket moved(std::move(p.server));
  BOOST_TEST(moved.available() == 10u);
  std::string got;
  net::async_read(moved, net::buffer(buf, 10), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    got.assign(buf, n);
  });
  ctx.restart();
  ctx.run();
  BOOST_TEST(got == "moved data");
  tcp::socket assigned(ctx);
  assigned = std::move(moved);
  net::write(p.client, net::buffer("assigned", 8));
  net::async_read(assigned, net::buffer(buf, 8), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    got.assign(buf, n);
  });
  ctx.restart();
  ctx.run();
  BOOST_TEST(got == "assigned");
}

BOOST_DATA_TEST_CASE(release_refuses_while_data_is_queued, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms));
  tcp_pair p(ctx);
  char buf[100];
  two_reads(ctx, p, 'r', net::buffer(buf));
  net::write(p.client, net::buffer("keep", 4));
  settle(ctx);
  error_code ec;
  int fd = p.server.release(ec);
  if (multishot_active(ctx))
  {
    BOOST_TEST(ec == boost::system::errc::device_or_resource_busy);
    BOOST_TEST(fd == -1);
    BOOST_TEST(p.server.is_open());
    BOOST_TEST(p.server.read_some(net::buffer(buf)) == 4u);
    fd = p.server.release(ec);
  }
  BOOST_TEST(!ec);
  BOOST_REQUIRE(fd >= 0);
  BOOST_TEST(!p.server.is_open());
  net::write(p.client, net::buffer("raw", 3));
  char raw[8];
  ssize_t n = ::recv(fd, raw, sizeof raw, 0);
  if (!multishot_active(ctx)) BOOST_TEST(n == 7);  // "keep" stayed in the kernel
  else BOOST_TEST(n == 3);
  ::close(fd);
}

BOOST_DATA_TEST_CASE(composed_async_read_and_read_until, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms, 16, 100));
  tcp_pair p(ctx);
  std::string lines;
  for (int i = 0; i < 300; ++i) lines += "line " + std::to_string(i) + " " + shifting_pattern(i % 150, i) + "\n";
  const std::string block = shifting_pattern(100000, 1);
  const std::string all = lines + block;
  std::thread t = sender(p.client, all, 999);
  net::streambuf sb;
  std::vector<std::string> got;
  std::string tail;
  std::function<void()> rd = [&] {
    net::async_read_until(p.server, sb, '\n', [&](error_code ec, std::size_t n) {
      BOOST_TEST(!ec);
      std::string line(net::buffers_begin(sb.data()), net::buffers_begin(sb.data()) + n);
      sb.consume(n);
      got.push_back(line);
      if (got.size() < 300) { rd(); return; }
      std::size_t have = sb.size();
      tail.assign(net::buffers_begin(sb.data()), net::buffers_end(sb.data()));
      sb.consume(have);
      tail.resize(block.size());
      net::async_read(p.server, net::buffer(tail.data() + have, block.size() - have),
          [&](error_code e, std::size_t) { BOOST_TEST(!e); });
    });
  };
  rd();
  ctx.run();
  t.join();
  std::string joined;
  for (auto& l : got) joined += l;
  BOOST_TEST((joined == lines));
  BOOST_TEST((tail == block));
}

BOOST_DATA_TEST_CASE(provided_sizes_ownership_return, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms, 8, 16));
  tcp_pair p(ctx);
  // 10 bytes: one buffer of 10; 40 bytes: 16 + 16 + 8.
  net::write(p.client, net::buffer(shifting_pattern(10)));
  asio_uring::provided_buffer first;
  p.server.async_receive_provided([&](error_code ec, asio_uring::provided_buffer pb) {
    BOOST_TEST(!ec);
    first = std::move(pb);
  });
  ctx.run();
  BOOST_REQUIRE(!!first);
  BOOST_TEST(first.size() == 10u);
  BOOST_TEST(std::string(first.data(), first.size()) == shifting_pattern(10));
  BOOST_TEST(first.buffer().size() == 10u);
  BOOST_TEST(free_buffers(ctx) == 7u);

  net::write(p.client, net::buffer(shifting_pattern(40, 2)));
  std::string got;
  std::vector<std::size_t> sizes;
  std::function<void()> rd = [&] {
    p.server.async_receive_provided([&](error_code ec, asio_uring::provided_buffer pb) {
      BOOST_TEST(!ec);
      sizes.push_back(pb.size());
      got.append(pb.data(), pb.size());
      if (got.size() < 40) rd();
    });  // each handle is destroyed when its handler returns
  };
  rd();
  ctx.restart();
  ctx.run();
  BOOST_TEST(got == shifting_pattern(40, 2));
  BOOST_TEST(sizes.front() == 16u);
  BOOST_TEST(free_buffers(ctx) == 7u);

  // Moves keep one owner; reset() gives the buffer back; the handle may
  // outlive its socket.
  asio_uring::provided_buffer moved(std::move(first));
  BOOST_TEST(!first);
  BOOST_TEST(!!moved);
  p.server.close();
  BOOST_TEST(std::string(moved.data(), moved.size()) == shifting_pattern(10));
  moved.reset();
  BOOST_TEST(!moved);
  BOOST_TEST(moved.size() == 0u);
  BOOST_TEST(free_buffers(ctx) == 8u);

  // End of stream: eof and an empty handle.
  tcp_pair q(ctx);
  q.client.shutdown(tcp::socket::shutdown_send);
  error_code end;
  bool empty = false;
  q.server.async_receive_provided([&](error_code ec, asio_uring::provided_buffer pb) {
    end = ec;
    empty = !pb;
  });
  ctx.restart();
  ctx.run();
  BOOST_TEST(end == net::error::eof);
  BOOST_TEST(empty);
  BOOST_TEST(free_buffers(ctx) == 8u);
}

BOOST_AUTO_TEST_CASE(provided_and_copying_reads_share_the_queue)
{
  asio_uring::io_context ctx(opts(true, 8, 16));
  tcp_pair p(ctx);
  net::write(p.client, net::buffer(shifting_pattern(30)));
  std::string got;
  char buf[30];
  p.server.async_read_some(net::buffer(buf, 5), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    got.append(buf, n);
    p.server.async_receive_provided([&](error_code ec2, asio_uring::provided_buffer pb) {
      BOOST_TEST(!ec2);
      got.append(pb.data(), pb.size());
      net::async_read(p.server, net::buffer(buf, 30 - got.size()), [&](error_code e, std::size_t k) {
        BOOST_TEST(!e);
        got.append(buf, k);
      });
    });
  });
  ctx.run();
  BOOST_TEST(got == shifting_pattern(30));
}

BOOST_AUTO_TEST_CASE(fallback_via_feature_switch_has_no_multishot)
{
  asio_uring::io_context ctx(opts(false));
  tcp_pair p(ctx);
  char buf[8];
  for (int i = 0; i < 5; ++i)
  {
    net::write(p.client, net::buffer("f", 1));
    p.server.async_read_some(net::buffer(buf), [](error_code ec, std::size_t n) {
      BOOST_TEST(!ec);
      BOOST_TEST(n == 1u);
    });
    ctx.restart();
    ctx.run();
  }
  BOOST_TEST(!multishot_active(ctx));
  BOOST_TEST(stats(ctx).multishot_requests == 0u);
}

BOOST_AUTO_TEST_CASE(destroying_the_context_with_an_armed_multishot)
{
  auto ctx = std::make_unique<asio_uring::io_context>(opts(true));
  auto p = std::make_unique<tcp_pair>(*ctx);
  char buf[8];
  bool called = false;
  two_reads(*ctx, *p, 'd', net::buffer(buf));
  p->server.async_read_some(net::buffer(buf), [&](error_code, std::size_t) { called = true; });
  ctx->restart();
  ctx->poll();
  p.reset();  // sockets closed: the read is aborted, the state orphaned
  ctx->restart();
  ctx->run();
  BOOST_TEST(called);
  ctx.reset();
}

// A read waiting on the multishot across notify_fork: the parent's fork_prepare
// cancels the multishot; the child registers the buffers with its own ring
// and reads there; the parent's read goes on on its ring.
BOOST_AUTO_TEST_CASE(fork_child_registers_buffers_with_its_ring)
{
  asio_uring::io_context ctx(opts(true, 16, 64));
  tcp_pair p(ctx);
  char buf[64];
  two_reads(ctx, p, 'k', net::buffer(buf));
  std::string got;
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
    if (!ec) got.assign(buf, n);
  });
  ctx.restart();
  ctx.poll();
  const std::size_t armed_before = stats(ctx).multishot_requests;

  test_support::run_forked(ctx, 30, [&](int& status) {
    ctx.restart();
    net::write(p.client, net::buffer("child", 5));
    ctx.run();
    status = got == "child" ? 0 : 31;
    if (status == 0 && multishot_active(ctx) && stats(ctx).multishot_requests <= armed_before)
      status = 32;
    // The child's ring has the buffers: more reads through it.
    net::write(p.client, net::buffer("again", 5));
    std::string more;
    p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
      if (!ec) more.assign(buf, n);
    });
    ctx.restart();
    ctx.run();
    if (status == 0 && more != "again") status = 33;
  });

  net::write(p.client, net::buffer("parent", 6));
  ctx.restart();
  ctx.run();
  BOOST_TEST(got == "parent");
}

// Readiness waits see data the multishot queued, and data that arrives
// after (the multishot ends so that it stays in the kernel for poll).
BOOST_DATA_TEST_CASE(wait_read_sees_queued_and_new_data, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms));
  tcp_pair p(ctx);
  char buf[16];
  two_reads(ctx, p, 'v', net::buffer(buf));
  net::write(p.client, net::buffer("queued", 6));
  settle(ctx);
  std::vector<std::string> log;
  p.server.async_wait(tcp::socket::wait_read, [&](error_code ec) {
    log.push_back(ec ? ec.message() : "ready");
    log.push_back(std::string(buf, p.server.read_some(net::buffer(buf))));
  });
  ctx.restart();
  ctx.run();
  // Nothing queued now: the wait completes when new data arrives.
  p.server.async_wait(tcp::socket::wait_read, [&](error_code ec) {
    log.push_back(ec ? ec.message() : "ready");
    log.push_back(std::string(buf, p.server.read_some(net::buffer(buf))));
  });
  ctx.restart();
  ctx.poll();
  net::write(p.client, net::buffer("fresh", 5));
  ctx.restart();
  ctx.run();
  BOOST_TEST(log == (std::vector<std::string>{"ready", "queued", "ready", "fresh"}),
      boost::test_tools::per_element());
  // Async reads arm the multishot again.
  net::write(p.client, net::buffer("last", 4));
  std::string got;
  p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    got.assign(buf, n);
  });
  ctx.restart();
  ctx.run();
  BOOST_TEST(got == "last");
}

// A read that waits when the data comes (the multishot's direct delivery):
// one buffer that takes it all, one too small (the rest is queued for the
// next read), a sequence of two, a provided receive; the same bytes on the
// single-shot path, one multishot request for all of it, every buffer back.
BOOST_DATA_TEST_CASE(waiting_reads_of_every_shape, boost::unit_test::data::make({true, false}), ms)
{
  asio_uring::io_context ctx(opts(ms, 16, 4096));
  tcp_pair p(ctx);
  std::vector<std::string> got;
  std::array<char, 64> buf{};
  auto copy_read = [&](auto bufs, std::size_t want) {
    p.server.async_read_some(bufs, [&, want](error_code ec, std::size_t n) {
      BOOST_TEST(!ec);
      BOOST_TEST(n == want);
      got.emplace_back(buf.data(), n);
    });
  };
  auto step = [&](auto start, std::size_t send) {
    start();
    if (send > 0) net::write(p.client, net::buffer(shifting_pattern(send, got.size())));
    ctx.restart();
    BOOST_TEST(ctx.run() == 1u);
  };
  // The first read is single-shot; from the second on the multishot serves.
  // More reads than buffers: each buffer must be back in the kernel's ring.
  const std::size_t rounds = 40;
  for (std::size_t i = 0; i < rounds; ++i) step([&] { copy_read(net::buffer(buf), 64); }, 64);
  step([&] { copy_read(net::buffer(buf.data(), 10), 10); }, 64);
  step([&] { copy_read(net::buffer(buf), 54); }, 0);
  step([&] {
    copy_read(std::array<net::mutable_buffer, 2>{net::buffer(buf.data(), 5), net::buffer(buf.data() + 5, 59)}, 64);
  }, 64);
  std::string held;
  step([&] {
    p.server.async_receive_provided([&](error_code ec, asio_uring::provided_buffer pb) {
      BOOST_TEST(!ec);
      held.assign(pb.data(), pb.size());
      BOOST_TEST(free_buffers(ctx) == 15u);  // the handle holds one
    });
  }, 64);

  BOOST_REQUIRE(got.size() == rounds + 3);
  for (std::size_t i = 0; i < rounds; ++i) BOOST_TEST(got[i] == shifting_pattern(64, i));
  BOOST_TEST(got[rounds] == shifting_pattern(64, rounds).substr(0, 10));
  BOOST_TEST(got[rounds + 1] == shifting_pattern(64, rounds).substr(10));
  BOOST_TEST(got[rounds + 2] == shifting_pattern(64, rounds + 2));
  BOOST_TEST(held == shifting_pattern(64, rounds + 3));
  BOOST_TEST(free_buffers(ctx) == 16u);
  auto c = stats(ctx);
  if (ms && multishot_active(ctx))
  {
    BOOST_TEST(c.multishot_requests == 1u);
    BOOST_TEST(c.single_requests == 0u);
    BOOST_TEST(c.nobufs == 0u);
  }
  else
    BOOST_TEST(c.multishot_requests == 0u);
}

namespace msr_test {

unsigned circulating(asio_uring::io_context& ctx)
{
  asio_uring::detail::scheduler& s = ctx.impl();
  unsigned n = 0;
  s.with_loop([&] { n = s.recv_buffers().circulating(); });
  return n;
}

} // namespace msr_test

// The buffer ring starts with initial_circulation buffers in the kernel's
// ring and the rest in reserve: provided_buffer handles that hold most of
// them make more circulate, so that 200 handles of a 256-buffer ring are
// all served (none gets no_buffer_space, though the multishot may run the
// circulating buffers dry on the way), and every byte arrives in order.
BOOST_AUTO_TEST_CASE(held_buffers_grow_the_circulation)
{
  using br = asio_uring::detail::buffer_ring;
  asio_uring::io_context ctx(opts(true, 256, 16));
  tcp_pair p(ctx);
  const bool kernel = multishot_active(ctx);
  if (kernel) BOOST_TEST(circulating(ctx) == br::initial_circulation);
  const std::string data = shifting_pattern(200 * 16, 3);
  net::write(p.client, net::buffer(data));
  std::vector<asio_uring::provided_buffer> held;
  std::vector<error_code> errors;
  std::function<void()> take = [&] {
    p.server.async_receive_provided([&](error_code ec, asio_uring::provided_buffer pb) {
      if (ec) errors.push_back(ec);
      else held.push_back(std::move(pb));
      if (!ec && held.size() < 200) take();
    });
  };
  take();
  run_until(ctx, [&] { return held.size() == 200 || !errors.empty(); });
  BOOST_TEST(errors.empty());
  BOOST_REQUIRE(held.size() == 200u);
  std::string got;
  for (auto& h : held) got.append(h.data(), h.size());
  BOOST_TEST((got == data));
  BOOST_TEST(free_buffers(ctx) == 56u);
  if (kernel)
  {
    BOOST_TEST(circulating(ctx) >= 200u);
    BOOST_TEST(circulating(ctx) <= 256u);
  }
  held.clear();
  BOOST_TEST(free_buffers(ctx) == 256u);
}

// A burst larger than the circulating buffers while no read runs: the
// kernel fills all of them and ends the multishot with -ENOBUFS in one
// reap; the ring grows from the reserve, the multishot is armed again at
// the next read (no single-shot fallback while the reserve has buffers),
// and the stream arrives whole.
BOOST_AUTO_TEST_CASE(burst_beyond_the_circulation_grows_it_and_loses_nothing)
{
  using br = asio_uring::detail::buffer_ring;
  asio_uring::io_context ctx(opts(true, 1024, 256));
  tcp_pair p(ctx);
  char buf[256];
  for (int i = 0; i < 2; ++i)  // the second read arms the multishot
  {
    net::write(p.client, net::buffer("x", 1));
    p.server.async_read_some(net::buffer(buf), [](error_code, std::size_t) {});
    ctx.restart();
    ctx.run();
  }
  const bool kernel = multishot_active(ctx);
  const auto before = stats(ctx);
  const std::string data = shifting_pattern(64 * 1024, 9);  // 256 ring buffers' worth
  net::write(p.client, net::buffer(data));
  settle(ctx);
  if (kernel)
  {
    BOOST_TEST(stats(ctx).nobufs == before.nobufs + 1);
    BOOST_TEST(circulating(ctx) > br::initial_circulation);
  }
  std::string got;
  std::function<void()> next = [&] {
    p.server.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
      if (ec) return;
      got.append(buf, n);
      if (got.size() < data.size()) next();
    });
  };
  next();
  run_until(ctx, [&] { return got.size() >= data.size(); });
  BOOST_TEST((got == data));
  if (kernel)
  {
    const auto after = stats(ctx);
    BOOST_TEST(after.single_requests == before.single_requests);  // never fell back
    BOOST_TEST(after.multishot_requests > before.multishot_requests);
    BOOST_TEST(circulating(ctx) <= 1024u);
  }
  BOOST_TEST(free_buffers(ctx) == 1024u);
}
