// The port is a rename: boost::asio::connect / async_connect called qualified
// on our sockets, Beast's websocket over our socket and tcp_stream with no
// include of ours beyond <asio_uring.hpp>, and tcp_stream as beast::tcp_stream.
#define BOOST_TEST_MODULE beast
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <optional>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio_uring::ip::tcp;
using endpoint = net::ip::tcp::endpoint;
using boost::system::error_code;

namespace {

// Two listening endpoints and one that refuses (bound, not listening).
struct endpoints
{
  asio_uring::io_context& ctx;
  tcp::acceptor a{ctx, {net::ip::address_v4::loopback(), 0}};
  tcp::acceptor b{ctx, {net::ip::address_v4::loopback(), 0}};
  tcp::socket refusing{ctx, endpoint(net::ip::address_v4::loopback(), 0)};
  endpoint ep_a = a.local_endpoint(), ep_b = b.local_endpoint(), ep_refused = refusing.local_endpoint();
  explicit endpoints(asio_uring::io_context& c) : ctx(c) {}

  net::ip::tcp::resolver::results_type results(std::vector<endpoint> eps) const
  {
    return net::ip::tcp::resolver::results_type::create(eps.begin(), eps.end(), "localhost", "test");
  }
};

// The peer's end of a connection accepted on `acc` sends `bytes`; returns
// what `s` reads, so a test sees which acceptor the socket reached.
template <typename Socket>
std::string exchange(tcp::acceptor& acc, Socket& s, const std::string& bytes)
{
  tcp::socket peer = acc.accept();
  peer.send(net::buffer(bytes));
  std::string got(bytes.size(), '\0');
  net::read(s, net::buffer(got));
  return got;
}

struct skip_first
{
  std::vector<std::pair<error_code, endpoint>>* calls;
  bool operator()(const error_code& ec, const endpoint& next)
  {
    calls->emplace_back(ec, next);
    return calls->size() > 1;
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(connect_over_resolver_results_tries_in_order)
{
  asio_uring::io_context ctx;
  endpoints e(ctx);
  tcp::socket s(ctx);
  endpoint got = net::connect(s, e.results({e.ep_refused, e.ep_b}));
  BOOST_TEST((got == e.ep_b));
  BOOST_TEST((s.remote_endpoint() == e.ep_b));
  BOOST_TEST(exchange(e.b, s, "via b") == "via b");

  // All refused: the last error, a default endpoint, and the throwing form
  // throws it.
  error_code ec;
  got = net::connect(s, e.results({e.ep_refused}), ec);
  BOOST_TEST((ec == net::error::connection_refused));
  BOOST_TEST((got == endpoint()));
  try
  {
    net::connect(s, e.results({e.ep_refused}));
    BOOST_FAIL("connect did not throw");
  }
  catch (const boost::system::system_error& err)
  {
    BOOST_TEST((err.code() == net::error::connection_refused));
  }

  // A real resolver's results, and the unqualified (ADL) and asio_uring
  // spellings, which are the same functions.
  tcp::resolver resolver(ctx);
  auto resolved = resolver.resolve("127.0.0.1", std::to_string(e.ep_a.port()));
  tcp::socket s2(ctx), s3(ctx);
  BOOST_TEST((connect(s2, resolved) == e.ep_a));
  BOOST_TEST((asio_uring::connect(s3, resolved) == e.ep_a));
  BOOST_TEST(exchange(e.a, s2, "s2") == "s2");
  BOOST_TEST(exchange(e.a, s3, "s3") == "s3");
}

BOOST_AUTO_TEST_CASE(connect_condition_skips_and_iterators)
{
  asio_uring::io_context ctx;
  endpoints e(ctx);
  tcp::socket s(ctx);
  std::vector<std::pair<error_code, endpoint>> calls;
  auto results = e.results({e.ep_a, e.ep_b});
  BOOST_TEST((net::connect(s, results, skip_first{&calls}) == e.ep_b));
  BOOST_TEST(calls.size() == 2u);
  BOOST_TEST((calls[0].second == e.ep_a));
  BOOST_TEST((calls[1].second == e.ep_b));
  BOOST_TEST(!calls[0].first);
  BOOST_TEST(exchange(e.b, s, "cond") == "cond");

  // The condition sees the previous attempt's error.
  calls.clear();
  std::vector<endpoint> eps{e.ep_refused, e.ep_a};
  auto always = [&](const error_code& ec, const endpoint& next) {
    calls.emplace_back(ec, next);
    return true;
  };
  tcp::socket s2(ctx);
  auto it = net::connect(s2, eps.begin(), eps.end(), always);
  BOOST_TEST((it == eps.begin() + 1));
  BOOST_TEST(calls.size() == 2u);
  BOOST_TEST(!calls[0].first);
  BOOST_TEST((calls[1].first == net::error::connection_refused));
  BOOST_TEST(exchange(e.a, s2, "it") == "it");

  tcp::socket s3(ctx);
  error_code ec;
  BOOST_TEST((net::connect(s3, eps.begin(), eps.end(), ec) == eps.begin() + 1));
  BOOST_TEST(!ec);
  BOOST_TEST(exchange(e.a, s3, "it2") == "it2");
}

BOOST_AUTO_TEST_CASE(connect_empty_or_all_filtered_is_not_found)
{
  asio_uring::io_context ctx;
  endpoints e(ctx);
  tcp::socket s(ctx);
  error_code ec;
  BOOST_TEST((net::connect(s, e.results({}), ec) == endpoint()));
  BOOST_TEST((ec == net::error::not_found));
  std::vector<endpoint> eps{e.ep_a};
  auto never = [](const error_code&, const endpoint&) { return false; };
  BOOST_TEST((net::connect(s, eps.begin(), eps.end(), never, ec) == eps.end()));
  BOOST_TEST((ec == net::error::not_found));
  BOOST_TEST(!s.is_open());

  // Asynchronously: not_found too, never inside the initiating call.
  bool inside = true, ran = false;
  net::async_connect(s, e.results({}), [&](error_code ec2, endpoint ep) {
    BOOST_TEST(!inside);
    BOOST_TEST((ec2 == net::error::not_found));
    BOOST_TEST((ep == endpoint()));
    ran = true;
  });
  error_code iter_ec;
  auto iter_result = eps.begin();
  net::async_connect(s, eps.begin(), eps.end(), never, [&](error_code ec2, std::vector<endpoint>::iterator i) {
    iter_ec = ec2;
    iter_result = i;
  });
  inside = false;
  ctx.run();
  BOOST_TEST(ran);
  BOOST_TEST((iter_ec == net::error::not_found));
  BOOST_TEST((iter_result == eps.end()));
}

BOOST_AUTO_TEST_CASE(async_connect_forms)
{
  asio_uring::io_context ctx;
  endpoints e(ctx);
  tcp::socket s1(ctx), s2(ctx), s3(ctx), s4(ctx);
  std::vector<int> order;
  error_code ec1 = net::error::would_block, ec2 = ec1, ec3 = ec1, ec4 = ec1;
  endpoint ep1, ep2;
  std::vector<std::pair<error_code, endpoint>> calls;
  std::vector<endpoint> eps{e.ep_refused, e.ep_b};
  auto it3 = eps.end();

  net::async_connect(s1, e.results({e.ep_refused, e.ep_a}), [&](error_code ec, endpoint ep) {
    ec1 = ec;
    ep1 = ep;
    order.push_back(1);
  });
  net::async_connect(s2, e.results({e.ep_a, e.ep_b}), skip_first{&calls}, [&](error_code ec, endpoint ep) {
    ec2 = ec;
    ep2 = ep;
    order.push_back(2);
  });
  net::async_connect(s3, eps.begin(), eps.end(), [&](error_code ec, std::vector<endpoint>::iterator i) {
    ec3 = ec;
    it3 = i;
    order.push_back(3);
  });
  // Every endpoint refuses: the last error.
  net::async_connect(s4, e.results({e.ep_refused, e.ep_refused}), [&](error_code ec, endpoint ep) {
    ec4 = ec;
    BOOST_TEST((ep == endpoint()));
    order.push_back(4);
  });
  BOOST_TEST(order.empty());
  ctx.run();
  BOOST_TEST(order.size() == 4u);
  BOOST_TEST(!ec1);
  BOOST_TEST((ep1 == e.ep_a));
  BOOST_TEST(!ec2);
  BOOST_TEST((ep2 == e.ep_b));
  BOOST_TEST(calls.size() == 2u);
  BOOST_TEST(!ec3);
  BOOST_TEST((it3 == eps.begin() + 1));
  BOOST_TEST((ec4 == net::error::connection_refused));
  BOOST_TEST(exchange(e.a, s1, "one") == "one");
  BOOST_TEST(exchange(e.b, s2, "two") == "two");
  BOOST_TEST(exchange(e.b, s3, "three") == "three");

  // With use_awaitable, the default token of a rebound socket.
  ctx.restart();
  endpoint ep5;
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    auto s = net::use_awaitable_t<>::as_default_on(tcp::socket(co_await net::this_coro::executor));
    // (The results are a named local: g++ 12 cannot keep an initializer
    // list's array alive across co_await.)
    auto results = e.results({e.ep_refused, e.ep_a});
    ep5 = co_await net::async_connect(s, results);
    s.close();
  }, net::detached);
  ctx.run();
  BOOST_TEST((ep5 == e.ep_a));
}

BOOST_AUTO_TEST_CASE(connect_on_ssl_stream_lowest_layer)
{
  asio_uring::io_context ctx;
  endpoints e(ctx);
  net::ssl::context tls(net::ssl::context::tls_client);
  net::ssl::stream<tcp::socket> a(ctx, tls), b(ctx, tls);
  BOOST_TEST((net::connect(a.lowest_layer(), e.results({e.ep_refused, e.ep_a})) == e.ep_a));
  BOOST_TEST(exchange(e.a, a.next_layer(), "tls a") == "tls a");
  endpoint got;
  net::async_connect(b.lowest_layer(), e.results({e.ep_b}), [&](error_code ec, endpoint ep) {
    BOOST_TEST(!ec);
    got = ep;
  });
  ctx.run();
  BOOST_TEST((got == e.ep_b));
  BOOST_TEST(exchange(e.b, b.next_layer(), "tls b") == "tls b");

  websocket::stream<tcp::socket> ws(ctx);
  BOOST_TEST((net::connect(beast::get_lowest_layer(ws), e.results({e.ep_a})) == e.ep_a));
  BOOST_TEST(exchange(e.a, ws.next_layer(), "ws") == "ws");
}

namespace {

// The socket under beast::get_lowest_layer(ws), for either layer type.
tcp::socket& socket_of(tcp::socket& s) { return s; }
tcp::socket& socket_of(asio_uring::tcp_stream& s) { return s.socket(); }

struct echo_result
{
  error_code read_end;
  websocket::close_code code{};
  bool socket_closed = false;
};

// Echoes messages until the peer closes; records how the read ended, the
// close code received and whether teardown closed the socket.
template <typename Stream>
net::awaitable<void> echo_server(websocket::stream<Stream>& ws, echo_result& r)
{
  co_await ws.async_accept(net::use_awaitable);
  beast::flat_buffer buf;
  for (;;)
  {
    auto [ec, n] = co_await ws.async_read(buf, net::as_tuple(net::use_awaitable));
    if (ec)
    {
      r.read_end = ec;
      r.code = websocket::close_code(ws.reason().code);
      r.socket_closed = !socket_of(beast::get_lowest_layer(ws)).is_open();
      co_return;
    }
    ws.text(ws.got_text());
    co_await ws.async_write(buf.data(), net::use_awaitable);
    buf.consume(n);
  }
}

struct client_result
{
  std::string echoed;
  error_code close_ec = net::error::would_block;
  error_code read_after_close;
  bool socket_closed = false;
};

template <typename Stream>
net::awaitable<void> echo_client(websocket::stream<Stream>& ws, client_result& r)
{
  co_await ws.async_handshake("localhost", "/", net::use_awaitable);
  co_await ws.async_write(net::buffer(std::string("echo over the ring")), net::use_awaitable);
  beast::flat_buffer buf;
  co_await ws.async_read(buf, net::use_awaitable);
  r.echoed = beast::buffers_to_string(buf.data());
  auto [ec] = co_await ws.async_close(websocket::close_code::normal, net::as_tuple(net::use_awaitable));
  r.close_ec = ec;
  r.socket_closed = !socket_of(beast::get_lowest_layer(ws)).is_open();
  auto [ec2, n] = co_await ws.async_read(buf, net::as_tuple(net::use_awaitable));
  r.read_after_close = ec2;
}

struct connected_pair
{
  asio_uring::io_context& ctx;
  tcp::acceptor acceptor{ctx, {net::ip::address_v4::loopback(), 0}};
  tcp::socket client{ctx};
  tcp::socket server{ctx};
  explicit connected_pair(asio_uring::io_context& c) : ctx(c)
  {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

template <typename Stream>
void check_async_echo()
{
  asio_uring::io_context ctx;
  connected_pair c(ctx);
  websocket::stream<Stream> server(std::move(c.server)), client(std::move(c.client));
  echo_result sr;
  client_result cr;
  net::co_spawn(ctx, echo_server(server, sr), net::detached);
  net::co_spawn(ctx, echo_client(client, cr), net::detached);
  ctx.run();
  BOOST_TEST(cr.echoed == "echo over the ring");
  BOOST_TEST(!cr.close_ec);
  BOOST_TEST(cr.socket_closed);
  // Beast: a read on a closed websocket stream is aborted.
  BOOST_TEST((cr.read_after_close == net::error::operation_aborted));
  BOOST_TEST((sr.read_end == websocket::error::closed));
  BOOST_TEST((sr.code == websocket::close_code::normal));
  BOOST_TEST(sr.socket_closed);
}

} // namespace

BOOST_AUTO_TEST_CASE(websocket_async_echo_over_tcp_stream)
{
  check_async_echo<asio_uring::tcp_stream>();
}

BOOST_AUTO_TEST_CASE(websocket_async_echo_over_socket)
{
  check_async_echo<tcp::socket>();
}

BOOST_AUTO_TEST_CASE(websocket_sync_echo_over_socket_and_tcp_stream)
{
  asio_uring::io_context ctx;
  connected_pair c1(ctx), c2(ctx);
  websocket::stream<tcp::socket> server1(std::move(c1.server)), client1(std::move(c1.client));
  websocket::stream<asio_uring::tcp_stream> server2(std::move(c2.server)), client2(std::move(c2.client));

  auto serve = [](auto& ws, echo_result& r) {
    ws.accept();
    beast::flat_buffer buf;
    for (;;)
    {
      error_code ec;
      std::size_t n = ws.read(buf, ec);
      if (ec)
      {
        r.read_end = ec;
        r.code = websocket::close_code(ws.reason().code);
        return;
      }
      ws.text(ws.got_text());
      ws.write(buf.data());
      buf.consume(n);
    }
  };
  auto talk = [](auto& ws, client_result& r) {
    ws.handshake("localhost", "/");
    ws.write(net::buffer(std::string("sync echo")));
    beast::flat_buffer buf;
    ws.read(buf);
    r.echoed = beast::buffers_to_string(buf.data());
    ws.close(websocket::close_code::going_away, r.close_ec);
    ws.read(buf, r.read_after_close);
  };
  echo_result sr1, sr2;
  client_result cr1, cr2;
  std::thread t1([&] { serve(server1, sr1); }), t2([&] { serve(server2, sr2); });
  talk(client1, cr1);
  talk(client2, cr2);
  t1.join();
  t2.join();
  BOOST_TEST(cr1.echoed == "sync echo");
  BOOST_TEST(cr2.echoed == "sync echo");
  BOOST_TEST(!cr1.close_ec);
  BOOST_TEST(!cr2.close_ec);
  BOOST_TEST((cr1.read_after_close == net::error::operation_aborted));
  BOOST_TEST((cr2.read_after_close == net::error::operation_aborted));
  BOOST_TEST((sr1.read_end == websocket::error::closed));
  BOOST_TEST((sr2.read_end == websocket::error::closed));
  BOOST_TEST((sr1.code == websocket::close_code::going_away));
  BOOST_TEST((sr2.code == websocket::close_code::going_away));
  // Teardown closed all four sockets.
  BOOST_TEST(!client1.next_layer().is_open());
  BOOST_TEST(!server1.next_layer().is_open());
  BOOST_TEST(!client2.next_layer().socket().is_open());
  BOOST_TEST(!server2.next_layer().socket().is_open());
}

BOOST_AUTO_TEST_CASE(websocket_plain_asio_client_talks_to_our_server)
{
  asio_uring::io_context ctx;
  tcp::acceptor acceptor(ctx, {net::ip::address_v4::loopback(), 0});
  echo_result sr;
  std::optional<websocket::stream<asio_uring::tcp_stream>> server;
  acceptor.async_accept([&](error_code ec, tcp::socket s) {
    BOOST_TEST(!ec);
    server.emplace(std::move(s));
    net::co_spawn(ctx, echo_server(*server, sr), net::detached);
  });
  std::string echoed;
  error_code close_ec = net::error::would_block;
  std::thread client([&, port = acceptor.local_endpoint().port()] {
    net::io_context plain;
    websocket::stream<net::ip::tcp::socket> ws(plain);
    net::ip::tcp::resolver resolver(plain);
    net::connect(ws.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
    ws.handshake("localhost", "/");
    ws.binary(true);
    ws.write(net::buffer(std::string("\x00\x01plain asio", 12)));
    beast::flat_buffer buf;
    ws.read(buf);
    echoed = beast::buffers_to_string(buf.data());
    ws.close(websocket::close_code::normal, close_ec);
  });
  ctx.run();
  client.join();
  BOOST_TEST(echoed == std::string("\x00\x01plain asio", 12));
  BOOST_TEST(!close_ec);
  BOOST_TEST((sr.read_end == websocket::error::closed));
  BOOST_TEST((sr.code == websocket::close_code::normal));
  BOOST_TEST(sr.socket_closed);
}

BOOST_AUTO_TEST_CASE(tcp_stream_is_beast_tcp_stream)
{
  static_assert(std::is_same_v<asio_uring::tcp_stream::socket_type, tcp::socket>);
  static_assert(std::is_same_v<asio_uring::tcp_stream::lowest_layer_type, tcp::socket>);
  // As in Beast: get_lowest_layer stops at the tcp_stream (expires_after is
  // called on it), ssl::stream's lowest_layer() is the socket.
  static_assert(std::is_same_v<beast::lowest_layer_type<websocket::stream<asio_uring::tcp_stream>>,
      asio_uring::tcp_stream>);
  static_assert(std::is_same_v<net::ssl::stream<asio_uring::tcp_stream>::lowest_layer_type, tcp::socket>);
  static_assert(std::is_same_v<asio_uring::tcp_stream::rebind_executor<net::strand<net::any_io_executor>>::other,
      asio_uring::basic_tcp_stream<net::strand<net::any_io_executor>>>);

  asio_uring::io_context ctx;
  endpoints e(ctx);
  asio_uring::tcp_stream stream(ctx);
  BOOST_TEST((stream.connect(e.results({e.ep_refused, e.ep_a})) == e.ep_a));
  BOOST_TEST(exchange(e.a, stream, "stream") == "stream");
  error_code ec;
  BOOST_TEST((stream.connect(e.results({e.ep_refused}), ec) == endpoint()));
  BOOST_TEST((ec == net::error::connection_refused));
  std::vector<std::pair<error_code, endpoint>> calls;
  BOOST_TEST((stream.connect(e.results({e.ep_a, e.ep_b}), skip_first{&calls}) == e.ep_b));
  BOOST_TEST(exchange(e.b, stream, "cond") == "cond");
  std::vector<endpoint> eps{e.ep_refused, e.ep_b};
  BOOST_TEST((stream.connect(eps.begin(), eps.end()) == eps.begin() + 1));
  BOOST_TEST(exchange(e.b, stream.socket(), "iter") == "iter");
  stream.close();
  stream.connect(e.ep_a);  // opens the closed socket, as Asio's connect does
  BOOST_TEST((stream.socket().remote_endpoint() == e.ep_a));
  BOOST_TEST(exchange(e.a, stream, "ep") == "ep");

  // Asynchronously, under a deadline that is not reached.
  std::vector<int> order;
  asio_uring::tcp_stream s1(ctx), s2(ctx), s3(ctx);
  s1.expires_after(std::chrono::seconds(5));
  s1.async_connect(e.results({e.ep_refused, e.ep_a}), [&](error_code ec1, endpoint ep) {
    BOOST_TEST(!ec1);
    BOOST_TEST((ep == e.ep_a));
    order.push_back(1);
  });
  calls.clear();
  s2.async_connect(e.results({e.ep_a, e.ep_b}), skip_first{&calls}, [&](error_code ec2, endpoint ep) {
    BOOST_TEST(!ec2);
    BOOST_TEST((ep == e.ep_b));
    order.push_back(2);
  });
  s3.async_connect(eps.begin(), eps.end(), [&](error_code ec3, std::vector<endpoint>::iterator it) {
    BOOST_TEST(!ec3);
    BOOST_TEST((it == eps.begin() + 1));
    order.push_back(3);
  });
  BOOST_TEST(order.empty());
  ctx.run();
  BOOST_TEST(order.size() == 3u);
  BOOST_TEST(exchange(e.a, s1, "s1") == "s1");
  BOOST_TEST(exchange(e.b, s2, "s2") == "s2");
  BOOST_TEST(exchange(e.b, s3, "s3") == "s3");
}

BOOST_AUTO_TEST_CASE(tcp_stream_release_socket)
{
  asio_uring::io_context ctx;
  connected_pair c(ctx);
  asio_uring::tcp_stream stream(std::move(c.client));
  char buf[8];
  error_code read_ec;
  stream.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
    read_ec = ec;
    BOOST_TEST(n == 0u);
  });
  tcp::socket s = stream.release_socket();
  ctx.run();
  // The pending read was cancelled; the socket is still connected.
  BOOST_TEST((read_ec == net::error::operation_aborted));
  BOOST_TEST(s.is_open());
  BOOST_TEST(!stream.socket().is_open());
  c.server.send(net::buffer("after", 5));
  std::string got(5, '\0');
  net::read(s, net::buffer(got));
  BOOST_TEST(got == "after");
}

BOOST_AUTO_TEST_CASE(tcp_stream_as_default_on_use_awaitable)
{
  asio_uring::io_context ctx;
  endpoints e(ctx);
  std::string reply;
  endpoint connected_to;
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    auto stream = net::use_awaitable_t<>::as_default_on(
        asio_uring::tcp_stream(co_await net::this_coro::executor));
    stream.expires_after(std::chrono::seconds(5));
    auto results = e.results({e.ep_refused, e.ep_a});
    connected_to = co_await stream.async_connect(results);
    tcp::socket peer = co_await e.a.async_accept(net::use_awaitable);
    co_await net::async_write(stream, net::buffer(std::string("question")));
    std::string q(8, '\0');
    co_await net::async_read(peer, net::buffer(q), net::use_awaitable);
    co_await net::async_write(peer, net::buffer("answer:" + q), net::use_awaitable);
    reply.resize(15);
    co_await net::async_read(stream, net::buffer(reply));
  }, net::detached);
  ctx.run();
  BOOST_TEST((connected_to == e.ep_a));
  BOOST_TEST(reply == "answer:question");
}

BOOST_AUTO_TEST_CASE(tcp_stream_simple_rate_policy_limits_each_second)
{
  asio_uring::io_context ctx;
  connected_pair c(ctx);
  asio_uring::basic_tcp_stream<net::any_io_executor, beast::simple_rate_policy> stream(
      beast::simple_rate_policy(), std::move(c.client));
  stream.rate_policy().write_limit(4);
  std::vector<std::size_t> written;
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration second_at{};
  stream.async_write_some(net::buffer("0123456789", 10), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    written.push_back(n);
    // The second's budget is spent: this one waits for the next tick.
    stream.async_write_some(net::buffer("456789", 6), [&](error_code ec2, std::size_t n2) {
      BOOST_TEST(!ec2);
      written.push_back(n2);
      second_at = std::chrono::steady_clock::now() - start;
    });
  });
  ctx.run();
  BOOST_TEST(written.size() == 2u);
  BOOST_TEST(written[0] == 4u);
  BOOST_TEST(written[1] == 4u);
  BOOST_TEST((second_at >= std::chrono::milliseconds(900)));
  std::string got(8, '\0');
  net::read(c.server, net::buffer(got));
  BOOST_TEST(got == "01234567");
}

BOOST_AUTO_TEST_CASE(tcp_stream_range_connect_times_out)
{
  asio_uring::io_context ctx;
  // A listener whose accept queue is full drops new SYNs: connects hang.
  tcp::acceptor full(ctx);
  full.open(net::ip::tcp::v4());
  full.bind({net::ip::address_v4::loopback(), 0});
  full.listen(0);
  tcp::socket s0(ctx), s1(ctx);
  s0.connect(full.local_endpoint());
  s1.async_connect(full.local_endpoint(), [](error_code) {});
  asio_uring::tcp_stream stream(ctx);
  stream.expires_after(std::chrono::milliseconds(100));
  auto start = std::chrono::steady_clock::now();
  error_code ec;
  endpoint got(net::ip::address_v4::loopback(), 1);
  stream.async_connect(net::ip::tcp::resolver::results_type::create(full.local_endpoint(), "h", "s"),
      [&](error_code e, endpoint ep) {
        ec = e;
        got = ep;
        s1.close();
      });
  ctx.run();
  auto waited = std::chrono::steady_clock::now() - start;
  BOOST_TEST((ec == beast::error::timeout));
  BOOST_TEST((got == endpoint()));
  BOOST_TEST(!stream.socket().is_open());
  BOOST_TEST((waited >= std::chrono::milliseconds(90)));
  BOOST_TEST((waited < std::chrono::seconds(5)));
}
