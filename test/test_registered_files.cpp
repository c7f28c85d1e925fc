// Registered files for sockets (detail/file_table.hpp): a socket that has
// done registered_files_after requests gets a slot in the ring's sparse file
// table and its requests then use it (IOSQE_FIXED_FILE), while
// native_handle() stays its descriptor. Exact bytes across the threshold,
// the descriptor's own system calls, close / release / destruction / cancel,
// a full table, the ring renewed (thread change, fork child), multishot
// receive, zero-copy send, accepted sockets. Every case also runs where the
// feature is off (the emulated engine, ASIO_URING_FEATURES=-registered_files):
// the same results, no slot.
#define BOOST_TEST_MODULE registered_files
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;
using boost::system::error_code;

namespace {

asio_uring::io_context_options opts(unsigned after = 4, unsigned table = 1024)
{
  asio_uring::io_context_options o;
  o.registered_files = true;
  o.registered_files_after = after;
  o.registered_files_table = table;
  return o;
}

const asio_uring::detail::file_table& files(asio_uring::io_context& ctx)
{
  return ctx.impl().get_ring().files();
}

// Whether sockets of this context get slots, from the engine and the options
// (after ASIO_URING_FEATURES), not from the code under test. The kernel here
// (6.18) has sparse tables: where they are expected the table must exist.
bool expected(asio_uring::io_context& ctx)
{
  auto& r = ctx.impl().get_ring();
  return r.engine() == asio_uring::engine_kind::io_uring && r.options().registered_files
      && r.options().registered_files_table > 0;
}

using test_support::pattern;
using test_support::tcp_pair;

// One round trip with asynchronous operations on both ends: `a` sends
// `size` bytes, `b` reads them exactly and sends them back reversed, `a`
// reads those. Runs the context until done; false on any difference.
bool round_trip(asio_uring::io_context& ctx, tcp::socket& a, tcp::socket& b, std::size_t size,
    std::size_t seed)
{
  const std::string out = pattern(size, seed);
  std::string mid(size, '\0'), back(size, '\0'), reply;
  error_code e1, e2, e3, e4;
  bool done = false;
  net::async_write(a, net::buffer(out), [&](error_code e, std::size_t) { e1 = e; });
  net::async_read(b, net::buffer(mid), [&](error_code e, std::size_t) {
    e2 = e;
    reply.assign(mid.rbegin(), mid.rend());
    net::async_write(b, net::buffer(reply), [&](error_code e, std::size_t) { e3 = e; });
    net::async_read(a, net::buffer(back), [&](error_code e, std::size_t) {
      e4 = e;
      done = true;
    });
  });
  ctx.restart();
  ctx.run();
  return done && !e1 && !e2 && !e3 && !e4 && mid == out
      && back == std::string(out.rbegin(), out.rend());
}

// A round trip between `s` (asynchronous operations) and a peer used only
// with system calls (no multishot receive takes its data), for the cases
// that read the peer's descriptor directly.
bool served_round_trip(asio_uring::io_context& ctx, tcp::socket& s, tcp::socket& peer,
    std::size_t size, std::size_t seed)
{
  const std::string out = pattern(size, seed);
  std::string mid(size, '\0'), back(size, '\0');
  error_code e1, e2;
  net::async_write(s, net::buffer(out), [&](error_code e, std::size_t) { e1 = e; });
  ctx.restart();
  ctx.run();
  net::read(peer, net::buffer(mid));
  net::write(peer, net::buffer(std::string(mid.rbegin(), mid.rend())));
  net::async_read(s, net::buffer(back), [&](error_code e, std::size_t) { e2 = e; });
  ctx.restart();
  ctx.run();
  return !e1 && !e2 && mid == out && back == std::string(out.rbegin(), out.rend());
}

// The peer's next read, without running the context: bytes, 0 (eof), or -1
// (nothing within `ms`).
long peer_read(int fd, int ms, std::string* got = nullptr)
{
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) != 1) return -1;
  char buf[4096];
  const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n > 0 && got) got->assign(buf, static_cast<std::size_t>(n));
  return n < 0 ? -1 : n;
}

} // namespace

BOOST_AUTO_TEST_CASE(exact_bytes_both_directions_across_the_threshold)
{
  asio_uring::io_context ctx(opts(4));
  const bool reg = expected(ctx);
  if (reg) BOOST_TEST_REQUIRE(files(ctx).size() > 0u);
  else BOOST_TEST(files(ctx).size() == 0u);
  tcp_pair p(ctx);
  BOOST_TEST(p.server.registered_file_slot() == -1);
  std::size_t fixed_before_threshold = 0;
  for (std::size_t i = 0; i < 60; ++i)
  {
    // Sizes from 1 byte to several buffers' worth (async_read/write loop).
    const std::size_t size = 1 + (i * 7919) % (i < 50 ? 3000 : 300000);
    BOOST_TEST_REQUIRE(round_trip(ctx, p.client, p.server, size, i));
    if (i == 0) fixed_before_threshold = files(ctx).stats.fixed_requests;
  }
  BOOST_TEST(fixed_before_threshold == 0u);
  BOOST_TEST((p.server.registered_file_slot() >= 0) == reg);
  BOOST_TEST((p.client.registered_file_slot() >= 0) == reg);
  if (reg) BOOST_TEST(p.server.registered_file_slot() != p.client.registered_file_slot());
  BOOST_TEST(files(ctx).stats.registered == (reg ? 2u : 0u));
  BOOST_TEST((files(ctx).stats.fixed_requests > 100u) == reg);
  BOOST_TEST(files(ctx).stats.failed == 0u);

  // A moved socket keeps its slot; the moved-from one has none.
  const int slot = p.server.registered_file_slot();
  tcp::socket moved(std::move(p.server));
  BOOST_TEST(moved.registered_file_slot() == slot);
  BOOST_TEST(p.server.registered_file_slot() == -1);
  BOOST_TEST_REQUIRE(round_trip(ctx, moved, p.client, 5000, 99));
  BOOST_TEST(moved.registered_file_slot() == slot);
}

BOOST_AUTO_TEST_CASE(native_handle_is_the_descriptor_after_registration)
{
  asio_uring::io_context ctx(opts(2));
  tcp_pair p(ctx);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(served_round_trip(ctx, p.server, p.client, 100, i));
  BOOST_TEST((p.server.registered_file_slot() >= 0) == expected(ctx));

  const int fd = p.server.native_handle();
  int type = 0;
  socklen_t len = sizeof type;
  BOOST_TEST(::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0);
  BOOST_TEST(type == SOCK_STREAM);
  BOOST_TEST(::send(fd, "syscall", 7, MSG_NOSIGNAL) == 7);
  std::string got;
  BOOST_TEST(peer_read(p.client.native_handle(), 2000, &got) == 7);
  BOOST_TEST(got == "syscall");
  // The synchronous members are system calls on the descriptor too.
  net::socket_base::keep_alive ka(true);
  p.server.set_option(ka);
  net::socket_base::keep_alive back;
  p.server.get_option(back);
  BOOST_TEST(back.value());
  BOOST_TEST(p.server.local_endpoint().port() != 0);
  BOOST_TEST(p.server.write_some(net::buffer("sync", 4)) == 4u);
  BOOST_TEST(peer_read(p.client.native_handle(), 2000, &got) == 4);
  BOOST_TEST(got == "sync");
  BOOST_TEST_REQUIRE(served_round_trip(ctx, p.server, p.client, 100, 7));
}

// The peer sees the FIN at once: the slot is emptied (and the pending read
// cancelled) before the descriptor is closed, without the context running.
BOOST_AUTO_TEST_CASE(close_peer_reads_eof_at_once)
{
  asio_uring::io_context ctx(opts(2));
  tcp_pair p(ctx);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(served_round_trip(ctx, p.server, p.client, 64, i));
  const bool reg = p.server.registered_file_slot() >= 0;
  BOOST_TEST(reg == expected(ctx));
  const std::size_t unreg0 = files(ctx).stats.unregistered;
  char buf[16];
  error_code read_ec;
  bool called = false;
  p.server.async_read_some(net::buffer(buf), [&](error_code e, std::size_t) {
    called = true;
    read_ec = e;
  });
  ctx.restart();
  ctx.poll();
  p.server.close();
  BOOST_TEST(peer_read(p.client.native_handle(), 2000) == 0);
  BOOST_TEST(files(ctx).stats.unregistered == unreg0 + (reg ? 1u : 0u));
  ctx.restart();
  ctx.run();
  BOOST_TEST(called);
  BOOST_TEST(read_ec == net::error::operation_aborted);
}

// release(): the descriptor is the user's, held by no table: the peer sees
// no end of stream until the user closes it.
BOOST_AUTO_TEST_CASE(release_hands_back_a_descriptor_the_table_does_not_hold)
{
  asio_uring::io_context ctx(opts(2));
  tcp_pair p(ctx);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(served_round_trip(ctx, p.server, p.client, 64, i));
  const int slot = p.server.registered_file_slot();
  BOOST_TEST((slot >= 0) == expected(ctx));
  const std::size_t unreg0 = files(ctx).stats.unregistered;
  const int fd = p.server.release();
  BOOST_TEST(fd >= 0);
  BOOST_TEST(!p.server.is_open());
  BOOST_TEST(files(ctx).stats.unregistered == unreg0 + (slot >= 0 ? 1u : 0u));
  ctx.restart();
  ctx.poll();  // the update's CQE
  BOOST_TEST(files(ctx).live(slot) == -1);
  BOOST_TEST(peer_read(p.client.native_handle(), 100) == -1);  // no eof
  BOOST_TEST(::send(fd, "mine", 4, MSG_NOSIGNAL) == 4);
  std::string got;
  BOOST_TEST(peer_read(p.client.native_handle(), 2000, &got) == 4);
  BOOST_TEST(got == "mine");
  // A new socket object on the released descriptor works and may register.
  {
    tcp::socket again(ctx, tcp::v4(), fd);
    for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(served_round_trip(ctx, again, p.client, 64, i));
    BOOST_TEST((again.registered_file_slot() >= 0) == expected(ctx));
    const int fd2 = again.release();
    BOOST_TEST(fd2 == fd);
  }
  BOOST_TEST(peer_read(p.client.native_handle(), 100) == -1);
  BOOST_TEST(::close(fd) == 0);
  BOOST_TEST(peer_read(p.client.native_handle(), 2000) == 0);
}

BOOST_AUTO_TEST_CASE(destruction_with_a_pending_read)
{
  asio_uring::io_context ctx(opts(2));
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  tcp::socket client(ctx);
  client.connect(acc.local_endpoint());
  auto server = std::make_unique<tcp::socket>(ctx);
  acc.accept(*server);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(served_round_trip(ctx, *server, client, 64, i));
  BOOST_TEST((server->registered_file_slot() >= 0) == expected(ctx));
  auto buf = std::make_shared<std::array<char, 64>>();
  error_code read_ec;
  int calls = 0;
  server->async_read_some(net::buffer(*buf), [&, buf](error_code e, std::size_t) {
    ++calls;
    read_ec = e;
  });
  ctx.restart();
  ctx.poll();
  server.reset();
  BOOST_TEST(peer_read(client.native_handle(), 2000) == 0);
  ctx.restart();
  ctx.run();
  BOOST_TEST(calls == 1);
  BOOST_TEST(read_ec == net::error::operation_aborted);
}

BOOST_AUTO_TEST_CASE(cancel_aborts_requests_on_the_slot_and_the_socket_goes_on)
{
  asio_uring::io_context ctx(opts(2));
  tcp_pair p(ctx);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(round_trip(ctx, p.server, p.client, 64, i));
  const int slot = p.server.registered_file_slot();
  BOOST_TEST((slot >= 0) == expected(ctx));
  char buf[16];
  std::vector<std::string> log;
  p.server.async_read_some(net::buffer(buf), [&](error_code e, std::size_t) { log.push_back("read " + e.message()); });
  p.client.async_wait(net::socket_base::wait_read, [&](error_code e) { log.push_back("wait " + e.message()); });
  ctx.restart();
  ctx.poll();
  BOOST_TEST(log.empty());
  p.server.cancel();
  p.client.cancel();
  ctx.restart();
  ctx.run();
  const std::string aborted = error_code(net::error::operation_aborted).message();
  BOOST_TEST(log.size() == 2u);
  BOOST_TEST((std::count(log.begin(), log.end(), "read " + aborted) == 1));
  BOOST_TEST((std::count(log.begin(), log.end(), "wait " + aborted) == 1));
  for (std::size_t i = 0; i < 4; ++i) BOOST_TEST_REQUIRE(round_trip(ctx, p.client, p.server, 1000, i));
  BOOST_TEST(p.server.registered_file_slot() == slot);
}

// Per-operation cancellation of a request on the slot.
BOOST_AUTO_TEST_CASE(per_operation_cancellation_on_the_slot)
{
  asio_uring::io_context ctx(opts(2));
  tcp_pair p(ctx);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(round_trip(ctx, p.server, p.client, 64, i));
  BOOST_TEST((p.server.registered_file_slot() >= 0) == expected(ctx));
  net::cancellation_signal sig;
  error_code ec;
  bool called = false;
  p.server.async_wait(net::socket_base::wait_read,
      net::bind_cancellation_slot(sig.slot(), [&](error_code e) { called = true; ec = e; }));
  ctx.restart();
  ctx.poll();
  sig.emit(net::cancellation_type::terminal);
  ctx.run();
  BOOST_TEST(called);
  BOOST_TEST(ec == net::error::operation_aborted);
}

// More sockets than slots: the first to reach the threshold get them, the
// others stay on their descriptors; all exchange exact bytes. A slot freed
// by a close goes to the next socket that asks.
BOOST_AUTO_TEST_CASE(a_full_table_leaves_sockets_on_their_descriptors)
{
  asio_uring::io_context ctx(opts(3, 3));
  const bool reg = expected(ctx);
  if (reg) BOOST_TEST_REQUIRE(files(ctx).size() == 3u);
  std::vector<std::unique_ptr<tcp_pair>> pairs;
  for (int i = 0; i < 5; ++i) pairs.push_back(std::make_unique<tcp_pair>(ctx));
  for (std::size_t round = 0; round < 12; ++round)
    for (std::size_t i = 0; i < pairs.size(); ++i)
      BOOST_TEST_REQUIRE(round_trip(ctx, pairs[i]->client, pairs[i]->server, 10 + round * 100, round * 10 + i));
  int registered = 0;
  for (auto& pr : pairs)
    registered += (pr->client.registered_file_slot() >= 0) + (pr->server.registered_file_slot() >= 0);
  BOOST_TEST(registered == (reg ? 3 : 0));
  BOOST_TEST(files(ctx).stats.full == (reg ? 7u : 0u));
  BOOST_TEST(files(ctx).stats.failed == 0u);

  // Close every registered socket's pair; a new pair then gets the slots.
  std::erase_if(pairs, [](const std::unique_ptr<tcp_pair>& pr) {
    return pr->client.registered_file_slot() >= 0 || pr->server.registered_file_slot() >= 0;
  });
  ctx.restart();
  ctx.poll();  // the updates' CQEs free the slots
  tcp_pair fresh(ctx);
  for (std::size_t round = 0; round < 6; ++round)
    BOOST_TEST_REQUIRE(round_trip(ctx, fresh.client, fresh.server, 500, round));
  BOOST_TEST((fresh.client.registered_file_slot() >= 0) == reg);
  BOOST_TEST((fresh.server.registered_file_slot() >= 0) == reg);
  for (auto& pr : pairs) BOOST_TEST_REQUIRE(round_trip(ctx, pr->client, pr->server, 700, 3));
}

// Multishot receive on a registered socket: the multishot request armed
// after the registration names the slot.
BOOST_AUTO_TEST_CASE(multishot_receive_on_a_registered_socket)
{
  asio_uring::io_context ctx(opts(2));
  tcp_pair p(ctx);
  for (std::size_t i = 0; i < 8; ++i) BOOST_TEST_REQUIRE(round_trip(ctx, p.client, p.server, 200, i));
  const bool reg = p.server.registered_file_slot() >= 0;
  BOOST_TEST(reg == expected(ctx));
  auto& br = ctx.impl().recv_buffers();
  const bool ms = br.registered() && br.multishot_ok();
  // A readiness wait ends the multishot; the next read arms a new one.
  error_code wait_ec = net::error::would_block;
  p.server.async_wait(net::socket_base::wait_read, [&](error_code e) { wait_ec = e; });
  net::write(p.client, net::buffer("ready", 5));
  ctx.restart();
  ctx.run();
  BOOST_TEST(!wait_ec);
  const std::size_t armed0 = br.stats.multishot_requests;
  const std::size_t fixed0 = files(ctx).stats.fixed_requests;
  std::string got(5, '\0');
  error_code read_ec;
  net::async_read(p.server, net::buffer(got), [&](error_code e, std::size_t) { read_ec = e; });
  ctx.restart();
  ctx.run();
  BOOST_TEST(!read_ec);
  BOOST_TEST(got == "ready");
  const std::size_t armed = br.stats.multishot_requests - armed0;
  BOOST_TEST((armed == 1u) == ms);
  // That read's one request (the multishot, or the single-shot read).
  BOOST_TEST(files(ctx).stats.fixed_requests - fixed0 == (reg ? 1u : 0u));
  for (std::size_t i = 0; i < 20; ++i)
    BOOST_TEST_REQUIRE(round_trip(ctx, p.client, p.server, 1 + i * 1500, 40 + i));
}

// Zero-copy sends (send_zc_local: the peer is on this host) on the slot.
BOOST_AUTO_TEST_CASE(zero_copy_send_on_a_registered_socket)
{
  asio_uring::io_context_options o = opts(2);
  o.send_zc_local = true;
  asio_uring::io_context ctx(o);
  tcp_pair p(ctx);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(round_trip(ctx, p.server, p.client, 64, i));
  const bool reg = p.server.registered_file_slot() >= 0;
  BOOST_TEST(reg == expected(ctx));
  auto& zc = ctx.impl().send_zc();
  const auto zc0 = zc.stats.requests.load();
  const std::size_t fixed0 = files(ctx).stats.fixed_requests;
  for (std::size_t i = 0; i < 3; ++i)
    BOOST_TEST_REQUIRE(round_trip(ctx, p.server, p.client, (1u << 20) + i, 70 + i));
  const auto& r = ctx.impl().get_ring();
  const bool zc_on = r.engine() == asio_uring::engine_kind::io_uring && r.supports(IORING_OP_SEND_ZC)
      && r.options().send_zc_threshold != 0;
  BOOST_TEST((zc.stats.requests.load() > zc0) == zc_on);
  BOOST_TEST((files(ctx).stats.fixed_requests > fixed0) == reg);
  BOOST_TEST((p.server.registered_file_slot() >= 0) == reg);
}

// Sockets from async_accept (the multishot accept) register like any other.
BOOST_AUTO_TEST_CASE(accepted_sockets_register)
{
  asio_uring::io_context ctx(opts(3));
  tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  std::vector<tcp::socket> accepted;
  std::vector<tcp::socket> clients;
  std::function<void()> accept_next = [&] {
    acc.async_accept([&](error_code e, tcp::socket s) {
      if (e) return;
      accepted.push_back(std::move(s));
      if (accepted.size() < 4) accept_next();
    });
  };
  accept_next();
  for (int i = 0; i < 4; ++i)
  {
    clients.emplace_back(ctx);
    clients.back().connect(acc.local_endpoint());
  }
  ctx.run();
  BOOST_TEST_REQUIRE(accepted.size() == 4u);
  for (std::size_t round = 0; round < 8; ++round)
    for (std::size_t i = 0; i < 4; ++i)
      BOOST_TEST_REQUIRE(round_trip(ctx, accepted[i], clients[i], 300 + round, round * 4 + i));
  for (auto& s : accepted) BOOST_TEST((s.registered_file_slot() >= 0) == expected(ctx));
}

// A single-issuer ring run by a thread that exits is replaced when this
// thread runs the context (scheduler::take_over_ring): the slots are
// registered with the new ring and keep working.
BOOST_AUTO_TEST_CASE(slots_survive_the_single_issuer_ring_renewal)
{
  asio_uring::io_context_options o = opts(2);
  o.concurrency_hint = 1;
  asio_uring::io_context ctx(o);
  tcp_pair p(ctx);
  bool ok = true;
  std::thread th([&] {
    for (std::size_t i = 0; i < 6; ++i) ok = ok && served_round_trip(ctx, p.server, p.client, 128, i);
  });
  th.join();
  BOOST_TEST(ok);
  const int slot = p.server.registered_file_slot();
  BOOST_TEST((slot >= 0) == expected(ctx));
  // A read pending across the renewal (it is parked and started again).
  std::string got(4, '\0');
  error_code read_ec = net::error::would_block;
  net::async_read(p.server, net::buffer(got), [&](error_code e, std::size_t) { read_ec = e; });
  net::write(p.client, net::buffer("late", 4));
  ctx.restart();
  ctx.run();
  BOOST_TEST(!read_ec);
  BOOST_TEST(got == "late");
  const std::size_t fixed0 = files(ctx).stats.fixed_requests;
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(served_round_trip(ctx, p.server, p.client, 1000, 20 + i));
  BOOST_TEST(p.server.registered_file_slot() == slot);
  BOOST_TEST((files(ctx).stats.fixed_requests > fixed0) == (slot >= 0));
  p.server.close();
  BOOST_TEST(peer_read(p.client.native_handle(), 2000) == 0);
}

// notify_fork: the child's new ring gets the parent's slots; both go on.
BOOST_AUTO_TEST_CASE(fork_child_registers_the_slots_with_its_ring)
{
  asio_uring::io_context ctx(opts(2));
  tcp_pair p(ctx);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(round_trip(ctx, p.server, p.client, 128, i));
  const int slot = p.server.registered_file_slot();
  BOOST_TEST((slot >= 0) == expected(ctx));
  test_support::run_forked(ctx, 40, [&](int& status) {
    const std::size_t fixed0 = files(ctx).stats.fixed_requests;
    status = 0;
    for (std::size_t i = 0; i < 4 && status == 0; ++i)
      if (!round_trip(ctx, p.server, p.client, 2000, 50 + i)) status = 41;
    if (status == 0 && p.server.registered_file_slot() != slot) status = 42;
    if (status == 0 && (files(ctx).stats.fixed_requests > fixed0) != (slot >= 0)) status = 43;
  });
  for (std::size_t i = 0; i < 4; ++i) BOOST_TEST_REQUIRE(round_trip(ctx, p.server, p.client, 3000, 60 + i));
  BOOST_TEST(p.server.registered_file_slot() == slot);
}

// registered_files off by option: no table, no slot.
BOOST_AUTO_TEST_CASE(switched_off_no_table_no_slot)
{
  asio_uring::io_context_options o = opts(2);
  o.registered_files = false;
  asio_uring::io_context ctx(o);
  const bool on = ctx.impl().get_ring().options().registered_files;  // +registered_files in the environment
  tcp_pair p(ctx);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST_REQUIRE(round_trip(ctx, p.server, p.client, 64, i));
  if (!on)
  {
    BOOST_TEST(files(ctx).size() == 0u);
    BOOST_TEST(p.server.registered_file_slot() == -1);
    BOOST_TEST(files(ctx).stats.fixed_requests == 0u);
  }
}
