// The request side of example/http_server.cpp (bench/coro_floor.cpp uses it
// too): request heads are parsed in place in the connection's buffer, and
// each complete one gets the same fixed response.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

namespace example::http {

constexpr std::string_view response =
    "HTTP/1.1 200 OK\r\n"
    "Server: asio-uring-example\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";

inline bool wants_close(std::string_view head)
{
  // Case-insensitive search would be more thorough; wrk and curl send this.
  return head.find("Connection: close") != std::string_view::npos
      || head.find("connection: close") != std::string_view::npos;
}

struct heads
{
  std::size_t count;  // complete request heads, to answer in order
  bool close;         // the last of them asks to close the connection
};

// Takes the complete request heads at the front of buf[0, have) (up to the
// first that asks to close) and moves the incomplete rest to the front.
// (Inlined into the connection's loop, as when it was written there: GCC
// does not, and the call would be counted in bench/coro_floor.cpp's floor.)
[[gnu::always_inline]] inline heads take_heads(char* buf, std::size_t& have)
{
  const std::string_view data(buf, have);
  heads h{0, false};
  std::size_t consumed = 0;
  for (std::size_t end; !h.close && (end = data.find("\r\n\r\n", consumed)) != std::string_view::npos;
       consumed = end + 4)
  {
    h.close = wants_close(data.substr(consumed, end - consumed));
    ++h.count;
  }
  have -= consumed;
  std::memmove(buf, buf + consumed, have);
  return h;
}

} // namespace example::http
