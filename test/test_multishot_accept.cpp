// Multishot accept: an acceptor that keeps accepting is served by one
// request; connections accepted while no accept is pending wait (bounded)
// for the next one; cancel, close, destruction, move, fd exhaustion and the
// single-shot fallback (emulated engine, the option, ASIO_URING_FEATURES)
// give the same results.
#define BOOST_TEST_MODULE multishot_accept
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <dirent.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support.hpp"

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

asio_uring::io_context_options with_backlog(unsigned n, bool multishot = true)
{
  asio_uring::io_context_options o;
  o.accept_backlog = n;
  o.multishot_accept = multishot;
  return o;
}

// This context serves a second async_accept with a multishot request.
bool multishot_on(asio_uring::io_context& ctx)
{
  return ctx.engine() == asio_uring::engine_kind::io_uring
      && ctx.impl().get_ring().options().multishot_accept;
}

// Requests `n` accepts submit: 1 + 1 multishot, or one each.
std::size_t expected_requests(asio_uring::io_context& ctx, std::size_t n)
{
  return multishot_on(ctx) ? std::min<std::size_t>(n, 2) : n;
}

int count_fds()
{
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

// Runs `ctx` (kept busy by a work guard) until `done` or 5 s.
void run_until(asio_uring::io_context& ctx, const std::function<bool()>& done)
{
  auto guard = net::make_work_guard(ctx);
  auto end = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < end) ctx.run_for(2ms);
  guard.reset();
  ctx.restart();
}

// Lets every CQE the kernel has for us arrive.
void settle(asio_uring::io_context& ctx)
{
  auto guard = net::make_work_guard(ctx);
  ctx.run_for(30ms);
  guard.reset();
  ctx.restart();
}

// Blocking clients on Asio's own context (no ring involved).
struct clients
{
  net::io_context io;
  // Asio's reactor (its own descriptors) exists from here on.
  clients() { net::ip::tcp::socket warm(io); }
  std::vector<std::unique_ptr<net::ip::tcp::socket>> s;
  void connect(const tcp::endpoint& ep, std::size_t n = 1)
  {
    for (std::size_t i = 0; i < n; ++i)
    {
      s.push_back(std::make_unique<net::ip::tcp::socket>(io));
      s.back()->connect(net::ip::tcp::endpoint(ep.address(), ep.port()));
    }
  }
  std::set<unsigned short> ports() const
  {
    std::set<unsigned short> p;
    for (auto& c : s) p.insert(c->local_endpoint().port());
    return p;
  }
};

// Accepts into the acceptor twice from two clients so that a multishot
// request is armed (where the engine has one).
void arm(asio_uring::io_context& ctx, tcp::acceptor& acc, clients& c, std::vector<tcp::socket>& out)
{
  for (int i = 0; i < 2; ++i)
  {
    bool done = false;
    acc.async_accept([&](error_code ec, tcp::socket s) {
      BOOST_TEST(!ec);
      out.push_back(std::move(s));
      done = true;
    });
    c.connect(acc.local_endpoint());
    run_until(ctx, [&] { return done; });
    BOOST_TEST(done);
  }
}

} // namespace

// N clients, one request: each accepted socket echoes its client's bytes.
BOOST_AUTO_TEST_CASE(n_connections_one_request_exact_bytes)
{
  constexpr int n = 40;
  asio_uring::io_context ctx;
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  int accepted = 0;
  std::vector<std::string> echoed(n);
  std::function<void()> next = [&] {
    acc.async_accept([&](error_code ec, tcp::socket s) {
      BOOST_TEST(!ec);
      if (++accepted < n) next();
      auto sock = std::make_shared<tcp::socket>(std::move(s));
      auto buf = std::make_shared<std::string>(9, '\0');
      net::async_read(*sock, net::buffer(*buf), [sock, buf](error_code ec, std::size_t k) {
        BOOST_TEST(!ec);
        net::async_write(*sock, net::buffer(*buf, k), [sock, buf](error_code ec, std::size_t) { BOOST_TEST(!ec); });
      });
    });
  };
  next();
  std::vector<std::unique_ptr<tcp::socket>> cl;
  for (int i = 0; i < n; ++i)
  {
    cl.push_back(std::make_unique<tcp::socket>(ctx));
    auto* c = cl.back().get();
    c->async_connect(acc.local_endpoint(), [&, c, i](error_code ec) {
      BOOST_TEST(!ec);
      auto msg = std::make_shared<std::string>("client" + std::to_string(100 + i));
      net::async_write(*c, net::buffer(*msg), [&, c, i, msg](error_code ec, std::size_t) {
        BOOST_TEST(!ec);
        echoed[i].resize(9);
        net::async_read(*c, net::buffer(echoed[i]), [](error_code ec, std::size_t k) {
          BOOST_TEST(!ec);
          BOOST_TEST(k == 9u);
        });
      });
    });
  }
  ctx.run();
  BOOST_TEST(accepted == n);
  for (int i = 0; i < n; ++i) BOOST_TEST(echoed[i] == "client" + std::to_string(100 + i));
  BOOST_TEST(acc.accept_requests() == expected_requests(ctx, n));
}

// Every overload of async_accept and the synchronous accept, served by the
// same request; the peer endpoint is the client's.
BOOST_AUTO_TEST_CASE(every_overload_peer_endpoints)
{
  asio_uring::io_context ctx;
  asio_uring::io_context other;
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  clients c;
  std::vector<std::string> log;
  std::vector<tcp::socket> keep;
  std::vector<tcp::endpoint> eps(8);
  tcp::socket into(ctx), into_ep(ctx);
  tcp::endpoint ep_move, ep_ex, ep_ctx;
  auto step = [&](std::function<void(bool&)> start) {
    bool done = false;
    start(done);
    c.connect(acc.local_endpoint());
    run_until(ctx, [&] { return done; });
    BOOST_TEST(done);
  };
  step([&](bool& d) { acc.async_accept(into, [&](error_code ec) { BOOST_TEST(!ec); d = true; }); });
  step([&](bool& d) {
    acc.async_accept(into_ep, eps[1], [&](error_code ec) { BOOST_TEST(!ec); d = true; });
  });
  step([&](bool& d) {
    acc.async_accept([&](error_code ec, tcp::socket s) { BOOST_TEST(!ec); keep.push_back(std::move(s)); d = true; });
  });
  step([&](bool& d) {
    acc.async_accept(eps[3], [&](error_code ec, tcp::socket s) { BOOST_TEST(!ec); keep.push_back(std::move(s)); d = true; });
  });
  step([&](bool& d) {
    acc.async_accept(other.get_executor(), eps[4], [&](error_code ec, auto s) {
      BOOST_TEST(!ec);
      BOOST_TEST(&s.get_executor().context() == &other);
      d = true;
    });
  });
  step([&](bool& d) {
    acc.async_accept(other, eps[5], [&](error_code ec, auto s) {
      BOOST_TEST(!ec);
      BOOST_TEST(s.is_open());
      d = true;
    });
  });
  // The synchronous accept takes what the multishot request queued first.
  c.connect(acc.local_endpoint());
  if (multishot_on(ctx)) run_until(ctx, [&] { return acc.accepted_waiting() == 1; });
  tcp::socket sync_s = acc.accept(eps[6]);
  BOOST_TEST(acc.accepted_waiting() == 0u);

  for (int i : {1, 3, 4, 5, 6}) BOOST_TEST(eps[i].port() == c.s[i]->local_endpoint().port());
  for (int i : {1, 3, 4, 5, 6}) BOOST_TEST(eps[i].address() == net::ip::address_v4::loopback());
  BOOST_TEST(into.remote_endpoint().port() == c.s[0]->local_endpoint().port());
  BOOST_TEST(into_ep.remote_endpoint().port() == c.s[1]->local_endpoint().port());
  BOOST_TEST(sync_s.remote_endpoint().port() == c.s[6]->local_endpoint().port());
  // The first accept, the second (it wants the endpoint, no multishot yet),
  // then one multishot for the other four.
  BOOST_TEST(acc.accept_requests() == (multishot_on(ctx) ? 3u : 6u));
}

// An acceptor whose accepts all want the peer's endpoint keeps single-shot
// requests (the kernel gives the address; multishot would need a
// getpeername system call per connection).
BOOST_AUTO_TEST_CASE(endpoint_accepts_stay_single_shot)
{
  asio_uring::io_context ctx;
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  clients c;
  std::vector<tcp::endpoint> eps(5);
  int done = 0;
  for (int i = 0; i < 5; ++i)
  {
    acc.async_accept(eps[i], [&](error_code ec, tcp::socket) { BOOST_TEST(!ec); ++done; });
    c.connect(acc.local_endpoint());
    run_until(ctx, [&] { return done == i + 1; });
  }
  BOOST_TEST(done == 5);
  for (int i = 0; i < 5; ++i) BOOST_TEST(eps[i].port() == c.s[i]->local_endpoint().port());
  BOOST_TEST(acc.accept_requests() == 5u);
  BOOST_TEST(acc.accepted_waiting() == 0u);
}

// Connections that arrive while no async_accept is pending are handed to
// the next ones at once, in order, without a request each.
BOOST_AUTO_TEST_CASE(accepts_arriving_before_async_accept)
{
  asio_uring::io_context ctx;
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  clients c;
  std::vector<tcp::socket> got;
  arm(ctx, acc, c, got);
  c.connect(acc.local_endpoint(), 5);
  if (multishot_on(ctx))
  {
    run_until(ctx, [&] { return acc.accepted_waiting() == 5; });
    BOOST_TEST(acc.accepted_waiting() == 5u);
  }
  std::vector<std::string> order;
  for (int i = 0; i < 5; ++i)
    acc.async_accept([&, i](error_code ec, tcp::socket s) {
      BOOST_TEST(!ec);
      order.push_back(std::to_string(i));
      got.push_back(std::move(s));
    });
  BOOST_TEST(order.empty());  // never inside the initiating call
  run_until(ctx, [&] { return got.size() == 7; });
  BOOST_TEST(got.size() == 7u);
  BOOST_TEST(order == (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  std::set<unsigned short> peers;
  for (auto& s : got) peers.insert(s.remote_endpoint().port());
  BOOST_TEST((peers == c.ports()));
  BOOST_TEST(acc.accept_requests() == expected_requests(ctx, 7));
}

// A full queue stops the request (the kernel keeps the rest in the listen
// backlog); draining it starts it again; every connection arrives once.
BOOST_AUTO_TEST_CASE(backlog_overflow_then_drain)
{
  asio_uring::io_context ctx(with_backlog(4));
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  clients c;
  std::vector<tcp::socket> got;
  arm(ctx, acc, c, got);
  for (int i = 0; i < 12; ++i)
  {
    c.connect(acc.local_endpoint());
    settle(ctx);
  }
  if (multishot_on(ctx))
  {
    BOOST_TEST(acc.accepted_waiting() == 4u);
    BOOST_TEST(acc.accept_requests() == 2u);
  }
  else
    BOOST_TEST(acc.accepted_waiting() == 0u);
  for (int i = 0; i < 12; ++i)
    acc.async_accept([&](error_code ec, tcp::socket s) {
      BOOST_TEST(!ec);
      got.push_back(std::move(s));
    });
  run_until(ctx, [&] { return got.size() == 14; });
  BOOST_TEST(got.size() == 14u);
  std::set<unsigned short> peers;
  for (auto& s : got) peers.insert(s.remote_endpoint().port());
  BOOST_TEST((peers == c.ports()));
  if (multishot_on(ctx)) BOOST_TEST(acc.accept_requests() == 3u);  // re-armed once
  settle(ctx);
  BOOST_TEST(acc.accepted_waiting() == 0u);
}

// close() with connections queued and an accept pending: the accept is
// aborted, the queued connections closed (their clients see EOF), no
// descriptor left behind.
BOOST_AUTO_TEST_CASE(close_with_queued_connections_and_destruction)
{
  for (bool destroy : {false, true})
  {
    BOOST_TEST_CONTEXT(std::string(destroy ? "destruction" : "close"))
    {
      asio_uring::io_context ctx;
      clients c;
      const int before = count_fds();
      std::vector<error_code> results;
      {
        auto acc = std::make_unique<tcp::acceptor>(ctx, tcp::endpoint{net::ip::address_v4::loopback(), 0});
        std::vector<tcp::socket> got;
        arm(ctx, *acc, c, got);
        c.connect(acc->local_endpoint(), 4);
        if (multishot_on(ctx)) run_until(ctx, [&] { return acc->accepted_waiting() == 4; });
        got.clear();
        if (destroy)
          acc.reset();
        else
          acc->close();
        settle(ctx);
        if (!destroy)
        {
          acc->async_accept([&](error_code ec, tcp::socket) { results.push_back(ec); });
          acc.reset();
        }
      }
      ctx.run();
      for (auto& s : c.s)
      {
        // EOF or a reset within 2 s (a connection left open never gives either).
        pollfd p{s->native_handle(), POLLIN, 0};
        BOOST_TEST(::poll(&p, 1, 2000) == 1);
        char b;
        const ssize_t r = ::recv(s->native_handle(), &b, 1, MSG_DONTWAIT);
        BOOST_TEST((r == 0 || (r < 0 && errno == ECONNRESET)));
      }
      c.s.clear();
      BOOST_TEST(count_fds() == before);
      if (!destroy)
      {
        BOOST_REQUIRE(results.size() == 1u);
        BOOST_TEST((results[0] == net::error::bad_descriptor));
      }
    }
  }
}

// A pending accept when the acceptor is closed or destroyed: operation_aborted.
BOOST_AUTO_TEST_CASE(pending_accept_aborted_by_close_and_destruction)
{
  for (bool destroy : {false, true})
  {
    asio_uring::io_context ctx;
    clients c;
    std::vector<std::string> log;
    auto acc = std::make_unique<tcp::acceptor>(ctx, tcp::endpoint{net::ip::address_v4::loopback(), 0});
    std::vector<tcp::socket> got;
    arm(ctx, *acc, c, got);
    acc->async_accept([&](error_code ec, tcp::socket s) {
      log.push_back(ec == net::error::operation_aborted ? "aborted" : ec.message());
      BOOST_TEST(!s.is_open());
    });
    settle(ctx);
    if (destroy) acc.reset();
    else acc->close();
    ctx.run();
    BOOST_TEST(log == (std::vector<std::string>{"aborted"}));
  }
}

// cancel(): pending accepts aborted, queued connections kept for the next
// accepts, accepting works afterwards.
BOOST_AUTO_TEST_CASE(cancel_keeps_queued_connections)
{
  asio_uring::io_context ctx;
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  clients c;
  std::vector<tcp::socket> got;
  arm(ctx, acc, c, got);
  c.connect(acc.local_endpoint(), 2);
  if (multishot_on(ctx)) run_until(ctx, [&] { return acc.accepted_waiting() == 2; });
  acc.cancel();
  settle(ctx);
  BOOST_TEST(acc.accepted_waiting() == (multishot_on(ctx) ? 2u : 0u));
  std::vector<std::string> log;
  auto accept_one = [&] {
    acc.async_accept([&](error_code ec, tcp::socket s) {
      log.push_back(ec == net::error::operation_aborted ? "aborted" : ec ? ec.message() : "ok");
      if (!ec) got.push_back(std::move(s));
    });
  };
  accept_one();
  accept_one();
  run_until(ctx, [&] { return log.size() == 2; });
  accept_one();
  settle(ctx);
  acc.cancel();
  run_until(ctx, [&] { return log.size() == 3; });
  accept_one();
  c.connect(acc.local_endpoint());
  run_until(ctx, [&] { return log.size() == 4; });
  BOOST_TEST(log == (std::vector<std::string>{"ok", "ok", "aborted", "ok"}));
  std::set<unsigned short> peers;
  for (auto& s : got) peers.insert(s.remote_endpoint().port());
  BOOST_TEST((peers == c.ports()));
}

// A cancellation slot aborts its own accept only.
BOOST_AUTO_TEST_CASE(cancellation_slot_aborts_one)
{
  asio_uring::io_context ctx;
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  clients c;
  std::vector<tcp::socket> got;
  arm(ctx, acc, c, got);
  net::cancellation_signal sig;
  std::vector<std::string> log;
  acc.async_accept(net::bind_cancellation_slot(sig.slot(), [&](error_code ec, tcp::socket) {
    log.push_back(ec == net::error::operation_aborted ? "first aborted" : "first " + ec.message());
  }));
  acc.async_accept([&](error_code ec, tcp::socket s) {
    log.push_back(ec ? "second " + ec.message() : "second ok");
    got.push_back(std::move(s));
  });
  settle(ctx);
  sig.emit(net::cancellation_type::terminal);
  run_until(ctx, [&] { return log.size() == 1; });
  c.connect(acc.local_endpoint());
  run_until(ctx, [&] { return log.size() == 2; });
  BOOST_TEST(log == (std::vector<std::string>{"first aborted", "second ok"}));
  BOOST_TEST(got.back().remote_endpoint().port() == c.s.back()->local_endpoint().port());
  BOOST_TEST(acc.accept_requests() == expected_requests(ctx, 4));
}

// Moving an acceptor with a multishot request active keeps its queue and
// its request.
BOOST_AUTO_TEST_CASE(move_with_multishot_active)
{
  asio_uring::io_context ctx;
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  clients c;
  std::vector<tcp::socket> got;
  arm(ctx, acc, c, got);
  c.connect(acc.local_endpoint());
  if (multishot_on(ctx)) run_until(ctx, [&] { return acc.accepted_waiting() == 1; });
  tcp::acceptor moved(std::move(acc));
  BOOST_TEST(!acc.is_open());
  BOOST_TEST(moved.accepted_waiting() == (multishot_on(ctx) ? 1u : 0u));
  tcp::acceptor assigned(ctx);
  assigned = std::move(moved);
  for (int i = 0; i < 3; ++i)
    assigned.async_accept([&](error_code ec, tcp::socket s) {
      BOOST_TEST(!ec);
      got.push_back(std::move(s));
    });
  c.connect(assigned.local_endpoint(), 2);
  run_until(ctx, [&] { return got.size() == 5; });
  BOOST_TEST(got.size() == 5u);
  std::set<unsigned short> peers;
  for (auto& s : got) peers.insert(s.remote_endpoint().port());
  BOOST_TEST((peers == c.ports()));
  BOOST_TEST(assigned.accept_requests() == expected_requests(ctx, 5));
}

// The switch off (option): single-shot requests, same results.
BOOST_AUTO_TEST_CASE(option_off_is_single_shot)
{
  asio_uring::io_context ctx(with_backlog(64, false));
  BOOST_TEST(!multishot_on(ctx));
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  clients c;
  std::vector<tcp::socket> got;
  arm(ctx, acc, c, got);
  for (int i = 0; i < 6; ++i)
    acc.async_accept([&](error_code ec, tcp::socket s) {
      BOOST_TEST(!ec);
      got.push_back(std::move(s));
    });
  c.connect(acc.local_endpoint(), 6);
  run_until(ctx, [&] { return got.size() == 8; });
  BOOST_TEST(got.size() == 8u);
  BOOST_TEST(acc.accept_requests() == 8u);
  BOOST_TEST(acc.accepted_waiting() == 0u);
}

// EINVAL from a socket that is not listening is the user's error (as with
// single-shot accepts), not the kernel refusing multishot: after listen()
// the acceptor uses a multishot request.
BOOST_AUTO_TEST_CASE(not_listening_is_einval_not_a_fallback)
{
  asio_uring::io_context ctx;
  tcp::acceptor acc(ctx, tcp::v4());
  acc.bind({net::ip::address_v4::loopback(), 0});
  std::vector<error_code> errs;
  for (int i = 0; i < 2; ++i)
    acc.async_accept([&](error_code ec, tcp::socket) { errs.push_back(ec); });
  ctx.run();
  BOOST_REQUIRE(errs.size() == 2u);
  for (auto& e : errs) BOOST_TEST((e == net::error::invalid_argument));
  ctx.restart();
  acc.listen();
  clients c;
  std::vector<tcp::socket> got;
  for (int i = 0; i < 3; ++i)
    acc.async_accept([&](error_code ec, tcp::socket s) {
      BOOST_TEST(!ec);
      got.push_back(std::move(s));
    });
  c.connect(acc.local_endpoint(), 3);
  ctx.run();
  BOOST_TEST(got.size() == 3u);
  // 1 single-shot, then 1 multishot that failed, then 1 multishot.
  BOOST_TEST(acc.accept_requests() == (multishot_on(ctx) ? 3u : 5u));
}

namespace {

// In a forked child: the descriptor limit is reached while accepting.
std::string emfile_child(bool multishot)
{
  std::string out;
  asio_uring::io_context ctx(with_backlog(64, multishot));
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  clients c;
  std::vector<tcp::socket> got;
  arm(ctx, acc, c, got);
  c.s.push_back(std::make_unique<net::ip::tcp::socket>(c.io));
  c.s.back()->open(net::ip::tcp::v4());
  // Every descriptor number below the limit is taken.
  const int spare = ::dup(0);
  ::close(spare);
  const int before = count_fds();
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(spare);
  ::setrlimit(RLIMIT_NOFILE, &low);
  // The kernel reads the limit when a request is prepared: the armed
  // multishot request still has the old one, so end it (cancel) and let the
  // next accept arm a new one. (A server reaches the limit by opening
  // descriptors, which the request sees whenever it was armed.)
  acc.cancel();
  settle(ctx);
  std::vector<error_code> errs;
  acc.async_accept([&](error_code ec, tcp::socket s) {
    errs.push_back(ec);
    if (s.is_open()) out += "unexpected socket; ";
  });
  c.s.back()->connect(net::ip::tcp::endpoint(net::ip::address_v4::loopback(), acc.local_endpoint().port()));
  run_until(ctx, [&] { return !errs.empty(); });
  // too_many_files_open: EMFILE in the system category (Asio's no_descriptors).
  if (errs.size() != 1 || errs[0] != error_code(EMFILE, boost::system::system_category()))
    out += "first accept: " + (errs.empty() ? std::string("none") : errs[0].message()) + "; ";
  // Room again: the connection still waits in the listen backlog.
  ::setrlimit(RLIMIT_NOFILE, &old);
  if (count_fds() != before) out += "fd leaked; ";
  bool ok = false;
  acc.async_accept([&](error_code ec, tcp::socket s) {
    ok = !ec && s.remote_endpoint().port() == c.s.back()->local_endpoint().port();
    if (ec) out += "second accept: " + ec.message() + "; ";
    got.push_back(std::move(s));
  });
  run_until(ctx, [&] { return !got.empty() && got.size() == 3; });
  if (!ok) out += "second accept did not get the connection; ";
  return out.empty() ? "ok" : out;
}

} // namespace

// EMFILE: the accept completes with too_many_files_open, nothing leaks, and
// accepting works again once descriptors are free.
BOOST_AUTO_TEST_CASE(fd_exhaustion_emfile)
{
  BOOST_TEST(test_support::child_output([] { return emfile_child(true); }) == "ok");
  BOOST_TEST(test_support::child_output([] { return emfile_child(false); }) == "ok");
}

// Destroying the context with a multishot request, queued connections and a
// pending accept owned by a coroutine: the coroutine (and the acceptor in
// it) is destroyed, every connection closed.
BOOST_AUTO_TEST_CASE(context_destroyed_with_multishot_active)
{
  clients c;
  const int before = count_fds();
  {
    asio_uring::io_context ctx;
    tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
    auto ep = acc.local_endpoint();
    auto alive = std::make_shared<int>(0);
    net::co_spawn(ctx, [a = std::move(acc), alive]() mutable -> net::awaitable<void> {
      for (;;)
      {
        auto s = co_await a.async_accept(net::use_awaitable);
        ++*alive;
      }
    }, net::detached);
    c.connect(ep, 3);
    run_until(ctx, [&] { return *alive == 3; });
    BOOST_TEST(*alive == 3);
    c.connect(ep, 2);
    std::weak_ptr<int> w = alive;
    alive.reset();
    settle(ctx);
    BOOST_TEST(!w.expired());
  }
  c.s.clear();
  BOOST_TEST(count_fds() == before);
}
