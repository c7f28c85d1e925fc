// Zero-copy send (IORING_OP_SEND_ZC / SENDMSG_ZC) for large stream writes:
// exact bytes, the handler once and only after the kernel's notification,
// short sends, a closed peer, cancellation, close, the fallback for sockets
// that refuse zero copy. Every case also runs where zero copy is off (the
// emulated engine, ASIO_URING_FEATURES=-send_zc): same results, no request.
#define BOOST_TEST_MODULE send_zc
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <future>
#include <thread>

#include "support.hpp"

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

using test_support::pattern;
using test_support::tcp_pair;

namespace {

// Every peer here is on this host, where the library keeps copying unless
// told otherwise: these tests tell it otherwise.
asio_uring::io_context_options local_zc()
{
  asio_uring::io_context_options o;
  o.send_zc_local = true;
  return o;
}

asio_uring::detail::send_zc_state& zc_of(asio_uring::io_context& ctx)
{
  return ctx.impl().send_zc();
}

// Whether this context sends large writes with zero copy, from what the
// engine, the probe and the options say (not from the code under test).
bool zc_expected(asio_uring::io_context& ctx)
{
  auto& r = ctx.impl().get_ring();
  return r.engine() == asio_uring::engine_kind::io_uring && r.supports(IORING_OP_SEND_ZC)
      && r.options().send_zc_threshold != 0 && r.options().send_zc_local;
}

std::size_t threshold_of(asio_uring::io_context& ctx)
{
  std::size_t t = ctx.impl().get_ring().options().send_zc_threshold;
  return t ? t : 64 * 1024;
}

std::uint64_t get(const std::atomic<std::uint64_t>& c) { return c.load(); }

// Fills the socket's send path (the peer does not read) with plain
// non-blocking sends until a send started now cannot take a byte: the send
// buffer is full and no byte is in flight, so no ACK can come to free room
// (nor, with a fixed buffer, to grow it) until the peer reads. The first
// EAGAIN is not enough: bytes still in flight are acknowledged later, and
// an autotuned buffer grows then, so a send issued after it takes a part.
// Use it on a tcp_pair with both buffers set. Returns the bytes queued, 0
// when the path did not settle within 10 s.
std::size_t fill(tcp::socket& s)
{
  std::string chunk(64 * 1024, 'f');
  std::size_t total = 0;
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  // Settled: EAGAIN with nothing in flight, three times 5 ms apart.
  for (int settled = 0; settled < 3;)
  {
    ssize_t n = ::send(s.native_handle(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0)
    {
      total += static_cast<std::size_t>(n);
      settled = 0;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return 0;
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(s.native_handle(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
    settled = info.tcpi_unacked == 0 ? settled + 1 : 0;
    if (std::chrono::steady_clock::now() > give_up) return 0;
    std::this_thread::sleep_for(5ms);
  }
  return total;
}

// The buffers for fill(): small and fixed, so the sender's buffer and the
// peer's window are full at once and stay so.
constexpr int fill_buffer = 64 * 1024;

// One async_write_some per call until `data` is sent; records, for each
// handler, the zero-copy requests and notifications seen so far.
struct writer
{
  tcp::socket& sock;
  const std::string& data;
  asio_uring::detail::send_zc_state& zc;
  std::size_t sent = 0;
  int handlers = 0;
  error_code ec;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;  // (requests, notifications)

  void start()
  {
    sock.async_write_some(net::buffer(data.data() + sent, data.size() - sent),
        [this](error_code e, std::size_t n) {
          ++handlers;
          seen.emplace_back(get(zc.stats.requests), get(zc.stats.notifications));
          sent += n;
          if (e) ec = e;
          else if (sent < data.size()) start();
        });
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(sizes_around_the_threshold_exact_bytes_handler_after_notification)
{
  asio_uring::io_context ctx(local_zc());
  const bool zc = zc_expected(ctx);
  const std::size_t t = threshold_of(ctx);
  std::size_t seed = 0;
  for (std::size_t size : {t - 1, t, std::size_t(1) << 20, std::size_t(16) << 20})
  {
    tcp_pair p(ctx);
    const std::string data = pattern(size, ++seed);
    std::string got(size, '\0');
    std::size_t read_n = 0;
    error_code read_ec;
    net::async_read(p.server, net::buffer(got), [&](error_code e, std::size_t n) { read_ec = e; read_n = n; });
    const std::uint64_t req0 = get(zc_of(ctx).stats.requests);
    writer w{p.client, data, zc_of(ctx), 0, 0, {}, {}};
    w.start();
    ctx.run();
    ctx.restart();
    BOOST_TEST_CONTEXT("size " << size)
    {
      BOOST_TEST(!w.ec);
      BOOST_TEST(w.sent == size);
      BOOST_TEST(!read_ec);
      BOOST_TEST(read_n == size);
      BOOST_TEST((got == data));
      BOOST_TEST(w.handlers == static_cast<int>(w.seen.size()));
      const std::uint64_t requests = get(zc_of(ctx).stats.requests) - req0;
      if (!zc || size < t)
        BOOST_TEST(requests == 0u);
      else
      {
        // One zero-copy request per write_some, each handler after its
        // request's notification (TCP takes zero copy: no fallback).
        BOOST_TEST(requests == static_cast<std::uint64_t>(w.handlers));
        for (std::size_t i = 0; i < w.seen.size(); ++i)
        {
          BOOST_TEST(w.seen[i].first == req0 + i + 1);
          BOOST_TEST(w.seen[i].second == w.seen[i].first);
        }
      }
    }
  }
  BOOST_TEST(get(zc_of(ctx).stats.fallbacks) == 0u);
  BOOST_TEST(get(zc_of(ctx).stats.notifications) == get(zc_of(ctx).stats.requests));
}

BOOST_AUTO_TEST_CASE(buffer_sequence_sendmsg_zc_exact_bytes)
{
  asio_uring::io_context ctx(local_zc());
  tcp_pair p(ctx);
  const std::size_t part = threshold_of(ctx) / 2 + 1;
  const std::string a = pattern(part, 1), b = pattern(part, 2), c = pattern(3 * part, 3);
  const std::string all = a + b + c;
  std::array<net::const_buffer, 4> bufs{net::buffer(a), net::const_buffer(), net::buffer(b), net::buffer(c)};
  std::string got(all.size(), '\0');
  std::size_t wrote = 0, read_n = 0;
  int handlers = 0;
  std::uint64_t notifs_at_handler = 0;
  net::async_read(p.server, net::buffer(got), [&](error_code e, std::size_t n) {
    BOOST_TEST(!e);
    read_n = n;
  });
  net::async_write(p.client, bufs, [&](error_code e, std::size_t n) {
    BOOST_TEST(!e);
    ++handlers;
    wrote = n;
    notifs_at_handler = get(zc_of(ctx).stats.notifications);
  });
  ctx.run();
  BOOST_TEST(handlers == 1);
  BOOST_TEST(wrote == all.size());
  BOOST_TEST(read_n == all.size());
  BOOST_TEST((got == all));
  const bool sendmsg_zc = zc_expected(ctx) && ctx.impl().get_ring().supports(IORING_OP_SENDMSG_ZC);
  BOOST_TEST((get(zc_of(ctx).stats.requests) > 0) == sendmsg_zc);
  BOOST_TEST(notifs_at_handler == get(zc_of(ctx).stats.requests));
}

BOOST_AUTO_TEST_CASE(async_write_16mib_to_a_slow_reader)
{
  asio_uring::io_context ctx(local_zc());
  tcp_pair p(ctx);
  const std::string data = pattern(16 << 20, 5);
  std::string got;
  std::array<char, 64 * 1024> chunk;
  asio_uring::steady_timer pause(ctx);
  std::function<void()> read_more = [&] {
    p.server.async_read_some(net::buffer(chunk), [&](error_code e, std::size_t n) {
      got.append(chunk.data(), n);
      if (e || got.size() == data.size()) return;
      pause.expires_after(200us);
      pause.async_wait([&](error_code) { read_more(); });
    });
  };
  read_more();
  error_code wec;
  std::size_t wrote = 0;
  int handlers = 0;
  net::async_write(p.client, net::buffer(data), [&](error_code e, std::size_t n) {
    ++handlers;
    wec = e;
    wrote = n;
  });
  ctx.run();
  BOOST_TEST(handlers == 1);
  BOOST_TEST(!wec);
  BOOST_TEST(wrote == data.size());
  BOOST_TEST(got.size() == data.size());
  BOOST_TEST((got == data));
  BOOST_TEST((get(zc_of(ctx).stats.requests) > 0) == zc_expected(ctx));
  BOOST_TEST(get(zc_of(ctx).stats.notifications) == get(zc_of(ctx).stats.requests));
}

BOOST_AUTO_TEST_CASE(peer_closed_is_broken_pipe_or_reset)
{
  asio_uring::io_context ctx(local_zc());
  tcp_pair p(ctx);
  p.server.set_option(net::socket_base::linger(true, 0));  // close sends RST
  p.server.close();
  const std::string data = pattern(4 << 20, 6);
  int handlers = 0;
  error_code wec;
  net::async_write(p.client, net::buffer(data), [&](error_code e, std::size_t) {
    ++handlers;
    wec = e;
  });
  ctx.run();
  BOOST_TEST(handlers == 1);
  BOOST_TEST((wec == net::error::broken_pipe || wec == net::error::connection_reset), wec.message());
  BOOST_TEST(get(zc_of(ctx).stats.notifications) == get(zc_of(ctx).stats.requests));
}

// A send that cannot start (the peer reads nothing and the socket is full),
// cancelled through its slot: operation_aborted once; the kernel never held
// the buffer, so the notification comes at once. Had the kernel taken a part
// the handler would wait for a reader: after 5 s the peer resets instead,
// and the test fails rather than hangs.
BOOST_AUTO_TEST_CASE(cancel_pending_large_send_through_slot)
{
  asio_uring::io_context ctx(local_zc());
  tcp_pair p(ctx, fill_buffer, fill_buffer);
  BOOST_TEST_REQUIRE(fill(p.client) > 0u);
  const std::string data = pattern(1 << 20, 7);
  net::cancellation_signal sig;
  int handlers = 0;
  error_code wec;
  std::size_t wrote = 99;
  asio_uring::steady_timer watchdog(ctx);
  bool reset = false;
  p.client.async_write_some(net::buffer(data), net::bind_cancellation_slot(sig.slot(),
      [&](error_code e, std::size_t n) {
        ++handlers;
        wec = e;
        wrote = n;
        watchdog.cancel();
      }));
  int handlers_at_cancel = -1;
  asio_uring::steady_timer t(ctx);
  t.expires_after(50ms);
  t.async_wait([&](error_code) {
    handlers_at_cancel = handlers;
    sig.emit(net::cancellation_type::terminal);
  });
  watchdog.expires_after(5s);
  watchdog.async_wait([&](error_code e) {
    if (e) return;
    reset = true;
    p.server.set_option(net::socket_base::linger(true, 0));
    p.server.close();
  });
  ctx.run();
  BOOST_TEST(handlers_at_cancel == 0);
  BOOST_TEST(!reset);
  BOOST_TEST(handlers == 1);
  BOOST_TEST((wec == net::error::operation_aborted), wec.message());
  BOOST_TEST(wrote == 0u);
  BOOST_TEST((get(zc_of(ctx).stats.requests) == 1u) == zc_expected(ctx));
  BOOST_TEST(get(zc_of(ctx).stats.notifications) == get(zc_of(ctx).stats.requests));
}

// A send the kernel took but could not transmit (the peer reads nothing):
// the kernel holds the pages, so cancel() cannot end it early; the handler
// runs once, with the kernel's count, when the peer goes away (RST) and the
// kernel lets go of the buffer. With a copying send it ran long before.
BOOST_AUTO_TEST_CASE(cancel_large_send_to_a_reader_that_never_reads)
{
  asio_uring::io_context ctx(local_zc());
  const bool zc = zc_expected(ctx);
  tcp_pair p(ctx, 64 * 1024);  // most of the 16 MiB cannot leave the sender
  const std::string data = pattern(16 << 20, 8);
  int handlers = 0;
  error_code wec;
  std::size_t wrote = 0;
  int handlers_before_reset = -1;
  p.client.async_write_some(net::buffer(data), [&](error_code e, std::size_t n) {
    ++handlers;
    wec = e;
    wrote = n;
  });
  asio_uring::steady_timer t(ctx);
  t.expires_after(100ms);
  t.async_wait([&](error_code) {
    p.client.cancel();
    t.expires_after(100ms);
    t.async_wait([&](error_code) {
      handlers_before_reset = handlers;
      p.server.set_option(net::socket_base::linger(true, 0));
      p.server.close();
    });
  });
  ctx.run();
  BOOST_TEST(handlers == 1);
  BOOST_TEST(handlers_before_reset == (zc ? 0 : 1));
  // The kernel queued part of the 16 MiB before the cancel, or none.
  BOOST_TEST(((!wec && wrote > 0 && wrote < data.size()) || wec == net::error::operation_aborted),
      wec.message() << " " << wrote);
  BOOST_TEST(get(zc_of(ctx).stats.notifications) == get(zc_of(ctx).stats.requests));
}

// Closing the sender while its send cannot start (the socket is full):
// operation_aborted once. As above, a watchdog resets the peer after 5 s
// so that a send the kernel took a part of fails the test, not hangs it.
BOOST_AUTO_TEST_CASE(close_with_a_pending_zero_copy_send)
{
  asio_uring::io_context ctx(local_zc());
  tcp_pair p(ctx, fill_buffer, fill_buffer);
  BOOST_TEST_REQUIRE(fill(p.client) > 0u);
  auto data = std::make_unique<std::string>(pattern(1 << 20, 9));
  int handlers = 0;
  error_code wec;
  asio_uring::steady_timer watchdog(ctx);
  bool reset = false;
  p.client.async_write_some(net::buffer(*data), [&](error_code e, std::size_t) {
    ++handlers;
    wec = e;
    data.reset();  // the buffer may go away in the handler
    watchdog.cancel();
  });
  net::post(ctx, [&] { p.client.close(); });
  watchdog.expires_after(5s);
  watchdog.async_wait([&](error_code e) {
    if (e) return;
    reset = true;
    p.server.set_option(net::socket_base::linger(true, 0));
    p.server.close();
  });
  ctx.run();
  BOOST_TEST(!reset);
  BOOST_TEST(handlers == 1);
  BOOST_TEST((wec == net::error::operation_aborted), wec.message());
  BOOST_TEST(!data);
  BOOST_TEST(get(zc_of(ctx).stats.notifications) == get(zc_of(ctx).stats.requests));
}

// Closing the sender while the kernel still holds the pages of a sent part:
// the handler waits for them (a peer reset here), runs once, and the buffer
// outlives the kernel's use of it (ASan checks the rest).
BOOST_AUTO_TEST_CASE(close_while_the_kernel_holds_the_buffer)
{
  asio_uring::io_context ctx(local_zc());
  tcp_pair p(ctx);
  auto data = std::make_unique<std::string>(pattern(16 << 20, 10));
  int handlers = 0;
  error_code wec;
  net::async_write(p.client, net::buffer(*data), [&](error_code e, std::size_t) {
    ++handlers;
    wec = e;
    data.reset();
  });
  asio_uring::steady_timer t(ctx);
  t.expires_after(50ms);
  t.async_wait([&](error_code) {
    p.client.close();
    p.server.set_option(net::socket_base::linger(true, 0));
    p.server.close();
  });
  ctx.run();
  BOOST_TEST(handlers == 1);
  BOOST_TEST((wec == net::error::operation_aborted || wec == net::error::bad_descriptor), wec.message());
  BOOST_TEST(get(zc_of(ctx).stats.notifications) == get(zc_of(ctx).stats.requests));
}

BOOST_AUTO_TEST_CASE(context_destroyed_with_a_pending_zero_copy_send)
{
  auto data = pattern(1 << 20, 11);
  bool destroyed = false, ran = false;
  struct marker
  {
    bool* d;
    marker(bool* p) : d(p) {}
    marker(marker&& o) noexcept : d(std::exchange(o.d, nullptr)) {}
    ~marker() { if (d) *d = true; }
  };
  {
    asio_uring::io_context ctx(local_zc());
    tcp_pair p(ctx, fill_buffer, fill_buffer);
    BOOST_TEST_REQUIRE(fill(p.client) > 0u);
    p.client.async_write_some(net::buffer(data), [&ran, m = marker(&destroyed)](error_code, std::size_t) {
      ran = true;
    });
    ctx.run_for(20ms);
  }
  BOOST_TEST(!ran);
  BOOST_TEST(destroyed);
}

// AF_UNIX has no zero copy (EOPNOTSUPP): the same bytes go by a copying
// send, the context remembers it for the family, TCP keeps zero copy.
BOOST_AUTO_TEST_CASE(unix_socketpair_falls_back_once_per_context)
{
  asio_uring::io_context ctx(local_zc());
  const bool zc = zc_expected(ctx);
  using local = asio_uring::local::stream_protocol;
  local::socket a(ctx), b(ctx);
  asio_uring::local::connect_pair(a, b);
  const std::string data = pattern(1 << 20, 12);
  for (int round = 0; round < 2; ++round)
  {
    std::string got(data.size(), '\0');
    error_code wec, rec;
    std::size_t wrote = 0, read_n = 0;
    net::async_read(b, net::buffer(got), [&](error_code e, std::size_t n) { rec = e; read_n = n; });
    net::async_write(a, net::buffer(data), [&](error_code e, std::size_t n) { wec = e; wrote = n; });
    ctx.run();
    ctx.restart();
    BOOST_TEST(!wec);
    BOOST_TEST(!rec);
    BOOST_TEST(wrote == data.size());
    BOOST_TEST(read_n == data.size());
    BOOST_TEST((got == data));
    BOOST_TEST(get(zc_of(ctx).stats.requests) == (zc ? 1u : 0u));
    BOOST_TEST(get(zc_of(ctx).stats.fallbacks) == (zc ? 1u : 0u));
  }
  tcp_pair p(ctx);
  std::string got(data.size(), '\0');
  net::async_read(p.server, net::buffer(got), [](error_code e, std::size_t) { BOOST_TEST(!e); });
  net::async_write(p.client, net::buffer(data), [](error_code e, std::size_t) { BOOST_TEST(!e); });
  ctx.run();
  BOOST_TEST((got == data));
  BOOST_TEST((get(zc_of(ctx).stats.requests) > 1u) == zc);
  BOOST_TEST(get(zc_of(ctx).stats.fallbacks) == (zc ? 1u : 0u));
}

BOOST_AUTO_TEST_CASE(threshold_option_and_completion_tokens)
{
  asio_uring::io_context_options opts = local_zc();
  opts.send_zc_threshold = 1;  // every send
  asio_uring::io_context ctx(opts);
  const bool zc = zc_expected(ctx);
  tcp_pair p(ctx);
  std::string got(5, '\0');
  auto read = net::async_read(p.server, net::buffer(got), net::use_future);
  auto wrote = p.client.async_send(net::buffer("hello", 5), net::use_future);
  std::thread runner([&] { ctx.run(); });
  BOOST_TEST(wrote.get() == 5u);
  BOOST_TEST(read.get() == 5u);
  runner.join();
  BOOST_TEST(got == "hello");
  BOOST_TEST(get(zc_of(ctx).stats.requests) == (zc ? 1u : 0u));

  // Flags other than 0 (here MSG_DONTWAIT) keep the copying send.
  ctx.restart();
  std::size_t n = 0;
  p.client.async_send(net::buffer("x", 1), MSG_DONTWAIT, [&](error_code e, std::size_t k) {
    BOOST_TEST(!e);
    n = k;
  });
  ctx.run();
  BOOST_TEST(n == 1u);
  BOOST_TEST(get(zc_of(ctx).stats.requests) == (zc ? 1u : 0u));

  asio_uring::io_context_options off = local_zc();
  off.send_zc_threshold = 0;
  asio_uring::io_context ctx0(off);
  BOOST_TEST(!zc_expected(ctx0));
  tcp_pair q(ctx0);
  const std::string big = pattern(1 << 20, 13);
  std::string got0(big.size(), '\0');
  net::async_read(q.server, net::buffer(got0), [](error_code e, std::size_t) { BOOST_TEST(!e); });
  net::async_write(q.client, net::buffer(big), [](error_code e, std::size_t) { BOOST_TEST(!e); });
  ctx0.run();
  BOOST_TEST((got0 == big));
  BOOST_TEST(get(zc_of(ctx0).stats.requests) == 0u);
}

// By default a peer on this host (here: loopback, and the socket's own
// address) gets copying sends: the kernel would copy anyway.
BOOST_AUTO_TEST_CASE(local_peers_keep_copying_by_default)
{
  asio_uring::io_context ctx;
  BOOST_TEST(!ctx.impl().get_ring().options().send_zc_local);
  const std::string data = pattern(1 << 20, 14);
  tcp_pair p(ctx);
  std::string got(data.size(), '\0');
  net::async_read(p.server, net::buffer(got), [](error_code e, std::size_t) { BOOST_TEST(!e); });
  net::async_write(p.client, net::buffer(data), [](error_code e, std::size_t) { BOOST_TEST(!e); });
  ctx.run();
  BOOST_TEST((got == data));
  BOOST_TEST(get(zc_of(ctx).stats.requests) == 0u);

  BOOST_TEST(asio_uring::detail::peer_on_this_host(p.client.native_handle()));
  BOOST_TEST(!asio_uring::detail::peer_on_this_host(-1));
  asio_uring::ip::udp::socket u(ctx, {net::ip::udp::v6(), 0});  // not connected: no peer
  BOOST_TEST(!asio_uring::detail::peer_on_this_host(u.native_handle()));
  tcp::acceptor a6(ctx, {net::ip::address_v6::loopback(), 0});
  tcp::socket c6(ctx), s6(ctx);
  c6.connect(a6.local_endpoint());
  a6.accept(s6);
  BOOST_TEST(asio_uring::detail::peer_on_this_host(c6.native_handle()));
  BOOST_TEST(asio_uring::detail::peer_on_this_host(s6.native_handle()));

  // ASIO_URING_FEATURES=+send_zc_local turns it on for the process (the
  // variable is put back as it was: this suite also runs with it set).
  const char* old = std::getenv("ASIO_URING_FEATURES");
  const std::string saved = old ? old : "";
  ::setenv("ASIO_URING_FEATURES", "+send_zc_local", 1);
  bool local = false;
  {
    asio_uring::io_context on;
    local = on.impl().get_ring().options().send_zc_local;
  }
  if (old) ::setenv("ASIO_URING_FEATURES", saved.c_str(), 1);
  else ::unsetenv("ASIO_URING_FEATURES");
  BOOST_TEST(local);
}

// Beast's http::async_write of a large body over our socket: the body goes
// by zero copy, the message arrives whole.
BOOST_AUTO_TEST_CASE(beast_http_write_large_body)
{
  namespace http = boost::beast::http;
  asio_uring::io_context ctx(local_zc());
  tcp_pair p(ctx);
  http::request<http::string_body> req{http::verb::post, "/upload", 11};
  req.body() = pattern(3 << 20, 15);
  req.prepare_payload();
  boost::beast::flat_buffer buf;
  error_code rec, wec;
  http::request_parser<http::string_body> parser;
  parser.body_limit(8 << 20);
  http::async_read(p.server, buf, parser, [&](error_code e, std::size_t) { rec = e; });
  http::async_write(p.client, req, [&](error_code e, std::size_t) { wec = e; });
  ctx.run();
  BOOST_TEST(!wec);
  BOOST_TEST(!rec);
  BOOST_TEST(parser.get().target() == "/upload");
  BOOST_TEST((parser.get().body() == req.body()));
  BOOST_TEST((get(zc_of(ctx).stats.requests) > 0) == zc_expected(ctx));
  BOOST_TEST(get(zc_of(ctx).stats.notifications) == get(zc_of(ctx).stats.requests));
}
