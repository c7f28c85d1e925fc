// tcp_stream reads through the socket's multishot receive, with and without
// deadlines (doc/design.md, "tcp_stream"): exact bytes, the multishot really
// in use, a deadline that passes while a read waits (timeout, the socket
// closed, the peer sees the end, a pending write ends with timeout too), a
// deadline that does not fire when data comes in time (also not later), a
// new deadline after a timeout, cancel, queued data under a passed deadline,
// close / destruction / move / release_socket with a read pending, buffer
// exhaustion, Beast's http::async_read over the stream, timed reads
// waiting across notify_fork (data, and the deadline), echoing streams on
// strands of a context run by three threads. The same results on the
// single-shot path (the _emulated twin, and -multishot_recv on the kernel
// ring).
#define BOOST_TEST_MODULE tcp_stream_multishot
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include <unistd.h>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio_uring::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace tsm_test {

using test_support::multishot_active;
using test_support::reader;
using test_support::run_until;
using test_support::settle;
using test_support::shifting_pattern;
using test_support::stats;

// A tcp_stream connected to a plain socket (the peer).
struct stream_pair
{
  tcp::acceptor acceptor;
  tcp::socket peer;
  asio_uring::tcp_stream stream;

  explicit stream_pair(asio_uring::io_context& ctx)
    : acceptor(ctx, {net::ip::address_v4::loopback(), 0}), peer(ctx), stream(ctx)
  {
    stream.connect(acceptor.local_endpoint());
    acceptor.accept(peer);
  }
};

// A tcp_stream on a strand of a context that two threads run, connected to
// a blocking socket of `pio` (the peer); run() runs the context on two
// threads and returns when both calls have.
struct strand_stream
{
  asio_uring::io_context ctx{2};
  net::strand<asio_uring::io_context::executor_type> strand{net::make_strand(ctx)};
  asio_uring::tcp_stream s{strand};
  net::ip::tcp::socket peer;

  strand_stream(net::io_context& pio, net::ip::tcp::acceptor& acc) : peer(pio)
  {
    s.connect(acc.local_endpoint());
    acc.accept(peer);
  }
  void run()
  {
    std::thread t1([&] { ctx.run(); });
    std::thread t2([&] { ctx.run(); });
    t1.join();
    t2.join();
  }
};

asio_uring::io_context_options opts(unsigned buffers = 1024, unsigned size = 4096)
{
  asio_uring::io_context_options o;
  o.recv_buffers = buffers;
  o.recv_buffer_size = size;
  return o;
}

struct read_result
{
  bool done = false;
  error_code ec;
  std::size_t n = 0;
  steady::duration took{};
};

// One async_read_some into `buf`, recorded in `r`.
template <typename Stream>
void read_some(Stream& s, char* buf, std::size_t size, read_result& r)
{
  r = read_result();
  auto start = steady::now();
  s.async_read_some(net::buffer(buf, size), [&r, start](error_code ec, std::size_t n) {
    r.done = true;
    r.ec = ec;
    r.n = n;
    r.took = steady::now() - start;
  });
}

// Gets the stream to its multishot: its first read is single-shot.
void first_read(asio_uring::io_context& ctx, stream_pair& p)
{
  net::write(p.peer, net::buffer("1", 1));
  char c = 0;
  read_result r;
  read_some(p.stream, &c, 1, r);
  run_until(ctx, [&] { return r.done; });
  BOOST_REQUIRE(r.done);
  BOOST_REQUIRE(!r.ec);
  BOOST_REQUIRE(c == '1');
}

// Two reads (the first one single-shot, the second on the multishot where
// it is active), then a third under a deadline `timeout` from now, left
// waiting (recorded in `pending`).
void third_read_waiting(asio_uring::io_context& ctx, stream_pair& p, char* buf, std::size_t size,
    steady::duration timeout, read_result& pending)
{
  first_read(ctx, p);
  read_result r;
  net::write(p.peer, net::buffer("2", 1));
  p.stream.expires_after(5s);
  read_some(p.stream, buf, size, r);
  run_until(ctx, [&] { return r.done; });
  BOOST_REQUIRE(r.done);
  BOOST_REQUIRE(!r.ec);
  BOOST_REQUIRE(std::string(buf, r.n) == "2");
  p.stream.expires_after(timeout);
  read_some(p.stream, buf, size, pending);
  ctx.restart();
  ctx.poll();
  BOOST_REQUIRE(!pending.done);
}

// `total` bytes written by the peer in chunks of `chunk` from another
// thread, then the peer's end closed.
void exact_bytes(asio_uring::io_context& ctx, bool timed, std::size_t total, std::size_t chunk,
    std::vector<std::size_t> sizes)
{
  stream_pair p(ctx);
  const std::string data = shifting_pattern(total, timed ? 3 : 5);
  reader<asio_uring::tcp_stream> r{p.stream, std::move(sizes), timed, {}, {}, 0, {}, 0};
  r.next();
  std::thread writer([&] {
    for (std::size_t off = 0; off < total; off += chunk)
    {
      net::write(p.peer, net::buffer(data.data() + off, std::min(chunk, total - off)));
      if ((off / chunk) % 7 == 0) std::this_thread::sleep_for(1ms);
    }
    p.peer.shutdown(tcp::socket::shutdown_send);
  });
  run_until(ctx, [&] { return r.ends > 0; });
  writer.join();
  BOOST_TEST(r.ends == 1);
  BOOST_TEST((r.end == net::error::eof));
  BOOST_TEST(r.got.size() == data.size());
  BOOST_TEST((r.got == data));
  BOOST_TEST(p.stream.socket().is_open());
}

} // namespace tsm_test

using namespace tsm_test;

BOOST_DATA_TEST_CASE(exact_bytes_over_many_reads, boost::unit_test::data::make({false, true}), timed)
{
  asio_uring::io_context ctx(opts());
  exact_bytes(ctx, timed, 300000, 1500, {1, 7, 100, 4096, 5000, 64, 9000, 3});
  const auto c = stats(ctx);
  BOOST_TEST_MESSAGE("timed " << timed << ": multishot requests " << c.multishot_requests
      << ", single " << c.single_requests << ", nobufs " << c.nobufs);
  if (multishot_active(ctx))
  {
    BOOST_TEST(c.multishot_requests >= 1u);
    // Only a slow reader's limit ends a multishot here: never a read of its own.
    BOOST_TEST(c.single_requests == 0u);
  }
  else
    BOOST_TEST(c.multishot_requests == 0u);
}

BOOST_DATA_TEST_CASE(exact_bytes_through_buffer_exhaustion, boost::unit_test::data::make({false, true}), timed)
{
  // Two 16-byte buffers: the multishot runs out and reads fall back to
  // single-shot ones (under the same deadline) and back.
  asio_uring::io_context ctx(opts(2, 16));
  exact_bytes(ctx, timed, 20000, 100, {5, 16, 40, 1, 33});
  const auto c = stats(ctx);
  BOOST_TEST_MESSAGE("timed " << timed << ", 2 x 16 B ring: multishot requests " << c.multishot_requests
      << ", single " << c.single_requests << ", nobufs " << c.nobufs);
  if (multishot_active(ctx)) BOOST_TEST(c.multishot_requests >= 1u);
  else BOOST_TEST(c.multishot_requests == 0u);
}

// K timed reads that each wait for their data: one multishot request, no
// read of its own (so no linked timeout either).
BOOST_AUTO_TEST_CASE(timed_reads_use_one_multishot)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  const auto before = stats(ctx);
  char buf[16];
  for (int i = 0; i < 20; ++i)
  {
    read_result r;
    p.stream.expires_after(5s);
    read_some(p.stream, buf, sizeof buf, r);
    ctx.restart();
    ctx.poll();
    BOOST_TEST(!r.done);  // it waits
    const std::string msg = std::string("m").append(std::to_string(i));
    net::write(p.peer, net::buffer(msg));
    run_until(ctx, [&] { return r.done; });
    BOOST_TEST(!r.ec);
    BOOST_TEST(std::string(buf, r.n) == msg);
  }
  const auto c = stats(ctx);
  if (multishot_active(ctx))
  {
    BOOST_TEST(c.multishot_requests - before.multishot_requests == 1u);
    BOOST_TEST(c.single_requests - before.single_requests == 0u);
  }
  else
    BOOST_TEST(c.multishot_requests == 0u);
}

BOOST_AUTO_TEST_CASE(deadline_passes_while_a_read_waits)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  char buf[16];
  read_result r;
  p.stream.expires_after(60ms);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.run();  // returns: the read ended
  BOOST_TEST(r.done);
  BOOST_TEST((r.ec == beast::error::timeout));
  BOOST_TEST(r.n == 0u);
  BOOST_TEST((r.took >= 55ms));
  BOOST_TEST((r.took < 3s));
  if (multishot_active(ctx))
  {
    BOOST_TEST(stats(ctx).multishot_requests == 1u);
    BOOST_TEST(stats(ctx).single_requests == 0u);
  }
  // As in Beast: the socket is closed; the peer sees the end.
  BOOST_TEST(!p.stream.socket().is_open());
  error_code peer_ec;
  BOOST_TEST(p.peer.read_some(net::buffer(buf), peer_ec) == 0u);
  BOOST_TEST((peer_ec == net::error::eof));
  // A read after the timeout, before a new deadline: the socket is closed.
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.run();
  BOOST_TEST((r.ec == net::error::bad_descriptor));
}

// A write pending under its own (later) deadline when the read times out:
// the close ends it with timeout too.
BOOST_AUTO_TEST_CASE(read_timeout_ends_a_pending_write_with_timeout)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  p.stream.socket().set_option(net::socket_base::send_buffer_size(4096));
  p.peer.set_option(net::socket_base::receive_buffer_size(4096));
  // The peer never reads: writes go on until one stays pending.
  std::string big(1 << 20, 'w');
  error_code write_ec;
  bool write_done = false;
  std::function<void()> write_more = [&] {
    p.stream.expires_after(10s);
    p.stream.async_write_some(net::buffer(big), [&](error_code ec, std::size_t) {
      if (ec)
      {
        write_done = true;
        write_ec = ec;
        return;
      }
      write_more();
    });
  };
  write_more();
  for (int i = 0; i < 20; ++i)
  {
    ctx.restart();
    ctx.poll();
  }
  BOOST_TEST(!write_done);
  ctx.restart();
  ctx.poll();
  char buf[16];
  read_result r;
  p.stream.expires_after(80ms);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.run();
  BOOST_TEST(r.done);
  BOOST_TEST((r.ec == beast::error::timeout));
  BOOST_TEST(write_done);
  BOOST_TEST((write_ec == beast::error::timeout));
  BOOST_TEST(!p.stream.socket().is_open());
}

// The read's data comes before its deadline: no timeout, not at the old
// deadline either (with no read pending, and with a read pending under a
// later deadline: the armed timeout is moved on, not fired).
BOOST_AUTO_TEST_CASE(deadline_does_not_fire_when_data_comes_in_time)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  char buf[16];
  read_result r;
  auto start = steady::now();
  p.stream.expires_after(150ms);
  read_some(p.stream, buf, sizeof buf, r);
  asio_uring::steady_timer t(ctx);
  t.expires_after(30ms);
  t.async_wait([&](error_code) { net::write(p.peer, net::buffer("in time", 7)); });
  run_until(ctx, [&] { return r.done; });
  BOOST_TEST(!r.ec);
  BOOST_TEST(std::string(buf, r.n) == "in time");
  BOOST_TEST((steady::now() - start < 150ms));

  // A second read under a later deadline, pending across the first one's.
  read_result r2;
  p.stream.expires_after(600ms);
  read_some(p.stream, buf, sizeof buf, r2);
  t.expires_at(start + 350ms);
  t.async_wait([&](error_code) { net::write(p.peer, net::buffer("later", 5)); });
  ctx.restart();
  ctx.run();
  BOOST_TEST(r2.done);
  BOOST_TEST(!r2.ec);
  BOOST_TEST(std::string(buf, r2.n) == "later");
  BOOST_TEST((steady::now() - start >= 350ms));

  // Past both deadlines with no read pending: nothing happens.
  t.expires_at(start + 800ms);
  t.async_wait([](error_code) {});
  ctx.restart();
  ctx.run();
  BOOST_TEST(p.stream.socket().is_open());
  net::write(p.peer, net::buffer("still open", 10));
  read_result r3;
  read_some(p.stream, buf, sizeof buf, r3);
  ctx.restart();
  ctx.run();
  BOOST_TEST(!r3.ec);
  BOOST_TEST(std::string(buf, r3.n) == "still open");
  BOOST_TEST(p.stream.socket().is_open());
  if (multishot_active(ctx)) BOOST_TEST(stats(ctx).single_requests == 0u);
}

BOOST_AUTO_TEST_CASE(new_deadline_after_a_timeout)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  char buf[16];
  read_result r;
  p.stream.expires_after(30ms);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.run();
  BOOST_TEST((r.ec == beast::error::timeout));
  BOOST_TEST(!p.stream.socket().is_open());

  // A new deadline clears the timed-out state: reconnected, reads work (and
  // time out again), each reporting its own result.
  p.stream.expires_after(5s);
  p.peer.close();
  p.stream.connect(p.acceptor.local_endpoint());
  p.acceptor.accept(p.peer);
  for (int i = 0; i < 3; ++i)
  {
    const std::string msg = "again" + std::to_string(i);
    net::write(p.peer, net::buffer(msg));
    p.stream.expires_after(5s);
    read_some(p.stream, buf, sizeof buf, r);
    run_until(ctx, [&] { return r.done; });
    BOOST_TEST(!r.ec);
    BOOST_TEST(std::string(buf, r.n) == msg);
  }
  p.stream.expires_after(30ms);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.run();
  BOOST_TEST((r.ec == beast::error::timeout));
  BOOST_TEST(!p.stream.socket().is_open());
}

BOOST_DATA_TEST_CASE(cancel_aborts_a_waiting_read, boost::unit_test::data::make({false, true}), timed)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  char buf[16];
  read_result r;
  if (timed) p.stream.expires_after(200ms);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.poll();
  BOOST_TEST(!r.done);
  p.stream.cancel();
  ctx.restart();
  ctx.run();
  BOOST_TEST(r.done);
  BOOST_TEST((r.ec == net::error::operation_aborted));
  BOOST_TEST(p.stream.socket().is_open());
  // Past the cancelled read's deadline: nothing happens; data flows.
  std::this_thread::sleep_for(250ms);
  ctx.restart();
  ctx.poll();
  BOOST_TEST(p.stream.socket().is_open());
  net::write(p.peer, net::buffer("after", 5));
  p.stream.expires_after(5s);
  read_some(p.stream, buf, sizeof buf, r);
  run_until(ctx, [&] { return r.done; });
  BOOST_TEST(!r.ec);
  BOOST_TEST(std::string(buf, r.n) == "after");
}

// Per-operation cancellation of a timed read waiting on the multishot.
BOOST_AUTO_TEST_CASE(cancellation_slot_aborts_that_read)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  net::cancellation_signal sig;
  char buf[16];
  error_code ec;
  bool done = false;
  p.stream.expires_after(5s);
  p.stream.async_read_some(net::buffer(buf), net::bind_cancellation_slot(sig.slot(),
      [&](error_code e, std::size_t) {
        done = true;
        ec = e;
      }));
  ctx.restart();
  ctx.poll();
  BOOST_TEST(!done);
  sig.emit(net::cancellation_type::terminal);
  ctx.restart();
  ctx.run();
  BOOST_TEST(done);
  BOOST_TEST((ec == net::error::operation_aborted));
  BOOST_TEST(p.stream.socket().is_open());
}

// Data already queued completes a read at once, even under a deadline that
// has passed: no timer, no timeout.
BOOST_AUTO_TEST_CASE(queued_data_under_a_passed_deadline)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  char buf[8];
  read_result r;
  // Arm the multishot with a read, then let more data queue behind it.
  p.stream.expires_after(5s);
  read_some(p.stream, buf, 2, r);
  net::write(p.peer, net::buffer("abcdefgh", 8));
  run_until(ctx, [&] { return r.done; });
  BOOST_TEST(std::string(buf, r.n) == "ab");
  settle(ctx);
  // (A single-shot read with a passed deadline races its linked timeout.)
  const bool ms = multishot_active(ctx);
  p.stream.expires_after(ms ? 1ms : 5s);
  std::this_thread::sleep_for(5ms);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.run();
  BOOST_TEST(!r.ec);
  BOOST_TEST(std::string(buf, r.n) == "cdefgh");
  BOOST_TEST(p.stream.socket().is_open());
  // The next read finds nothing queued: it waits, under a passed deadline,
  // and times out at once.
  p.stream.expires_after(1ms);
  std::this_thread::sleep_for(5ms);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.run();
  BOOST_TEST((r.ec == beast::error::timeout));
  BOOST_TEST(!p.stream.socket().is_open());
}

BOOST_AUTO_TEST_CASE(available_and_sync_read_see_queued_data)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  char buf[4];
  read_result r;
  p.stream.expires_after(5s);
  read_some(p.stream, buf, 1, r);
  net::write(p.peer, net::buffer("0123456789", 10));
  run_until(ctx, [&] { return r.done; });
  BOOST_TEST(std::string(buf, r.n) == "0");
  settle(ctx);
  BOOST_TEST(p.stream.socket().available() == 9u);
  BOOST_TEST(p.stream.read_some(net::buffer(buf)) == 4u);
  BOOST_TEST(std::string(buf, 4) == "1234");
  BOOST_TEST(p.stream.socket().available() == 5u);
  std::string rest(5, '\0');
  net::read(p.stream, net::buffer(rest));
  BOOST_TEST(rest == "56789");
}

BOOST_DATA_TEST_CASE(close_and_destruction_with_a_read_waiting, boost::unit_test::data::make({false, true}),
    destroy)
{
  asio_uring::io_context ctx(opts());
  auto p = std::make_unique<stream_pair>(ctx);
  first_read(ctx, *p);
  char buf[16];
  read_result r;
  p->stream.expires_after(100ms);
  read_some(p->stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.poll();
  BOOST_TEST(!r.done);
  tcp::socket peer = std::move(p->peer);
  if (destroy) p.reset();
  else p->stream.close();
  ctx.restart();
  ctx.run();
  BOOST_TEST(r.done);
  BOOST_TEST((r.ec == net::error::operation_aborted));
  error_code peer_ec;
  BOOST_TEST(peer.read_some(net::buffer(buf), peer_ec) == 0u);
  BOOST_TEST((peer_ec == net::error::eof));
  // Past the deadline: nothing runs, nothing breaks.
  asio_uring::steady_timer t(ctx, 150ms);
  t.async_wait([](error_code) {});
  ctx.restart();
  ctx.run();
}

// A stream moved with a timed read waiting: the read goes on on the socket,
// now the new stream's, and completes with the data.
BOOST_AUTO_TEST_CASE(move_with_a_read_waiting)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  char buf[16];
  read_result r;
  p.stream.expires_after(5s);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.poll();
  asio_uring::tcp_stream moved(std::move(p.stream));
  net::write(p.peer, net::buffer("moved", 5));
  run_until(ctx, [&] { return r.done; });
  BOOST_TEST(!r.ec);
  BOOST_TEST(std::string(buf, r.n) == "moved");
  net::write(p.peer, net::buffer("next", 4));
  moved.expires_after(5s);
  read_some(moved, buf, sizeof buf, r);
  run_until(ctx, [&] { return r.done; });
  BOOST_TEST(!r.ec);
  BOOST_TEST(std::string(buf, r.n) == "next");
}

BOOST_AUTO_TEST_CASE(release_socket_with_a_read_waiting)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  char buf[16];
  read_result r;
  p.stream.expires_after(100ms);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.poll();
  tcp::socket s = p.stream.release_socket();
  ctx.restart();
  ctx.run();
  BOOST_TEST((r.ec == net::error::operation_aborted));
  BOOST_TEST(s.is_open());
  BOOST_TEST(!p.stream.socket().is_open());
  // Past the old deadline the released socket is untouched and reads on.
  std::this_thread::sleep_for(150ms);
  ctx.restart();
  ctx.poll();
  BOOST_TEST(s.is_open());
  net::write(p.peer, net::buffer("released", 8));
  std::string got(8, '\0');
  net::read(s, net::buffer(got));
  BOOST_TEST(got == "released");
}

// Beast's server loop: expires_after, then http::async_read, per request.
BOOST_AUTO_TEST_CASE(beast_http_reads_with_a_deadline_per_request)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  std::vector<std::string> targets;
  error_code end;
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    beast::flat_buffer buf;
    for (;;)
    {
      p.stream.expires_after(5s);
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(p.stream, buf, req, net::as_tuple(net::use_awaitable));
      if (ec)
      {
        end = ec;
        co_return;
      }
      targets.emplace_back(req.target());
      http::response<http::string_body> res{http::status::ok, 11};
      res.body() = "re:" + std::string(req.target()) + ":" + req.body();
      res.prepare_payload();
      co_await http::async_write(p.stream, res, net::use_awaitable);
    }
  }, net::detached);
  std::vector<std::string> bodies;
  std::thread client([&] {
    beast::flat_buffer buf;
    for (int i = 0; i < 30; ++i)
    {
      http::request<http::string_body> req{http::verb::post, "/r" + std::to_string(i), 11};
      req.body() = shifting_pattern(static_cast<std::size_t>(1 + i * 997 % 9000), static_cast<std::size_t>(i));
      req.prepare_payload();
      http::write(p.peer, req);
      http::response<http::string_body> res;
      http::read(p.peer, buf, res);
      bodies.push_back(res.body());
    }
    p.peer.shutdown(tcp::socket::shutdown_send);
  });
  run_until(ctx, [&] { return static_cast<bool>(end); });
  client.join();
  BOOST_TEST(targets.size() == 30u);
  BOOST_TEST(bodies.size() == 30u);
  for (std::size_t i = 0; i < bodies.size(); ++i)
    BOOST_TEST(bodies[i] == "re:/r" + std::to_string(i) + ":" + shifting_pattern(1 + i * 997 % 9000, i));
  BOOST_TEST((end == http::error::end_of_stream));
  if (multishot_active(ctx))
  {
    BOOST_TEST(stats(ctx).multishot_requests >= 1u);
    BOOST_TEST(stats(ctx).single_requests == 0u);
  }
}

// http::async_read under a deadline that passes mid-request.
BOOST_AUTO_TEST_CASE(beast_http_read_times_out_mid_request)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  error_code ec;
  bool done = false;
  http::request<http::string_body> req;
  beast::flat_buffer buf;
  p.stream.expires_after(100ms);
  http::async_read(p.stream, buf, req, [&](error_code e, std::size_t) {
    done = true;
    ec = e;
  });
  net::write(p.peer, net::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n")));  // no end of the head
  ctx.restart();
  ctx.run();
  BOOST_TEST(done);
  BOOST_TEST((ec == beast::error::timeout));
  BOOST_TEST(!p.stream.socket().is_open());
}

// A stream moved while a timed read waits: when that read's deadline passes
// it alone ends, with operation_aborted (as its linked timeout would end it
// on the single-shot path); the socket, now the new stream's, stays open.
BOOST_AUTO_TEST_CASE(deadline_of_a_read_pending_across_a_move)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  first_read(ctx, p);
  char buf[16];
  read_result r;
  p.stream.expires_after(80ms);
  read_some(p.stream, buf, sizeof buf, r);
  ctx.restart();
  ctx.poll();
  BOOST_TEST(!r.done);
  asio_uring::tcp_stream moved(std::move(p.stream));
  ctx.restart();
  ctx.run();
  BOOST_TEST(r.done);
  BOOST_TEST((r.ec == net::error::operation_aborted));
  BOOST_TEST((r.took >= 75ms));
  BOOST_TEST(moved.socket().is_open());
  net::write(p.peer, net::buffer("kept", 4));
  moved.expires_after(5s);
  read_some(moved, buf, sizeof buf, r);
  run_until(ctx, [&] { return r.done; });
  BOOST_TEST(!r.ec);
  BOOST_TEST(std::string(buf, r.n) == "kept");
}

// A deadline passes on a stream that lives on a strand of a context run by
// two threads, while the strand keeps writing (no deadline on the writes).
// The read ends with timeout, and the socket is closed on the strand, as
// Beast's timer handler closes it: the write loop then fails with timeout
// (its write was ended by that close) or bad_descriptor (it started after),
// never in the middle of a write being started on another thread (under
// TSan this was a data race on the descriptor: the close ran on the thread
// that reaped the deadline). Both run() calls return. 30 rounds with
// deadlines of 2-6 ms, on the multishot read and (suite variants) the
// single-shot one.
BOOST_AUTO_TEST_CASE(deadline_closes_the_socket_on_the_streams_strand)
{
  net::io_context pio;
  net::ip::tcp::acceptor acc(pio, {net::ip::address_v4::loopback(), 0});
  int timeouts = 0, write_ends_ok = 0;
  for (int round = 0; round < 30; ++round)
  {
    strand_stream ss(pio, acc);
    auto& strand = ss.strand;
    auto& s = ss.s;
    auto& peer = ss.peer;
    std::thread drain([&] {
      char b[65536];
      error_code ec;
      while (!ec) peer.read_some(net::buffer(b), ec);
    });
    char rbuf[16];
    const std::string out(512, 'x');
    error_code read_ec, write_ec;
    std::atomic<bool> off_strand{false};
    std::function<void()> write_more = [&] {
      s.async_write_some(net::buffer(out), [&](error_code ec, std::size_t) {
        if (!strand.running_in_this_thread()) off_strand = true;
        if (!ec) write_more();
        else write_ec = ec;
      });
    };
    net::write(peer, net::buffer("ab", 2));
    net::post(strand, [&] {
      s.async_read_some(net::buffer(rbuf, 1), [&](error_code, std::size_t) {
        s.async_read_some(net::buffer(rbuf, 1), [&](error_code, std::size_t) {
          s.expires_after(std::chrono::milliseconds(2 + round % 5));
          s.async_read_some(net::buffer(rbuf), [&](error_code ec, std::size_t) {
            if (!strand.running_in_this_thread()) off_strand = true;
            read_ec = ec;
          });
          s.expires_never();
          write_more();
        });
      });
    });
    std::atomic<bool> finished{false};
    std::thread watchdog([&] {
      for (int i = 0; i < 1000 && !finished; ++i) std::this_thread::sleep_for(10ms);
      if (!finished)
      {
        std::fprintf(stderr, "deadline_closes_the_socket_on_the_streams_strand: hung in round %d\n", round);
        std::_Exit(1);
      }
    });
    ss.run();
    finished = true;
    watchdog.join();
    drain.join();  // the timeout closed the stream: the peer sees the end
    BOOST_TEST(!off_strand);
    if (read_ec == beast::error::timeout) ++timeouts;
    if (write_ec == beast::error::timeout || write_ec == net::error::bad_descriptor) ++write_ends_ok;
    else BOOST_TEST_MESSAGE("round " << round << ": write ended with " << write_ec.message());
  }
  BOOST_TEST(timeouts == 30);
  BOOST_TEST(write_ends_ok == 30);
}

// The stream closed on its strand just as its waiting read's deadline
// passes, on a context two threads run: the loop that sees the deadline
// decides timeout against operation_aborted from the stream's atomic count
// of the times its socket left it, not from the descriptor (which the
// strand is writing). The read ends with one of the two, on the strand; both
// run() calls return. 40 rounds, the close 1.5-4.5 ms after a 3 ms deadline
// was set.
// A deadline set (expires_never) after a waiting read's deadline passed
// does not keep the socket open: the strand's thread sleeps past the
// deadline between starting the read and expires_never(), as a preempted
// thread would, while the other thread's loop sees the deadline. As in
// Beast, the stream is closed and the read ends with timeout. Before stop
// 16 the dispatched close saw the timed-out state cleared and closed
// nothing (under load, deadline_closes_the_socket_on_the_streams_strand then
// wrote for ever). The first read (a request with its linked timeout) and
// the third (the multishot receive, where on).
BOOST_AUTO_TEST_CASE(a_deadline_set_after_the_reads_deadline_passed_still_closes)
{
  net::io_context pio;
  net::ip::tcp::acceptor acc(pio, {net::ip::address_v4::loopback(), 0});
  test_support::watchdog dog(60s, "a_deadline_set_after_the_reads_deadline_passed_still_closes");
  for (int reads_before : {0, 2})
  {
    strand_stream ss(pio, acc);
    auto& strand = ss.strand;
    auto& s = ss.s;
    auto& peer = ss.peer;
    char rbuf[16];
    error_code read_ec;
    int read_ends = 0;
    if (reads_before > 0) net::write(peer, net::buffer("ab", 2));
    std::function<void(int)> read_then_wait = [&](int left) {
      if (left > 0)
      {
        s.async_read_some(net::buffer(rbuf, 1), [&, left](error_code, std::size_t) { read_then_wait(left - 1); });
        return;
      }
      s.expires_after(2ms);
      s.async_read_some(net::buffer(rbuf), [&](error_code ec, std::size_t) {
        read_ec = ec;
        ++read_ends;
      });
      std::this_thread::sleep_for(40ms);  // the deadline passes meanwhile
      s.expires_never();
    };
    net::post(strand, [&] { read_then_wait(reads_before); });
    ss.run();
    BOOST_TEST(read_ends == 1, "reads before " << reads_before);
    BOOST_TEST((read_ec == beast::error::timeout), "reads before " << reads_before << ": " << read_ec.message());
    BOOST_TEST(!s.socket().is_open(), "reads before " << reads_before);
    error_code peer_ec;
    peer.read_some(net::buffer(rbuf), peer_ec);
    BOOST_TEST((peer_ec == net::error::eof), "reads before " << reads_before);
  }
}

BOOST_AUTO_TEST_CASE(stream_closed_on_its_strand_as_the_read_deadline_passes)
{
  net::io_context pio;
  net::ip::tcp::acceptor acc(pio, {net::ip::address_v4::loopback(), 0});
  int timeouts = 0, aborted = 0;
  test_support::watchdog dog(120s, "stream_closed_on_its_strand_as_the_read_deadline_passes");
  for (int round = 0; round < 40; ++round)
  {
    strand_stream ss(pio, acc);
    auto& strand = ss.strand;
    auto& s = ss.s;
    auto& peer = ss.peer;
    char rbuf[16];
    error_code read_ec;
    int read_ends = 0;
    std::atomic<bool> off_strand{false};
    asio_uring::steady_timer closer(strand);
    net::write(peer, net::buffer("ab", 2));
    net::post(strand, [&] {
      s.async_read_some(net::buffer(rbuf, 1), [&](error_code, std::size_t) {
        s.async_read_some(net::buffer(rbuf, 1), [&](error_code, std::size_t) {
          // The third read waits (multishot, where on) under a deadline.
          s.expires_after(3ms);
          s.async_read_some(net::buffer(rbuf), [&](error_code ec, std::size_t) {
            if (!strand.running_in_this_thread()) off_strand = true;
            read_ec = ec;
            ++read_ends;
          });
          closer.expires_after(std::chrono::microseconds(1500 + 250 * (round % 13)));
          closer.async_wait([&](error_code) { s.close(); });
        });
      });
    });
    ss.run();
    BOOST_TEST(!off_strand);
    BOOST_TEST(read_ends == 1, "round " << round);
    if (read_ec == beast::error::timeout) ++timeouts;
    else if (read_ec == net::error::operation_aborted) ++aborted;
    else BOOST_TEST(false, "round " << round << ": the read ended with " << read_ec.message());
  }
  BOOST_TEST(timeouts + aborted == 40);
  BOOST_TEST_MESSAGE("timeout " << timeouts << ", operation_aborted " << aborted);
}

// A timed read waiting on the multishot across notify_fork: fork_prepare
// cancels the multishot and the stream's armed timeout; in each process the
// read starts again under its deadline and gets that process's data, and a
// later timed read there times out (the timeout armed on that process's
// ring). The child runs first, while the parent waits for it.
BOOST_AUTO_TEST_CASE(fork_with_a_timed_read_waiting)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  char buf[64];
  read_result pending;
  third_read_waiting(ctx, p, buf, sizeof buf, 5s, pending);
  const bool ms = multishot_active(ctx);
  const std::size_t armed_before = stats(ctx).multishot_requests;
  if (ms) BOOST_TEST(armed_before == 1u);
  constexpr auto late_timeout = 400ms;

  // Exit codes: 41 the pending read did not complete, 42 it failed, 43 not
  // the child's bytes, 44 no multishot on the child's ring, 45 the late read
  // did not complete, 46 not timeout, 47 outside [timeout, timeout + 2 s),
  // 48 the socket still open. A hang: SIGALRM.
  test_support::run_forked(ctx, 40, [&](int& status) {
    ::alarm(30);
    net::write(p.peer, net::buffer("child data", 10));
    run_until(ctx, [&] { return pending.done; });
    if (!pending.done) { status = 41; return; }
    if (pending.ec) { status = 42; return; }
    if (std::string(buf, pending.n) != "child data") { status = 43; return; }
    if (ms && stats(ctx).multishot_requests <= armed_before) { status = 44; return; }
    read_result late;
    p.stream.expires_after(late_timeout);
    read_some(p.stream, buf, sizeof buf, late);
    ctx.restart();
    ctx.run();
    if (!late.done) { status = 45; return; }
    if (late.ec != beast::error::timeout) { status = 46; return; }
    if (late.took < late_timeout || late.took >= late_timeout + 2s) { status = 47; return; }
    if (p.stream.socket().is_open()) { status = 48; return; }
    status = 0;
  });

  test_support::watchdog dog(30s, "fork_with_a_timed_read_waiting (parent)");
  // The child's timeout closed its copy of the descriptor only.
  BOOST_TEST(!pending.done);
  BOOST_TEST(p.stream.socket().is_open());
  net::write(p.peer, net::buffer("parent data", 11));
  run_until(ctx, [&] { return pending.done; });
  BOOST_TEST(pending.done);
  BOOST_TEST(!pending.ec);
  BOOST_TEST(std::string(buf, pending.n) == "parent data");
  BOOST_TEST(p.stream.socket().is_open());
  read_result late;
  p.stream.expires_after(late_timeout);
  read_some(p.stream, buf, sizeof buf, late);
  ctx.restart();
  ctx.run();
  BOOST_TEST(late.done);
  BOOST_TEST((late.ec == beast::error::timeout));
  BOOST_TEST(late.n == 0u);
  BOOST_TEST((late.took >= late_timeout));
  BOOST_TEST((late.took < late_timeout + 2s));
  BOOST_TEST(!p.stream.socket().is_open());
  error_code peer_ec;
  BOOST_TEST(p.peer.read_some(net::buffer(buf), peer_ec) == 0u);
  BOOST_TEST((peer_ec == net::error::eof));
}

// A timed read waiting across notify_fork with no data coming: its deadline
// is armed again on each process's ring (read_deadlines::rewait on the
// multishot path, a new linked timeout on the single-shot one), so the read
// times out at its deadline in the child and in the parent.
BOOST_AUTO_TEST_CASE(fork_keeps_the_deadline_of_a_waiting_read)
{
  asio_uring::io_context ctx(opts());
  stream_pair p(ctx);
  char buf[16];
  read_result pending;
  constexpr auto timeout = 500ms;
  third_read_waiting(ctx, p, buf, sizeof buf, timeout, pending);

  // Exit codes: 51 the read did not complete within 5 s, 52 not timeout,
  // 53 outside [timeout, timeout + 2 s), 54 the socket still open.
  test_support::run_forked(ctx, 50, [&](int& status) {
    ::alarm(30);
    run_until(ctx, [&] { return pending.done; });
    if (!pending.done) { status = 51; return; }
    if (pending.ec != beast::error::timeout) { status = 52; return; }
    if (pending.took < timeout || pending.took >= timeout + 2s) { status = 53; return; }
    if (p.stream.socket().is_open()) { status = 54; return; }
    status = 0;
  });

  test_support::watchdog dog(30s, "fork_keeps_the_deadline_of_a_waiting_read (parent)");
  BOOST_TEST(!pending.done);
  run_until(ctx, [&] { return pending.done; });
  BOOST_TEST(pending.done);
  BOOST_TEST((pending.ec == beast::error::timeout));
  BOOST_TEST(pending.n == 0u);
  BOOST_TEST((pending.took >= timeout));
  BOOST_TEST((pending.took < timeout + 4s));  // the child ran first
  BOOST_TEST(!p.stream.socket().is_open());
  error_code peer_ec;
  BOOST_TEST(p.peer.read_some(net::buffer(buf), peer_ec) == 0u);
  BOOST_TEST((peer_ec == net::error::eof));
}

namespace tsm_test {

// One connection of the multi-thread echo test: a tcp_stream on its own
// strand that reads (each read under a deadline) and writes back what it
// read until it has echoed `total` bytes, then, once every session got
// there, makes one short timed read that the silent peer lets time out.
// Touched only on its strand while the context runs.
struct echo_session
{
  using strand_type = net::strand<asio_uring::io_context::executor_type>;
  strand_type strand;
  asio_uring::tcp_stream stream;
  std::size_t total = 0;
  std::vector<std::size_t> read_sizes;
  std::atomic<int>* phase1_left = nullptr;
  std::vector<std::unique_ptr<echo_session>>* all = nullptr;

  std::string got;  // what the stream read, in order
  std::vector<char> buf;
  std::size_t reads_started = 0, reads_done = 0, writes_started = 0, writes_done = 0;
  std::size_t out_of_order = 0;  // a handler for another operation than the one awaited
  std::size_t off_strand = 0;    // a handler not on the strand
  std::size_t errors = 0;
  error_code first_error;
  // The short read.
  std::size_t short_started = 0, short_done = 0, short_n = 0;
  error_code short_ec;
  steady::duration short_took{};

  explicit echo_session(asio_uring::io_context& ctx) : strand(net::make_strand(ctx)), stream(strand) {}

  void fail(error_code ec)
  {
    if (errors++ == 0) first_error = ec;
    stream.close();  // the peer's blocking read sees the end
    finish_phase1();
  }

  void read_next()
  {
    buf.resize(read_sizes[reads_started % read_sizes.size()]);
    stream.expires_after(5s);
    const std::size_t k = ++reads_started;
    stream.async_read_some(net::buffer(buf), [this, k](error_code ec, std::size_t n) {
      if (!strand.running_in_this_thread()) ++off_strand;
      if (++reads_done != k) ++out_of_order;
      if (ec) return fail(ec);
      got.append(buf.data(), n);
      const std::size_t w = ++writes_started;
      net::async_write(stream, net::buffer(buf.data(), n), [this, w, n](error_code ec, std::size_t m) {
        if (!strand.running_in_this_thread()) ++off_strand;
        if (++writes_done != w) ++out_of_order;
        if (ec || m != n) return fail(ec ? ec : error_code(net::error::message_size));
        if (got.size() < total) read_next();
        else finish_phase1();
      });
    });
  }

  // The last session to finish starts every session's short read.
  void finish_phase1()
  {
    if (phase1_left->fetch_sub(1) != 1) return;
    for (auto& s : *all) net::post(s->strand, [s = s.get()] { s->short_read(); });
  }

  void short_read()
  {
    ++short_started;
    const auto start = steady::now();
    stream.expires_after(100ms);
    stream.async_read_some(net::buffer(buf), [this, start](error_code ec, std::size_t n) {
      if (!strand.running_in_this_thread()) ++off_strand;
      ++short_done;
      short_ec = ec;
      short_n = n;
      short_took = steady::now() - start;
    });
  }
};

} // namespace tsm_test

// Beast's multi-threaded server shape: one context run by three threads,
// 32 tcp_streams each on its own strand, each echoing what it reads with
// a deadline on every read, while blocking peers (Asio's own sockets, on
// four threads) send 200 chunks of random sizes each and read the echoes.
// Each stream reads exactly what its peer sent and the peer gets it all
// back; no read times out; every handler runs once, in order, on its
// strand; then, the peers silent, each stream's short timed read ends with
// timeout once; every run() returns.
BOOST_AUTO_TEST_CASE(echo_streams_on_strands_of_a_multi_threaded_context)
{
  constexpr std::size_t sessions = 32, chunks = 200, peer_threads = 4, run_threads = 3;
  test_support::watchdog dog(120s, "echo_streams_on_strands_of_a_multi_threaded_context");
  asio_uring::io_context ctx(opts());
  net::io_context peer_io;
  net::ip::tcp::acceptor acc(peer_io, {net::ip::address_v4::loopback(), 0});
  std::atomic<int> phase1_left{static_cast<int>(sessions)};
  std::vector<std::unique_ptr<echo_session>> all;
  std::vector<net::ip::tcp::socket> peers;
  std::vector<std::string> data(sessions);
  std::vector<std::vector<std::size_t>> chunk_sizes(sessions);
  const std::vector<std::size_t> read_sizes{4096, 1, 1500, 16384, 7, 512, 9000, 100};
  for (std::size_t i = 0; i < sessions; ++i)
  {
    std::mt19937 rng(static_cast<unsigned>(1000 + i));
    for (std::size_t k = 0; k < chunks; ++k)
    {
      const std::size_t n = rng() % 4 == 0 ? 1 + rng() % 16 : 1 + rng() % 6000;
      chunk_sizes[i].push_back(n);
      for (std::size_t b = 0; b < n; ++b) data[i].push_back(static_cast<char>(rng()));
    }
    auto s = std::make_unique<echo_session>(ctx);
    s->total = data[i].size();
    std::vector<std::size_t> sizes = read_sizes;
    std::rotate(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(i % sizes.size()), sizes.end());
    s->read_sizes = std::move(sizes);
    s->phase1_left = &phase1_left;
    s->all = &all;
    s->stream.connect(acc.local_endpoint());
    peers.emplace_back(peer_io);
    acc.accept(peers.back());
    // No Nagle: an echo in pieces would wait for the peer's delayed ACK.
    s->stream.socket().set_option(net::ip::tcp::no_delay(true));
    peers.back().set_option(net::ip::tcp::no_delay(true));
    all.push_back(std::move(s));
  }
  for (auto& s : all) net::post(s->strand, [s = s.get()] { s->read_next(); });

  std::atomic<std::size_t> returned{0};
  std::vector<std::thread> runners;
  for (std::size_t t = 0; t < run_threads; ++t)
    runners.emplace_back([&] {
      ctx.run();
      ++returned;
    });

  // Peer thread t serves connections t, t + 4, ...: chunk k to each, then
  // chunk k's echo from each.
  std::vector<std::string> echoed(sessions);
  std::vector<error_code> peer_error(sessions);
  std::vector<std::thread> writers;
  for (std::size_t t = 0; t < peer_threads; ++t)
    writers.emplace_back([&, t] {
      std::vector<std::size_t> offset(sessions, 0);
      for (std::size_t k = 0; k < chunks; ++k)
      {
        for (std::size_t i = t; i < sessions; i += peer_threads)
        {
          if (peer_error[i]) continue;
          net::write(peers[i], net::buffer(data[i].data() + offset[i], chunk_sizes[i][k]), peer_error[i]);
        }
        for (std::size_t i = t; i < sessions; i += peer_threads)
        {
          if (peer_error[i]) continue;
          std::string back(chunk_sizes[i][k], '\0');
          const std::size_t n = net::read(peers[i], net::buffer(back), peer_error[i]);
          echoed[i].append(back.data(), n);
          offset[i] += chunk_sizes[i][k];
        }
      }
    });
  for (auto& w : writers) w.join();
  for (auto& r : runners) r.join();

  BOOST_TEST(returned.load() == run_threads);
  BOOST_TEST(phase1_left.load() == 0);
  for (std::size_t i = 0; i < sessions; ++i)
  {
    const echo_session& s = *all[i];
    BOOST_TEST_CONTEXT("session " << i)
    {
      BOOST_TEST(!peer_error[i]);
      BOOST_TEST(s.errors == 0u);
      BOOST_TEST(!s.first_error);
      BOOST_TEST(s.got.size() == data[i].size());
      BOOST_TEST((s.got == data[i]));
      BOOST_TEST(echoed[i].size() == data[i].size());
      BOOST_TEST((echoed[i] == data[i]));
      BOOST_TEST(s.reads_started >= chunks);
      BOOST_TEST(s.reads_done == s.reads_started);
      BOOST_TEST(s.writes_done == s.writes_started);
      BOOST_TEST(s.writes_started == s.reads_started);
      BOOST_TEST(s.out_of_order == 0u);
      BOOST_TEST(s.off_strand == 0u);
      BOOST_TEST(s.short_started == 1u);
      BOOST_TEST(s.short_done == 1u);
      BOOST_TEST((s.short_ec == beast::error::timeout));
      BOOST_TEST(s.short_n == 0u);
      BOOST_TEST((s.short_took >= 100ms));
      // As in Beast: the timeout closed the socket; the peer sees the end.
      BOOST_TEST(!s.stream.socket().is_open());
      char c;
      error_code ec;
      BOOST_TEST(peers[i].read_some(net::buffer(&c, 1), ec) == 0u);
      BOOST_TEST((ec == net::error::eof));
    }
  }
  if (multishot_active(ctx)) BOOST_TEST(stats(ctx).multishot_requests >= sessions);
  const auto c = stats(ctx);
  BOOST_TEST_MESSAGE("32 echo sessions, 3 threads: multishot requests " << c.multishot_requests
      << ", single " << c.single_requests << ", nobufs " << c.nobufs);
}
