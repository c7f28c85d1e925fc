// The engine seam: the same SQEs on the kernel's ring and on the emulated
// ring give the same CQEs (exact results), and the context on the emulated
// engine loses and doubles nothing. The raw cases run on both engines.
#define BOOST_TEST_MODULE emulated
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

namespace net = boost::asio;
using asio_uring::engine_kind;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

asio_uring::io_context_options options(engine_kind e, unsigned entries = 64, unsigned cq = 0)
{
  asio_uring::io_context_options o;
  o.engine = e;
  o.entries = entries;
  o.cq_entries = cq;
  return o;
}

// One engine's ring driven by hand, as the scheduler drives it.
struct raw_ring
{
  asio_uring::detail::ring ring;
  std::multimap<std::uint64_t, int> cqes;  // user_data -> res
  std::vector<std::uint64_t> order;

  explicit raw_ring(engine_kind e, unsigned entries = 64, unsigned cq = 0) : ring(options(e, entries, cq)) {}

  io_uring_sqe* sqe(std::uint64_t user_data)
  {
    io_uring_sqe* s = io_uring_get_sqe(ring.get());
    BOOST_REQUIRE(s);
    io_uring_sqe_set_data64(s, user_data);
    return s;
  }

  void reap()
  {
    io_uring* r = ring.get();
    unsigned head;
    unsigned n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(r, head, cqe)
    {
      cqes.emplace(cqe->user_data, cqe->res);
      order.push_back(cqe->user_data);
      ++n;
    }
    io_uring_cq_advance(r, n);
  }

  // Submits, then waits until `n` CQEs in all have arrived or `limit` passed.
  void wait_for(std::size_t n, std::chrono::milliseconds limit = 5s)
  {
    const auto until = std::chrono::steady_clock::now() + limit;
    ring.submit();
    for (;;)
    {
      reap();
      if (order.size() >= n || std::chrono::steady_clock::now() >= until) break;
      __kernel_timespec ts{0, 10'000'000};
      ring.submit_and_wait_timeout(&ts);
      if (ring.cq_needs_flush()) ring.get_events();
    }
  }

  int res(std::uint64_t user_data) const
  {
    auto it = cqes.find(user_data);
    return it == cqes.end() ? 1 : it->second;  // 1: no CQE
  }
  std::size_t count(std::uint64_t user_data) const { return cqes.count(user_data); }
};

struct socket_pair
{
  int fd[2];
  socket_pair() { BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0); }
  ~socket_pair() { ::close(fd[0]); ::close(fd[1]); }
};

const engine_kind engines[] = {engine_kind::io_uring, engine_kind::emulated};

} // namespace

BOOST_AUTO_TEST_CASE(engine_is_reported)
{
  asio_uring::io_context ctx(options(engine_kind::emulated));
  BOOST_TEST((ctx.engine() == engine_kind::emulated));
  BOOST_TEST(std::string(to_string(ctx.engine())) == "emulated");
  for (int op : {IORING_OP_RECV, IORING_OP_SEND, IORING_OP_ACCEPT, IORING_OP_CONNECT, IORING_OP_POLL_ADD,
                 IORING_OP_READ_FIXED, IORING_OP_FSYNC, IORING_OP_ASYNC_CANCEL, IORING_OP_LINK_TIMEOUT})
    BOOST_TEST(ctx.impl().get_ring().supports(op));
  BOOST_TEST(!ctx.impl().get_ring().supports(IORING_OP_PROVIDE_BUFFERS));
}

BOOST_AUTO_TEST_CASE(linked_timeout_cancels_a_blocked_recv)
{
  for (engine_kind e : engines)
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      raw_ring r(e);
      socket_pair p;
      char buf[16];
      __kernel_timespec ts{0, 20'000'000};
      const auto t0 = std::chrono::steady_clock::now();
      io_uring_sqe* s = r.sqe(1);
      io_uring_prep_recv(s, p.fd[0], buf, sizeof buf, 0);
      s->flags |= IOSQE_IO_LINK;
      io_uring_prep_link_timeout(r.sqe(2), &ts, 0);
      r.wait_for(2);
      BOOST_TEST(r.res(1) == -ECANCELED);
      BOOST_TEST(r.res(2) == -ETIME);
      BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 20ms));
    }
  }
}

BOOST_AUTO_TEST_CASE(linked_timeout_is_cancelled_by_the_completion)
{
  for (engine_kind e : engines)
  {
    for (bool data_first : {true, false})
    {
      BOOST_TEST_CONTEXT(to_string(e) << (data_first ? " ready" : " later"))
      {
        raw_ring r(e);
        socket_pair p;
        if (data_first) BOOST_REQUIRE(::write(p.fd[1], "hello", 5) == 5);
        char buf[16];
        __kernel_timespec ts{5, 0};
        io_uring_sqe* s = r.sqe(1);
        io_uring_prep_recv(s, p.fd[0], buf, sizeof buf, 0);
        s->flags |= IOSQE_IO_LINK;
        io_uring_prep_link_timeout(r.sqe(2), &ts, 0);
        std::thread writer;
        if (!data_first)
          writer = std::thread([&] {
            std::this_thread::sleep_for(20ms);
            BOOST_CHECK(::write(p.fd[1], "hello", 5) == 5);
          });
        r.wait_for(2);
        if (writer.joinable()) writer.join();
        BOOST_TEST(r.res(1) == 5);
        BOOST_TEST(r.res(2) == -ECANCELED);
        BOOST_TEST(std::string(buf, 5) == "hello");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(cancel_by_user_data)
{
  for (engine_kind e : engines)
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      raw_ring r(e);
      socket_pair p;
      char buf[16];
      io_uring_prep_recv(r.sqe(1), p.fd[0], buf, sizeof buf, 0);
      r.wait_for(1, 20ms);
      BOOST_TEST(r.count(1) == 0u);
      io_uring_prep_cancel64(r.sqe(3), 1, 0);
      r.wait_for(2);
      BOOST_TEST(r.res(1) == -ECANCELED);
      BOOST_TEST(r.res(3) == 0);
      io_uring_prep_cancel64(r.sqe(4), 1, 0);
      r.wait_for(3);
      BOOST_TEST(r.res(4) == -ENOENT);
      BOOST_TEST(r.count(1) == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(cancel_by_descriptor_and_any)
{
  for (engine_kind e : engines)
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      raw_ring r(e);
      socket_pair a, b;
      char buf1[16], buf2[16];
      __kernel_timespec ts{5, 0};
      io_uring_prep_recv(r.sqe(1), a.fd[0], buf1, sizeof buf1, 0);
      io_uring_prep_poll_add(r.sqe(2), a.fd[0], POLLIN);
      io_uring_sqe* s = r.sqe(5);
      io_uring_prep_recv(s, b.fd[0], buf2, sizeof buf2, 0);
      s->flags |= IOSQE_IO_LINK;
      io_uring_prep_link_timeout(r.sqe(6), &ts, 0);
      r.wait_for(1, 20ms);
      BOOST_TEST(r.order.empty());

      io_uring_prep_cancel_fd(r.sqe(3), a.fd[0], IORING_ASYNC_CANCEL_ALL);
      r.wait_for(3);
      BOOST_TEST(r.res(1) == -ECANCELED);
      BOOST_TEST(r.res(2) == -ECANCELED);
      BOOST_TEST(r.res(3) == 2);
      // Nothing left on the descriptor: a count of 0, not an error.
      io_uring_prep_cancel_fd(r.sqe(4), a.fd[0], IORING_ASYNC_CANCEL_ALL);
      r.wait_for(4);
      BOOST_TEST(r.res(4) == 0);
      BOOST_TEST(r.count(5) == 0u);

      // ANY: the request on the other descriptor, and its linked timeout.
      io_uring_prep_cancel64(r.sqe(7), 0, IORING_ASYNC_CANCEL_ANY);
      r.wait_for(7);
      BOOST_TEST(r.res(5) == -ECANCELED);
      BOOST_TEST(r.res(6) == -ECANCELED);
      BOOST_TEST(r.res(7) == 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_descriptors_give_the_kernels_errors)
{
  for (engine_kind e : engines)
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      raw_ring r(e);
      int pipe_fds[2];
      BOOST_REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
      int unbound = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int closed = ::dup(0);
      ::close(closed);
      char buf[8];
      io_uring_prep_recv(r.sqe(1), closed, buf, sizeof buf, 0);
      io_uring_prep_send(r.sqe(2), -1, buf, sizeof buf, 0);
      io_uring_prep_read(r.sqe(3), closed, buf, sizeof buf, 0);
      io_uring_prep_poll_add(r.sqe(4), closed, POLLIN);
      io_uring_prep_recv(r.sqe(5), pipe_fds[0], buf, sizeof buf, 0);
      io_uring_prep_accept(r.sqe(6), unbound, nullptr, nullptr, 0);
      io_uring_prep_fsync(r.sqe(7), closed, 0);
      io_uring_prep_read_fixed(r.sqe(8), pipe_fds[0], buf, sizeof buf, 0, 0);
      io_uring_prep_poll_add(r.sqe(9), -1, POLLIN);
      io_uring_prep_accept(r.sqe(10), -1, nullptr, nullptr, 0);
      r.wait_for(10);
      BOOST_TEST(r.res(1) == -EBADF);
      BOOST_TEST(r.res(2) == -EBADF);
      BOOST_TEST(r.res(3) == -EBADF);
      BOOST_TEST(r.res(4) == -EBADF);
      BOOST_TEST(r.res(5) == -ENOTSOCK);
      BOOST_TEST(r.res(6) == -EINVAL);
      BOOST_TEST(r.res(7) == -EBADF);
      BOOST_TEST(r.res(8) == -EFAULT);  // no registered buffers
      BOOST_TEST(r.res(9) == -EBADF);
      BOOST_TEST(r.res(10) == -EBADF);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      ::close(unbound);
    }
  }
}

BOOST_AUTO_TEST_CASE(accept_connect_and_poll)
{
  for (engine_kind e : engines)
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      raw_ring r(e);
      int lst = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof a;
      BOOST_REQUIRE(::bind(lst, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
      BOOST_REQUIRE(::listen(lst, 8) == 0);
      BOOST_REQUIRE(::getsockname(lst, reinterpret_cast<sockaddr*>(&a), &len) == 0);
      sockaddr_in peer{};
      socklen_t peer_len = sizeof peer;
      io_uring_prep_accept(r.sqe(1), lst, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_CLOEXEC);
      io_uring_prep_poll_add(r.sqe(2), lst, POLLIN);
      r.wait_for(1, 20ms);
      BOOST_TEST(r.order.empty());

      int cli = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      io_uring_prep_connect(r.sqe(3), cli, reinterpret_cast<sockaddr*>(&a), sizeof a);
      r.wait_for(3);
      BOOST_TEST(r.res(1) >= 0);
      BOOST_TEST(r.res(2) == POLLIN);
      BOOST_TEST(r.res(3) == 0);
      BOOST_TEST(peer_len == sizeof peer);
      // Writable at once: the poll completes without waiting.
      io_uring_prep_poll_add(r.sqe(4), cli, POLLOUT);
      // Refused: nothing listens on the port any more.
      int refused = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ::close(lst);
      io_uring_prep_connect(r.sqe(5), refused, reinterpret_cast<sockaddr*>(&a), sizeof a);
      r.wait_for(5);
      BOOST_TEST(r.res(4) == POLLOUT);
      BOOST_TEST(r.res(5) == -ECONNREFUSED);
      // The blocking mode the descriptor had is kept.
      BOOST_TEST((::fcntl(cli, F_GETFL) & O_NONBLOCK) == 0);
      if (r.res(1) >= 0) ::close(r.res(1));
      ::close(cli);
      ::close(refused);
    }
  }
}

BOOST_AUTO_TEST_CASE(polls_on_one_descriptor_are_independent)
{
  for (engine_kind e : engines)
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      raw_ring r(e);
      socket_pair p;
      io_uring_prep_poll_add(r.sqe(1), p.fd[0], POLLIN);
      r.wait_for(1, 20ms);
      BOOST_TEST(r.order.empty());
      // A second poll on the same descriptor, already satisfied.
      io_uring_prep_poll_add(r.sqe(2), p.fd[0], POLLOUT);
      r.wait_for(1);
      BOOST_TEST(r.res(2) == POLLOUT);
      BOOST_TEST(r.count(1) == 0u);
      // The peer's shutdown: readable, and the hang-up the kernel always adds.
      ::shutdown(p.fd[1], SHUT_WR);
      r.wait_for(2);
      BOOST_TEST(r.res(1) == (POLLIN | POLLRDHUP));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_plain_submit_completes_what_became_ready)
{
  for (engine_kind e : engines)
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      raw_ring r(e);
      socket_pair p;
      char buf[16];
      io_uring_prep_recv(r.sqe(1), p.fd[0], buf, sizeof buf, 0);
      r.wait_for(1, 20ms);
      BOOST_TEST(r.order.empty());
      BOOST_REQUIRE(::write(p.fd[1], "hello", 5) == 5);
      // No wait: the submission alone brings the parked recv's completion.
      io_uring_prep_nop(r.sqe(2));
      r.ring.submit();
      r.reap();
      BOOST_TEST(r.res(1) == 5);
      BOOST_TEST(r.res(2) == 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(eventfd_written_by_another_thread_ends_the_wait)
{
  for (engine_kind e : engines)
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      raw_ring r(e);
      int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      std::uint64_t value = 0;
      io_uring_prep_read(r.sqe(1), efd, &value, sizeof value, 0);
      std::thread writer([efd] {
        std::this_thread::sleep_for(20ms);
        std::uint64_t one = 1;
        BOOST_CHECK(::write(efd, &one, sizeof one) == 8);
      });
      // No limit: only the write (or a signal, EINTR) ends the wait.
      while (r.order.empty())
      {
        r.ring.submit_and_wait_timeout(nullptr);
        r.reap();
      }
      writer.join();
      BOOST_TEST(r.res(1) == 8);
      BOOST_TEST(value == 1u);
      ::close(efd);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_full_completion_queue_loses_nothing)
{
  for (engine_kind e : engines)
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      raw_ring r(e, 4, 8);
      for (std::uint64_t i = 1; i <= 40; ++i)
      {
        io_uring_prep_nop(r.sqe(i));
        if (i % 4 == 0) r.ring.submit();
      }
      BOOST_TEST(r.ring.cq_needs_flush());
      r.wait_for(40);
      std::vector<std::uint64_t> expected(40);
      std::iota(expected.begin(), expected.end(), 1);
      BOOST_TEST(r.order == expected, boost::test_tools::per_element());
    }
  }
}

// The context on the emulated engine (the rest of the suite runs on it too:
// see the *_emulated tests).

BOOST_AUTO_TEST_CASE(transfer_64_mib_both_ways_over_a_socket_pair)
{
  asio_uring::io_context ctx(options(engine_kind::emulated));
  using stream = asio_uring::local::stream_protocol::socket;
  stream a(ctx), b(ctx);
  {
    socket_pair p;
    a.assign(net::local::stream_protocol(), ::dup(p.fd[0]));
    b.assign(net::local::stream_protocol(), ::dup(p.fd[1]));
  }
  const std::size_t size = 64u << 20;
  std::vector<char> ab(size), ba(size), got_ab(size), got_ba(size);
  for (std::size_t i = 0; i < size; ++i)
  {
    ab[i] = static_cast<char>(i * 7 + i / 4096);
    ba[i] = static_cast<char>(i * 13 + 1);
  }
  std::size_t n[4] = {};
  net::async_write(a, net::buffer(ab), [&](error_code ec, std::size_t k) { BOOST_TEST(!ec); n[0] = k; });
  net::async_write(b, net::buffer(ba), [&](error_code ec, std::size_t k) { BOOST_TEST(!ec); n[1] = k; });
  net::async_read(b, net::buffer(got_ab), [&](error_code ec, std::size_t k) { BOOST_TEST(!ec); n[2] = k; });
  net::async_read(a, net::buffer(got_ba), [&](error_code ec, std::size_t k) { BOOST_TEST(!ec); n[3] = k; });
  ctx.run();
  for (std::size_t k : n) BOOST_TEST(k == size);
  BOOST_TEST((got_ab == ab));
  BOOST_TEST((got_ba == ba));
}

BOOST_AUTO_TEST_CASE(per_operation_cancel_racing_data_completes_once)
{
  asio_uring::io_context ctx(options(engine_kind::emulated));
  asio_uring::ip::tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
  asio_uring::ip::tcp::socket client(ctx), server(ctx);
  client.connect(acc.local_endpoint());
  acc.accept(server);
  int aborted = 0, read = 0;
  std::string received;
  for (int round = 0; round < 300; ++round)
  {
    ctx.restart();
    net::cancellation_signal sig;
    char buf[8];
    int calls = 0;
    server.async_read_some(net::buffer(buf), net::bind_cancellation_slot(sig.slot(),
        [&](error_code ec, std::size_t k) {
          ++calls;
          if (ec == net::error::operation_aborted) ++aborted;
          else if (!ec) { ++read; received.append(buf, k); }
          else BOOST_ERROR(ec.message());
        }));
    // Data and the cancel reach the loop in the same turn or in either order.
    net::post(ctx, [&] {
      if (round % 3 != 0) client.send(net::buffer("x", 1));
      sig.emit(net::cancellation_type::terminal);
      if (round % 3 == 0) client.send(net::buffer("x", 1));
    });
    ctx.run();
    BOOST_TEST(calls == 1);
  }
  // Every byte sent is received once: by a read that won, or later.
  while (server.available() > 0)
  {
    char rest[512];
    std::size_t k = server.read_some(net::buffer(rest));
    received.append(rest, k);
  }
  BOOST_TEST(received == std::string(300, 'x'));
  BOOST_TEST(aborted + read == 300);
}

BOOST_AUTO_TEST_CASE(destroyed_with_parked_requests)
{
  auto alive = std::make_shared<int>(0);
  int called = 0;
  {
    asio_uring::io_context ctx(options(engine_kind::emulated));
    asio_uring::ip::tcp::acceptor acc(ctx, {net::ip::address_v4::loopback(), 0});
    asio_uring::ip::tcp::socket client(ctx), server(ctx), pending(ctx);
    client.connect(acc.local_endpoint());
    acc.accept(server);
    static char buf[4];
    server.async_read_some(net::buffer(buf), [alive, &called](error_code, std::size_t) { ++called; });
    client.async_wait(asio_uring::ip::tcp::socket::wait_read, [alive, &called](error_code) { ++called; });
    acc.async_accept(pending, [alive, &called](error_code) { ++called; });
    asio_uring::tcp_stream timed(ctx);
    timed.expires_after(1h);
    net::steady_timer t(ctx, 1h);
    t.async_wait([alive, &called](error_code) { ++called; });
    ctx.poll();
    BOOST_TEST(alive.use_count() == 5);
    BOOST_TEST(ctx.impl().in_flight() == 3u);
  }
  BOOST_TEST(alive.use_count() == 1);
  BOOST_TEST(called == 0);
}

BOOST_AUTO_TEST_CASE(reused_descriptor_number_gets_no_stale_request)
{
  asio_uring::io_context ctx(options(engine_kind::emulated));
  std::vector<std::string> log;
  int number = -1;
  {
    asio_uring::local::stream_protocol::socket a(ctx);
    socket_pair p;
    a.assign(net::local::stream_protocol(), ::dup(p.fd[0]));
    number = a.native_handle();
    static char buf[4];
    a.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) { log.push_back("old " + ec.message()); });
    ctx.poll();
    a.close();
  }
  // The same number, another file: only its own request completes.
  socket_pair q;
  BOOST_REQUIRE(::dup2(q.fd[0], number) == number);
  asio_uring::local::stream_protocol::socket b(ctx, net::local::stream_protocol(), number);
  char got[4] = {};
  b.async_read_some(net::buffer(got), [&](error_code ec, std::size_t n) {
    log.push_back("new " + std::to_string(n) + " " + ec.message());
  });
  BOOST_REQUIRE(::write(q.fd[1], "abc", 3) == 3);
  ctx.run();
  BOOST_TEST(log.size() == 2u);
  BOOST_TEST(log[0] == "old " + error_code(net::error::operation_aborted).message());
  BOOST_TEST(log[1] == "new 3 Success");
  BOOST_TEST(std::string(got, 3) == "abc");
}
