// A line-based chat room: every line a client sends goes to every client.
// Each participant has a reader and a writer coroutine; the writer sleeps on
// a timer that is cancelled when there is something to send (as in Asio's
// own chat example).
//   chat_server [port]     (default 7777); exits cleanly on SIGINT/SIGTERM
#include "select.hpp"

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <set>
#include <string>

namespace net = boost::asio;
using example::tcp;

class participant;
using room = std::set<std::shared_ptr<participant>>;

class participant : public std::enable_shared_from_this<participant>
{
public:
  participant(tcp::socket s, room& r) : socket_(std::move(s)), timer_(socket_.get_executor()), room_(r)
  {
    timer_.expires_at(std::chrono::steady_clock::time_point::max());
  }

  void start()
  {
    room_.insert(shared_from_this());
    net::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->reader(); }, net::detached);
    net::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->writer(); }, net::detached);
  }

  void deliver(const std::string& line)
  {
    outbox_.push_back(line);
    timer_.cancel_one();
  }

private:
  net::awaitable<void> reader()
  {
    std::string buf;
    for (;;)
    {
      auto [ec, n] = co_await net::async_read_until(socket_, net::dynamic_buffer(buf, 4096), '\n',
          net::as_tuple(net::use_awaitable));
      if (ec) break;
      std::string line = buf.substr(0, n);
      buf.erase(0, n);
      for (auto& p : room_) p->deliver(line);
    }
    stop();
  }

  net::awaitable<void> writer()
  {
    while (socket_.is_open())
    {
      if (outbox_.empty())
      {
        co_await timer_.async_wait(net::as_tuple(net::use_awaitable));
        continue;
      }
      auto [ec, n] = co_await net::async_write(socket_, net::buffer(outbox_.front()), net::as_tuple(net::use_awaitable));
      if (ec) break;
      outbox_.pop_front();
    }
    stop();
  }

  void stop()
  {
    room_.erase(shared_from_this());
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
  }

  tcp::socket socket_;
  example::steady_timer timer_;
  room& room_;
  std::deque<std::string> outbox_;
};

net::awaitable<void> listen(tcp::acceptor& acceptor, room& r)
{
  for (;;)
  {
    auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted) co_return;
    if (ec) continue;
    std::make_shared<participant>(std::move(socket), r)->start();
  }
}

int main(int argc, char** argv)
{
  unsigned short port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 7777);
  example::io_context ctx(1);
  room r;
  tcp::acceptor acceptor(ctx, {net::ip::tcp::v4(), port});
  example::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signo) {
    std::printf("signal %d: exiting\n", signo);
    std::fflush(stdout);
    ctx.stop();
  });
  net::co_spawn(ctx, listen(acceptor, r), net::detached);
  std::printf("chat server listening on %u\n", port);
  std::fflush(stdout);
  ctx.run();
  return 0;
}
