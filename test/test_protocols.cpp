// The protocol types (ip::tcp/udp/icmp, local::*, generic::*) as real
// protocols: their properties, conversions to and from Asio's, and each of
// their socket types moving exact bytes and messages on the ring.
#define BOOST_TEST_MODULE protocols
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <netinet/in.h>
#include <netinet/ip.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <typeinfo>

namespace net = boost::asio;
using tcp = asio_uring::ip::tcp;
using udp = asio_uring::ip::udp;
using icmp = asio_uring::ip::icmp;
using boost::system::error_code;

namespace {

// A Unix-domain socket path that does not exist yet and is removed afterwards.
struct temp_path
{
  std::string path;
  explicit temp_path(const char* tag)
    : path("/tmp/asio_uring_proto_" + std::to_string(::getpid()) + "_" + tag)
  {
    ::unlink(path.c_str());
  }
  ~temp_path() { ::unlink(path.c_str()); }
};

tcp::endpoint loopback_any() { return {net::ip::address_v4::loopback(), 0}; }

} // namespace

// --- the protocol types ----------------------------------------------------------

static_assert(std::is_base_of_v<net::ip::tcp, tcp>);
static_assert(std::is_same_v<tcp::endpoint, net::ip::tcp::endpoint>);
static_assert(std::is_same_v<tcp::socket, asio_uring::basic_stream_socket<tcp>>);
static_assert(std::is_same_v<tcp::socket::protocol_type, tcp>);
static_assert(std::is_same_v<tcp::acceptor, asio_uring::basic_socket_acceptor<tcp>>);
static_assert(std::is_same_v<tcp::resolver, net::ip::basic_resolver<net::ip::tcp>>);
static_assert(std::is_same_v<tcp::iostream, net::basic_socket_iostream<net::ip::tcp>>);
static_assert(std::is_same_v<tcp::no_delay, net::ip::tcp::no_delay>);
static_assert(std::is_same_v<udp::socket, asio_uring::basic_datagram_socket<udp>>);
static_assert(std::is_same_v<udp::endpoint, net::ip::udp::endpoint>);
static_assert(std::is_same_v<icmp::socket, asio_uring::basic_raw_socket<icmp>>);
static_assert(std::is_same_v<asio_uring::local::seq_packet_protocol::socket,
    asio_uring::basic_seq_packet_socket<asio_uring::local::seq_packet_protocol>>);
static_assert(std::is_same_v<asio_uring::generic::raw_protocol::socket,
    asio_uring::basic_raw_socket<asio_uring::generic::raw_protocol>>);
static_assert(std::is_same_v<tcp::socket::rebind_executor<asio_uring::io_context::executor_type>::other,
    asio_uring::basic_stream_socket<tcp, asio_uring::io_context::executor_type>>);
static_assert(std::is_same_v<tcp::acceptor::rebind_executor<asio_uring::io_context::executor_type>::other,
    asio_uring::basic_socket_acceptor<tcp, asio_uring::io_context::executor_type>>);
#if !defined(BOOST_ASIO_NO_DEPRECATED)
static_assert(std::is_same_v<tcp::resolver::query, net::ip::basic_resolver_query<net::ip::tcp>>);
#endif
static_assert(std::is_same_v<tcp::resolver::results_type, net::ip::basic_resolver_results<net::ip::tcp>>);

BOOST_AUTO_TEST_CASE(tcp_properties_and_conversions)
{
  BOOST_TEST(tcp::v4().family() == AF_INET);
  BOOST_TEST(tcp::v6().family() == AF_INET6);
  BOOST_TEST(tcp::v4().type() == SOCK_STREAM);
  BOOST_TEST(tcp::v4().protocol() == IPPROTO_TCP);
  BOOST_TEST((tcp::v4() == tcp::v4()));
  BOOST_TEST((tcp::v4() != tcp::v6()));
  BOOST_TEST(!(tcp::v4() == tcp::v6()));

  // From Asio's protocol, as every endpoint's protocol() is.
  tcp from_asio = net::ip::tcp::v6();
  BOOST_TEST(from_asio.family() == AF_INET6);
  tcp from_endpoint = tcp::endpoint(net::ip::address_v4::loopback(), 80).protocol();
  BOOST_TEST((from_endpoint == tcp::v4()));
  // To Asio's, and compared with it either way.
  net::ip::tcp to_asio = tcp::v6();
  BOOST_TEST((to_asio == net::ip::tcp::v6()));
  BOOST_TEST((tcp::v4() == net::ip::tcp::v4()));
  BOOST_TEST((net::ip::tcp::v4() != tcp::v6()));
}

BOOST_AUTO_TEST_CASE(udp_icmp_local_generic_properties)
{
  BOOST_TEST(udp::v4().family() == AF_INET);
  BOOST_TEST(udp::v6().type() == SOCK_DGRAM);
  BOOST_TEST(udp::v4().protocol() == IPPROTO_UDP);
  BOOST_TEST((udp::v4() != udp::v6()));
  BOOST_TEST((udp(net::ip::udp::v4()) == udp::v4()));

  BOOST_TEST(icmp::v4().type() == SOCK_RAW);
  BOOST_TEST(icmp::v4().protocol() == IPPROTO_ICMP);
  BOOST_TEST(icmp::v6().protocol() == IPPROTO_ICMPV6);
  BOOST_TEST((icmp::v4() != icmp::v6()));

  BOOST_TEST(asio_uring::local::stream_protocol().family() == AF_UNIX);
  BOOST_TEST(asio_uring::local::stream_protocol().type() == SOCK_STREAM);
  BOOST_TEST(asio_uring::local::datagram_protocol().type() == SOCK_DGRAM);
  BOOST_TEST(asio_uring::local::seq_packet_protocol().type() == SOCK_SEQPACKET);
  BOOST_TEST(asio_uring::local::seq_packet_protocol().family() == AF_UNIX);

  asio_uring::generic::stream_protocol g(asio_uring::local::stream_protocol{});
  BOOST_TEST(g.family() == AF_UNIX);
  BOOST_TEST(g.type() == SOCK_STREAM);
  BOOST_TEST(g.protocol() == 0);
  asio_uring::generic::datagram_protocol gd(AF_INET6, IPPROTO_UDP);
  BOOST_TEST(gd.family() == AF_INET6);
  BOOST_TEST(gd.type() == SOCK_DGRAM);
  BOOST_TEST(asio_uring::generic::raw_protocol(AF_INET, IPPROTO_ICMP).type() == SOCK_RAW);
  BOOST_TEST(asio_uring::generic::seq_packet_protocol(asio_uring::local::seq_packet_protocol{}).type()
      == SOCK_SEQPACKET);
  // As Asio's: another socket type is std::bad_cast.
  BOOST_CHECK_THROW(asio_uring::generic::stream_protocol(asio_uring::local::datagram_protocol{}),
      std::bad_cast);
}

// --- TCP ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tcp_echo_through_resolver_results)
{
  asio_uring::io_context ctx;
  tcp::acceptor acceptor(ctx, tcp::endpoint(tcp::v4(), 0));
  BOOST_TEST((acceptor.local_endpoint().protocol() == tcp::v4()));
  unsigned short port = acceptor.local_endpoint().port();

  tcp::resolver resolver(ctx);
  tcp::resolver::results_type results = resolver.resolve("127.0.0.1", std::to_string(port));
  BOOST_REQUIRE(results.size() == 1u);
  tcp::socket client(ctx);
  client.open(results.begin()->endpoint().protocol());
  client.connect(*results.begin());

  tcp::endpoint peer;
  std::string echoed(4, '\0');
  std::vector<std::string> log;
  acceptor.async_accept(peer, [&](error_code ec, tcp::socket s) {
    log.push_back("accept " + ec.message());
    auto server = std::make_shared<tcp::socket>(std::move(s));
    auto buf = std::make_shared<std::array<char, 4>>();
    net::async_read(*server, net::buffer(*buf), [&, server, buf](error_code ec, std::size_t n) {
      log.push_back("server read " + std::to_string(n) + " " + ec.message());
      net::async_write(*server, net::buffer(*buf), [&, server, buf](error_code ec, std::size_t n) {
        log.push_back("server wrote " + std::to_string(n) + " " + ec.message());
      });
    });
  });
  net::async_write(client, net::buffer("ping", 4), [&](error_code ec, std::size_t n) {
    log.push_back("client wrote " + std::to_string(n) + " " + ec.message());
    net::async_read(client, net::buffer(echoed), [&](error_code ec, std::size_t n) {
      log.push_back("client read " + std::to_string(n) + " " + ec.message());
    });
  });
  ctx.run();
  BOOST_TEST(echoed == "ping");
  BOOST_TEST(peer == client.local_endpoint());
  BOOST_TEST(log.size() == 5u);
  // The client reads the echo only after the server has read it.
  auto at = [&](const char* entry) { return std::find(log.begin(), log.end(), entry) - log.begin(); };
  BOOST_TEST(at("server read 4 Success") < at("client read 4 Success"));
  BOOST_TEST(at("client read 4 Success") < 5);
  BOOST_TEST((std::count(log.begin(), log.end(), "client wrote 4 Success") == 1));
  BOOST_TEST((std::count(log.begin(), log.end(), "server wrote 4 Success") == 1));
  BOOST_TEST((std::count(log.begin(), log.end(), "accept Success") == 1));
  BOOST_TEST((std::count(log.begin(), log.end(), "server read 4 Success") == 1));
}

BOOST_AUTO_TEST_CASE(stream_socket_on_io_context_executor_with_our_acceptor)
{
  using ctx_socket = asio_uring::basic_stream_socket<tcp, asio_uring::io_context::executor_type>;
  asio_uring::io_context ctx;
  tcp::acceptor acceptor(ctx, loopback_any());
  ctx_socket server(ctx);
  ctx_socket client(ctx.get_executor(), tcp::v4());
  bool accepted = false;
  acceptor.async_accept(server, [&](error_code ec) { accepted = !ec; });
  client.async_connect(acceptor.local_endpoint(), [](error_code) {});
  ctx.run();
  BOOST_REQUIRE(accepted);
  client.send(net::buffer("abc", 3), 0);
  char buf[3];
  BOOST_TEST(net::read(server, net::buffer(buf)) == 3u);
  BOOST_TEST(std::string(buf, 3) == "abc");

  // accept() on another executor type returns the socket rebound to it.
  ctx_socket c2(ctx);
  c2.connect(acceptor.local_endpoint());
  auto s2 = acceptor.accept(ctx);
  static_assert(std::is_same_v<decltype(s2), ctx_socket>);
  BOOST_TEST(s2.remote_endpoint() == c2.local_endpoint());

  // Moving between protocol and executor types keeps the descriptor.
  int fd = s2.native_handle();
  asio_uring::basic_stream_socket<net::ip::tcp> as_asio_protocol(std::move(s2));
  BOOST_TEST(as_asio_protocol.native_handle() == fd);
  BOOST_TEST(!s2.is_open());
  tcp::socket back(ctx);
  back = std::move(as_asio_protocol);
  BOOST_TEST(back.native_handle() == fd);
  BOOST_TEST(back.remote_endpoint() == c2.local_endpoint());
}

BOOST_AUTO_TEST_CASE(acceptor_overloads_exact_results)
{
  asio_uring::io_context ctx, other;
  tcp::acceptor acceptor(ctx, loopback_any(), false);
  tcp::endpoint ep = acceptor.local_endpoint();

  // Nothing pending on a non-blocking acceptor: would_block.
  acceptor.non_blocking(true);
  error_code ec;
  tcp::socket none = acceptor.accept(ec);
  BOOST_TEST(ec == net::error::would_block);
  BOOST_TEST(!none.is_open());
  acceptor.non_blocking(false);

  // Into an open peer: already_open, sync and async; the connection waits.
  tcp::socket c1(ctx);
  c1.connect(ep);
  tcp::socket open_peer(ctx, tcp::v4());
  acceptor.accept(open_peer, ec);
  BOOST_TEST(ec == net::error::already_open);
  error_code async_ec;
  acceptor.async_accept(open_peer, [&](error_code e) { async_ec = e; });
  ctx.run();
  ctx.restart();
  BOOST_TEST(async_ec == net::error::already_open);

  // With the peer's endpoint, into a socket.
  tcp::socket s1(ctx);
  tcp::endpoint peer1;
  acceptor.accept(s1, peer1);
  BOOST_TEST(peer1 == c1.local_endpoint());

  // A new socket on another context, with the peer's endpoint, sync and async.
  tcp::socket c2(ctx), c3(ctx);
  c2.connect(ep);
  c3.connect(ep);
  tcp::endpoint peer2, peer3;
  auto s2 = acceptor.accept(other, peer2);
  static_assert(std::is_same_v<decltype(s2),
      asio_uring::basic_stream_socket<tcp, asio_uring::io_context::executor_type>>);
  BOOST_TEST(peer2 == c2.local_endpoint());
  BOOST_TEST((s2.get_executor() == other.get_executor()));
  bool async_done = false;
  acceptor.async_accept(other, peer3, [&](error_code e, auto s3) {
    static_assert(std::is_same_v<decltype(s3),
        asio_uring::basic_stream_socket<tcp, asio_uring::io_context::executor_type>>);
    BOOST_TEST(!e);
    BOOST_TEST(s3.remote_endpoint() == c3.local_endpoint());
    async_done = true;
  });
  ctx.run();
  BOOST_TEST(async_done);
  BOOST_TEST(peer3 == c3.local_endpoint());
}

BOOST_AUTO_TEST_CASE(as_default_on_makes_use_awaitable_the_default)
{
  using awaitable_acceptor = net::use_awaitable_t<>::as_default_on_t<tcp::acceptor>;
  asio_uring::io_context ctx;
  auto acceptor = net::use_awaitable_t<>::as_default_on(tcp::acceptor(ctx, loopback_any()));
  static_assert(std::is_same_v<decltype(acceptor), awaitable_acceptor>);
  awaitable_acceptor second(ctx, loopback_any());
  std::string got;
  std::string got_second;

  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    auto s = co_await acceptor.async_accept();
    char buf[6];
    std::size_t n = co_await net::async_read(s, net::buffer(buf));
    got.assign(buf, n);
    n = co_await s.async_write_some(net::buffer("thanks", 6));
    BOOST_TEST(n == 6u);

    net::use_awaitable_t<>::as_default_on_t<tcp::socket> s2(ctx);
    co_await second.async_accept(s2);
    n = co_await s2.async_read_some(net::buffer(buf));
    got_second.assign(buf, n);
  }, net::detached);

  tcp::socket client(ctx), client2(ctx);
  client.connect(acceptor.local_endpoint());
  client2.connect(second.local_endpoint());
  client.send(net::buffer("hello!", 6));
  client2.send(net::buffer("second", 6));
  ctx.run();
  BOOST_TEST(got == "hello!");
  BOOST_TEST(got_second == "second");
  char reply[6];
  BOOST_TEST(net::read(client, net::buffer(reply)) == 6u);
  BOOST_TEST(std::string(reply, 6) == "thanks");
}

BOOST_AUTO_TEST_CASE(tcp_iostream_against_our_acceptor)
{
  asio_uring::io_context ctx;
  tcp::acceptor acceptor(ctx, loopback_any());
  // Asio's iostream, on Asio's reactor; the kernel completes the handshake
  // from the backlog, so one thread suffices.
  tcp::iostream stream("127.0.0.1", std::to_string(acceptor.local_endpoint().port()));
  BOOST_REQUIRE(stream);
  tcp::socket server = acceptor.accept();
  stream << "hello\n" << std::flush;
  char buf[6];
  BOOST_TEST(net::read(server, net::buffer(buf)) == 6u);
  BOOST_TEST(std::string(buf, 6) == "hello\n");
  net::write(server, net::buffer("world\n", 6));
  std::string line;
  std::getline(stream, line);
  BOOST_TEST(line == "world");
}

// --- UDP -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(udp_flags_overloads)
{
  asio_uring::io_context ctx;
  udp::socket receiver(ctx, udp::endpoint(net::ip::address_v4::loopback(), 0));
  udp::socket sender(ctx, udp::v4());
  error_code ec;

  // send_to / receive_from with flags: MSG_PEEK leaves the datagram queued.
  BOOST_TEST(sender.send_to(net::buffer("datagram", 8), receiver.local_endpoint(), 0, ec) == 8u);
  BOOST_TEST(!ec);
  char buf[16] = {};
  udp::endpoint from;
  BOOST_TEST(receiver.receive_from(net::buffer(buf), from, MSG_PEEK, ec) == 8u);
  BOOST_TEST(!ec);
  BOOST_TEST(receiver.available() == 8u);
  BOOST_TEST(receiver.receive_from(net::buffer(buf), from, 0) == 8u);
  BOOST_TEST(std::string(buf, 8) == "datagram");
  BOOST_TEST(from.address() == net::ip::address_v4::loopback());
  BOOST_TEST(from.port() == sender.local_endpoint().port());
  BOOST_TEST(receiver.available() == 0u);

  // Connected: send(b, f, ec) (Asio's timeouts server) and receive(b, f, ec);
  // MSG_TRUNC reports the datagram's full length past a short buffer.
  sender.connect(receiver.local_endpoint());
  BOOST_TEST(sender.send(net::buffer("0123456789", 10), 0, ec) == 10u);
  BOOST_TEST(!ec);
  char small[4];
  BOOST_TEST(receiver.receive(net::buffer(small), MSG_TRUNC, ec) == 10u);
  BOOST_TEST(!ec);
  BOOST_TEST(std::string(small, 4) == "0123");

  // Asynchronous with flags.
  std::vector<std::string> log;
  char abuf[16];
  sender.async_send(net::buffer("async", 5), 0, [&](error_code e, std::size_t n) {
    log.push_back("send " + std::to_string(n) + " " + e.message());
    receiver.async_receive(net::buffer(abuf), MSG_PEEK, [&](error_code e, std::size_t n) {
      log.push_back("peek " + std::to_string(n) + " " + e.message());
      receiver.async_receive_from(net::buffer(abuf), from, 0, [&](error_code e, std::size_t n) {
        log.push_back("receive_from " + std::to_string(n) + " " + e.message());
      });
    });
  });
  ctx.run();
  BOOST_TEST(log == (std::vector<std::string>{"send 5 Success", "peek 5 Success", "receive_from 5 Success"}),
      boost::test_tools::per_element());
  BOOST_TEST(std::string(abuf, 5) == "async");
  BOOST_TEST(receiver.available() == 0u);
}

// --- Unix-domain ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(local_connect_pair_exchanges_bytes)
{
  asio_uring::io_context ctx;
  asio_uring::local::stream_protocol::socket a(ctx), b(ctx);
  asio_uring::local::connect_pair(a, b);
  std::string got(7, '\0');
  std::size_t n = 0;
  net::async_read(b, net::buffer(got), [&](error_code e, std::size_t k) {
    BOOST_TEST(!e);
    n = k;
  });
  net::write(a, net::buffer("socketp", 7));
  ctx.run();
  BOOST_TEST(n == 7u);
  BOOST_TEST(got == "socketp");

  // An open socket cannot take a pair: already_open, the other stays closed.
  asio_uring::local::stream_protocol::socket c(ctx);
  error_code ec;
  asio_uring::local::connect_pair(a, c, ec);
  BOOST_TEST(ec == net::error::already_open);
  BOOST_TEST(!c.is_open());
}

BOOST_AUTO_TEST_CASE(local_datagram_keeps_message_boundaries)
{
  asio_uring::io_context ctx;
  temp_path pa("dgram_a"), pb("dgram_b");
  using dgram = asio_uring::local::datagram_protocol;
  dgram::socket a(ctx, dgram::endpoint(pa.path)), b(ctx, dgram::endpoint(pb.path));
  a.send_to(net::buffer("ab", 2), dgram::endpoint(pb.path));
  a.send_to(net::buffer("cde", 3), dgram::endpoint(pb.path), 0);
  std::vector<std::string> got;
  char buf[16];
  dgram::endpoint from;
  b.async_receive_from(net::buffer(buf), from, [&](error_code e, std::size_t n) {
    BOOST_TEST(!e);
    got.emplace_back(buf, n);
    b.async_receive(net::buffer(buf), [&](error_code e, std::size_t n) {
      BOOST_TEST(!e);
      got.emplace_back(buf, n);
    });
  });
  ctx.run();
  BOOST_TEST(got == (std::vector<std::string>{"ab", "cde"}), boost::test_tools::per_element());
  BOOST_TEST(from.path() == pa.path);

  // A pair of datagram sockets, too.
  dgram::socket c(ctx), d(ctx);
  asio_uring::local::connect_pair(c, d);
  c.send(net::buffer("x", 1));
  c.send(net::buffer("", 0));
  BOOST_TEST(d.receive(net::buffer(buf)) == 1u);
  error_code ec;
  BOOST_TEST(d.receive(net::buffer(buf), 0, ec) == 0u);  // the empty message
  BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(local_seq_packet_messages_and_flags)
{
  using seq = asio_uring::local::seq_packet_protocol;
  asio_uring::io_context ctx;
  temp_path path("seq");
  seq::acceptor acceptor(ctx, seq::endpoint(path.path));
  seq::socket client(ctx);
  client.connect(seq::endpoint(path.path));
  auto server = acceptor.accept();
  static_assert(std::is_same_v<decltype(server), seq::socket>);

  BOOST_TEST(client.send(net::buffer("one", 3), 0) == 3u);
  BOOST_TEST(client.send(net::buffer("three", 5), 0) == 5u);
  BOOST_TEST(client.send(net::buffer("last", 4), 0) == 4u);

  // A short buffer truncates one message (MSG_TRUNC) and never reads into
  // the next.
  std::vector<std::string> got;
  std::vector<int> flags;
  char buf[16];
  char two[2];
  net::socket_base::message_flags f1 = -1, f2 = -1, f3 = -1;
  server.async_receive(net::buffer(buf), f1, [&](error_code e, std::size_t n) {
    BOOST_TEST(!e);
    got.emplace_back(buf, n);
    flags.push_back(f1 & MSG_TRUNC);
    server.async_receive(net::buffer(two), 0, f2, [&](error_code e, std::size_t n) {
      BOOST_TEST(!e);
      got.emplace_back(two, n);
      flags.push_back(f2 & MSG_TRUNC);
    });
  });
  ctx.run();
  BOOST_TEST(got == (std::vector<std::string>{"one", "th"}), boost::test_tools::per_element());
  BOOST_TEST(flags == (std::vector<int>{0, MSG_TRUNC}), boost::test_tools::per_element());
  BOOST_TEST(server.receive(net::buffer(buf), MSG_PEEK, f3) == 4u);
  BOOST_TEST(server.receive(net::buffer(buf), f3) == 4u);
  BOOST_TEST(std::string(buf, 4) == "last");
  BOOST_TEST(f3 == 0);

  // The peer closing is a message of 0 bytes, not an error.
  client.close();
  error_code ec;
  BOOST_TEST(server.receive(net::buffer(buf), 0, f3, ec) == 0u);
  BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(generic_stream_protocol_over_local_socket)
{
  asio_uring::io_context ctx;
  temp_path path("generic");
  using local_stream = asio_uring::local::stream_protocol;
  local_stream::acceptor acceptor(ctx, local_stream::endpoint(path.path));

  using gen = asio_uring::generic::stream_protocol;
  gen::socket client(ctx);
  gen::endpoint target(local_stream::endpoint(path.path));
  BOOST_TEST(target.protocol().family() == AF_UNIX);
  bool connected = false;
  client.async_connect(target, [&](error_code e) { connected = !e; });
  ctx.run();
  ctx.restart();
  BOOST_REQUIRE(connected);
  BOOST_TEST((client.local_endpoint().protocol() == gen(AF_UNIX, 0)));

  auto server = acceptor.accept();
  std::string got(4, '\0');
  net::async_write(client, net::buffer("gen!", 4), [](error_code, std::size_t) {});
  net::async_read(server, net::buffer(got), [](error_code, std::size_t) {});
  ctx.run();
  BOOST_TEST(got == "gen!");

  // An open from an explicit family and protocol.
  gen::socket other(ctx);
  other.open(gen(AF_UNIX, 0));
  BOOST_TEST(other.is_open());
}

// --- ICMP ------------------------------------------------------------------------------

namespace {

std::uint16_t icmp_checksum(const unsigned char* p, std::size_t n)
{
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += std::uint32_t(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += std::uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

} // namespace

BOOST_AUTO_TEST_CASE(icmp_echo_to_loopback)
{
  asio_uring::io_context ctx;
  icmp::socket socket(ctx);
  error_code ec;
  socket.open(icmp::v4(), ec);
  if (ec == net::error::access_denied || ec == net::error::no_permission)
  {
    BOOST_TEST_MESSAGE("skipped: a raw ICMP socket needs CAP_NET_RAW (" << ec.message() << ")");
    return;
  }
  BOOST_REQUIRE(!ec);

  // Echo request: type 8, code 0, checksum, identifier, sequence, payload.
  const std::string payload = "asio_uring ping";
  const std::uint16_t id = static_cast<std::uint16_t>(::getpid());
  std::vector<unsigned char> request(8 + payload.size());
  request[0] = 8;
  request[4] = id >> 8;
  request[5] = id & 0xff;
  request[7] = 1;
  std::memcpy(request.data() + 8, payload.data(), payload.size());
  std::uint16_t sum = icmp_checksum(request.data(), request.size());
  request[2] = sum >> 8;
  request[3] = sum & 0xff;
  icmp::endpoint loopback(net::ip::address_v4::loopback(), 0);
  BOOST_TEST(socket.send_to(net::buffer(request), loopback, 0) == request.size());

  // A raw socket sees every ICMP packet on lo, our request included: read
  // until the reply to our identifier.
  std::array<unsigned char, 512> reply;
  std::string reply_payload;
  int reply_type = -1;
  std::function<void(error_code, std::size_t)> on_receive;
  icmp::endpoint from;
  int packets = 0;
  on_receive = [&](error_code e, std::size_t n) {
    BOOST_REQUIRE(!e);
    ++packets;
    std::size_t ihl = (reply[0] & 0x0f) * 4u;
    BOOST_REQUIRE(n >= ihl + 8);
    const unsigned char* h = reply.data() + ihl;
    if (h[0] == 0 && (h[4] << 8 | h[5]) == id)
    {
      reply_type = h[0];
      reply_payload.assign(reinterpret_cast<const char*>(h + 8), n - ihl - 8);
      return;
    }
    if (packets < 16) socket.async_receive_from(net::buffer(reply), from, on_receive);
  };
  socket.async_receive_from(net::buffer(reply), from, 0, on_receive);
  ctx.run();
  BOOST_TEST(reply_type == 0);
  BOOST_TEST(reply_payload == payload);
  BOOST_TEST(from.address() == net::ip::address_v4::loopback());
}
