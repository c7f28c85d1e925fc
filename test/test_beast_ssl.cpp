// Composed operations written for Asio on our sockets: ssl::stream,
// Boost.Beast HTTP and websocket.
#define BOOST_TEST_MODULE beast_ssl
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>
#include <asio_uring/beast.hpp>
#include <asio_uring/tcp_stream.hpp>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio_uring::ip::tcp;
using boost::system::error_code;

namespace {

// A self-signed test certificate for CN=localhost (EC P-256).
const char* const test_cert = R"(-----BEGIN CERTIFICATE-----
MIIBfjCCASWgAwIBAgIUY9Xgbkfi61xxC3kzcNRMzNUrJaEwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMjAxMzUzMFoYDzIxMjYxMDI5
MDEzNTMwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAS7fajqZFWeHMIqjo1jNyL4kgLE6ZzjrECzafEy+cUP9YaqHhEzZyVk
iHlgNHWPPmNoTMhbmb8J0787IjxoKLgYo1MwUTAdBgNVHQ4EFgQU5eRfzcBmHdys
vzUl4lZbbkCgWL4wHwYDVR0jBBgwFoAU5eRfzcBmHdysvzUl4lZbbkCgWL4wDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBOZO0JG29saiE9Q5Ft9v2k
JnYkEwumphI/8q6r7oouGQIgFf232mdIN6/sUu+/w1cYxolR91dG8frH0BGSPjS3
5g0=
-----END CERTIFICATE-----)";
const char* const test_key = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/GAcHZIInjDY10FZ
0z0uI1X2XDTvX4TtZAY61jmkFtGhRANCAAS7fajqZFWeHMIqjo1jNyL4kgLE6Zzj
rECzafEy+cUP9YaqHhEzZyVkiHlgNHWPPmNoTMhbmb8J0787IjxoKLgY
-----END PRIVATE KEY-----)";

struct connected
{
  asio_uring::io_context& ctx;
  tcp::acceptor acceptor{ctx, {net::ip::address_v4::loopback(), 0}};
  tcp::socket client{ctx};
  tcp::socket server{ctx};
  explicit connected(asio_uring::io_context& c) : ctx(c)
  {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(beast_http_round_trip)
{
  asio_uring::io_context ctx;
  connected c(ctx);
  std::string got_target, got_body;
  unsigned got_status = 0;
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    co_await http::async_read(c.server, buf, req, net::use_awaitable);
    got_target = std::string(req.target());
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.body() = "hello from the ring";
    res.prepare_payload();
    co_await http::async_write(c.server, res, net::use_awaitable);
  }, net::detached);
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    http::request<http::string_body> req{http::verb::get, "/index.html", 11};
    req.set(http::field::host, "localhost");
    co_await http::async_write(c.client, req, net::use_awaitable);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    co_await http::async_read(c.client, buf, res, net::use_awaitable);
    got_status = res.result_int();
    got_body = res.body();
  }, net::detached);
  ctx.run();
  BOOST_TEST(got_target == "/index.html");
  BOOST_TEST(got_status == 200u);
  BOOST_TEST(got_body == "hello from the ring");
}

BOOST_AUTO_TEST_CASE(beast_websocket_echo_and_close)
{
  asio_uring::io_context ctx;
  connected c(ctx);
  std::string echoed;
  error_code server_read_end;
  websocket::stream<tcp::socket> server(std::move(c.server)), client(std::move(c.client));
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    co_await server.async_accept(net::use_awaitable);
    beast::flat_buffer buf;
    for (;;)
    {
      auto [ec, n] = co_await server.async_read(buf, net::as_tuple(net::use_awaitable));
      if (ec)
      {
        server_read_end = ec;
        co_return;
      }
      server.text(server.got_text());
      co_await server.async_write(buf.data(), net::use_awaitable);
      buf.consume(n);
    }
  }, net::detached);
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    co_await client.async_handshake("localhost", "/", net::use_awaitable);
    co_await client.async_write(net::buffer(std::string("ring websocket")), net::use_awaitable);
    beast::flat_buffer buf;
    co_await client.async_read(buf, net::use_awaitable);
    echoed = beast::buffers_to_string(buf.data());
    co_await client.async_close(websocket::close_code::normal, net::use_awaitable);
  }, net::detached);
  ctx.run();
  BOOST_TEST(echoed == "ring websocket");
  BOOST_TEST((server_read_end == websocket::error::closed));
  BOOST_TEST(!client.next_layer().is_open());
}

BOOST_AUTO_TEST_CASE(ssl_stream_handshake_and_exact_bytes)
{
  asio_uring::io_context ctx;
  connected c(ctx);
  net::ssl::context server_tls(net::ssl::context::tls_server);
  server_tls.use_certificate_chain(net::buffer(std::string(test_cert)));
  server_tls.use_private_key(net::buffer(std::string(test_key)), net::ssl::context::pem);
  net::ssl::context client_tls(net::ssl::context::tls_client);
  client_tls.add_certificate_authority(net::buffer(std::string(test_cert)));
  client_tls.set_verify_mode(net::ssl::verify_peer);
  net::ssl::stream<tcp::socket> server(std::move(c.server), server_tls);
  net::ssl::stream<tcp::socket> client(std::move(c.client), client_tls);
  std::string got(1 << 16, '\0');
  std::string sent(1 << 16, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 31);
  error_code shutdown_ec = net::error::would_block;
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    co_await server.async_handshake(net::ssl::stream_base::server, net::use_awaitable);
    co_await net::async_read(server, net::buffer(got), net::use_awaitable);
    auto [ec] = co_await server.async_shutdown(net::as_tuple(net::use_awaitable));
    shutdown_ec = ec;
  }, net::detached);
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    co_await client.async_handshake(net::ssl::stream_base::client, net::use_awaitable);
    co_await net::async_write(client, net::buffer(sent), net::use_awaitable);
    co_await client.async_shutdown(net::as_tuple(net::use_awaitable));
  }, net::detached);
  ctx.run();
  BOOST_TEST((got == sent));
  BOOST_TEST((!shutdown_ec || shutdown_ec == net::ssl::error::stream_truncated));
}

BOOST_AUTO_TEST_CASE(tcp_stream_timeouts_with_linked_timeouts)
{
  asio_uring::io_context ctx;
  tcp::acceptor acceptor(ctx, {net::ip::address_v4::loopback(), 0});
  tcp::socket peer(ctx);
  asio_uring::tcp_stream stream(ctx);
  error_code connect_ec = net::error::would_block, read_ec, write_ec;
  std::size_t read_n = 99;
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration waited{};
  char buf[16];
  acceptor.async_accept(peer, [&](error_code ec) { BOOST_TEST(!ec); });
  stream.expires_after(std::chrono::seconds(5));
  stream.async_connect(acceptor.local_endpoint(), [&](error_code ec) {
    connect_ec = ec;
    // The peer never writes: the read must time out after 50 ms.
    stream.expires_after(std::chrono::milliseconds(50));
    start = std::chrono::steady_clock::now();
    stream.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) {
      read_ec = ec;
      read_n = n;
      waited = std::chrono::steady_clock::now() - start;
    });
  });
  ctx.run();
  BOOST_TEST(!connect_ec);
  BOOST_TEST((read_ec == beast::error::timeout));
  BOOST_TEST(read_n == 0u);
  BOOST_TEST((waited >= std::chrono::milliseconds(45)));
  BOOST_TEST((waited < std::chrono::seconds(5)));
  // As in Beast, the timeout closed the socket: the peer sees the end.
  BOOST_TEST(!stream.socket().is_open());
  error_code peer_ec;
  BOOST_TEST(peer.read_some(net::buffer(buf), peer_ec) == 0u);
  BOOST_TEST((peer_ec == net::error::eof));

  // Reconnected, without a deadline and with one that is not reached, data
  // flows.
  ctx.restart();
  peer.close();
  acceptor.async_accept(peer, [&](error_code ec) { BOOST_TEST(!ec); });
  stream.expires_never();
  connect_ec = net::error::would_block;
  stream.async_connect(acceptor.local_endpoint(), [&](error_code ec) { connect_ec = ec; });
  ctx.run();
  BOOST_TEST(!connect_ec);
  BOOST_TEST(stream.socket().is_open());
  ctx.restart();
  peer.send(net::buffer("ok", 2));
  std::size_t got = 0;
  stream.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t n) { BOOST_TEST(!ec); got = n; });
  ctx.run();
  BOOST_TEST(got == 2u);
  ctx.restart();
  stream.expires_after(std::chrono::seconds(10));
  std::size_t wrote = 0;
  stream.async_write_some(net::buffer("done", 4), [&](error_code ec, std::size_t n) { write_ec = ec; wrote = n; });
  ctx.run();
  BOOST_TEST(!write_ec);
  BOOST_TEST(wrote == 4u);
}

BOOST_AUTO_TEST_CASE(beast_http_over_tcp_stream)
{
  asio_uring::io_context ctx;
  connected c(ctx);
  asio_uring::tcp_stream client(std::move(c.client));
  std::string body;
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    beast::flat_buffer buf;
    http::request<http::empty_body> req;
    co_await http::async_read(c.server, buf, req, net::use_awaitable);
    http::response<http::string_body> res{http::status::ok, 11};
    res.body() = "timed";
    res.prepare_payload();
    co_await http::async_write(c.server, res, net::use_awaitable);
  }, net::detached);
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    client.expires_after(std::chrono::seconds(5));
    http::request<http::empty_body> req{http::verb::get, "/", 11};
    co_await http::async_write(client, req, net::use_awaitable);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    co_await http::async_read(client, buf, res, net::use_awaitable);
    body = res.body();
  }, net::detached);
  ctx.run();
  BOOST_TEST(body == "timed");
}

BOOST_AUTO_TEST_CASE(ssl_stream_over_tcp_stream)
{
  asio_uring::io_context ctx;
  tcp::acceptor acceptor(ctx, {net::ip::address_v4::loopback(), 0});
  net::ssl::context server_tls(net::ssl::context::tls_server);
  server_tls.use_certificate_chain(net::buffer(std::string(test_cert)));
  server_tls.use_private_key(net::buffer(std::string(test_key)), net::ssl::context::pem);
  net::ssl::context client_tls(net::ssl::context::tls_client);
  client_tls.add_certificate_authority(net::buffer(std::string(test_cert)));
  client_tls.set_verify_mode(net::ssl::verify_peer);
  net::ssl::stream<asio_uring::tcp_stream> client(ctx, client_tls);
  std::string server_got(11, '\0'), client_got(11, '\0');
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    net::ssl::stream<asio_uring::tcp_stream> server(
        co_await acceptor.async_accept(net::use_awaitable), server_tls);
    beast::get_lowest_layer(server).expires_after(std::chrono::seconds(10));
    co_await server.async_handshake(net::ssl::stream_base::server, net::use_awaitable);
    co_await net::async_read(server, net::buffer(server_got), net::use_awaitable);
    co_await net::async_write(server, net::buffer(std::string("tls on ring")), net::use_awaitable);
    co_await server.async_shutdown(net::as_tuple(net::use_awaitable));
  }, net::detached);
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    beast::get_lowest_layer(client).expires_after(std::chrono::seconds(10));
    co_await beast::get_lowest_layer(client).async_connect(acceptor.local_endpoint(), net::use_awaitable);
    co_await client.async_handshake(net::ssl::stream_base::client, net::use_awaitable);
    co_await net::async_write(client, net::buffer(std::string("hello there")), net::use_awaitable);
    co_await net::async_read(client, net::buffer(client_got), net::use_awaitable);
    co_await client.async_shutdown(net::as_tuple(net::use_awaitable));
  }, net::detached);
  ctx.run();
  BOOST_TEST(server_got == "hello there");
  BOOST_TEST(client_got == "tls on ring");
  // ssl::stream<tcp_stream>::lowest_layer() is our socket.
  BOOST_TEST(client.lowest_layer().is_open());
}

// ssl::stream over tcp_stream with a deadline before every read: the reads
// go through the multishot receive (from the second on) and every byte
// arrives, both ways.
BOOST_AUTO_TEST_CASE(ssl_stream_over_tcp_stream_exact_bytes_timed_reads)
{
  asio_uring::io_context ctx;
  connected c(ctx);
  net::ssl::context server_tls(net::ssl::context::tls_server);
  server_tls.use_certificate_chain(net::buffer(std::string(test_cert)));
  server_tls.use_private_key(net::buffer(std::string(test_key)), net::ssl::context::pem);
  net::ssl::context client_tls(net::ssl::context::tls_client);
  client_tls.add_certificate_authority(net::buffer(std::string(test_cert)));
  client_tls.set_verify_mode(net::ssl::verify_peer);
  net::ssl::stream<asio_uring::tcp_stream> server(asio_uring::tcp_stream(std::move(c.server)), server_tls);
  net::ssl::stream<asio_uring::tcp_stream> client(asio_uring::tcp_stream(std::move(c.client)), client_tls);
  std::string sent(300000, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 131 + i / 1000);
  std::string server_got, client_got;
  auto read_all = [](net::ssl::stream<asio_uring::tcp_stream>& s, std::string& out,
                      std::size_t n) -> net::awaitable<void> {
    char buf[3000];
    while (out.size() < n)
    {
      beast::get_lowest_layer(s).expires_after(std::chrono::seconds(10));
      std::size_t k = co_await s.async_read_some(net::buffer(buf, std::min(sizeof buf, n - out.size())),
          net::use_awaitable);
      out.append(buf, k);
    }
  };
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    beast::get_lowest_layer(server).expires_after(std::chrono::seconds(10));
    co_await server.async_handshake(net::ssl::stream_base::server, net::use_awaitable);
    co_await read_all(server, server_got, sent.size());
    co_await net::async_write(server, net::buffer(sent), net::use_awaitable);
  }, net::detached);
  net::co_spawn(ctx, [&]() -> net::awaitable<void> {
    beast::get_lowest_layer(client).expires_after(std::chrono::seconds(10));
    co_await client.async_handshake(net::ssl::stream_base::client, net::use_awaitable);
    co_await net::async_write(client, net::buffer(sent), net::use_awaitable);
    co_await read_all(client, client_got, sent.size());
  }, net::detached);
  ctx.run();
  BOOST_TEST(server_got.size() == sent.size());
  BOOST_TEST((server_got == sent));
  BOOST_TEST((client_got == sent));
  asio_uring::detail::scheduler& s = ctx.impl();
  bool multishot = false;
  std::size_t requests = 0;
  s.with_loop([&] {
    multishot = s.recv_buffers().multishot_ok();
    requests = s.recv_buffers().stats.multishot_requests;
  });
  if (multishot) BOOST_TEST(requests >= 2u);  // one per stream at least
  else BOOST_TEST(requests == 0u);
  BOOST_TEST(beast::get_lowest_layer(server).socket().is_open());
}
