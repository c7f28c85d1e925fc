// asio_uring::provided_buffer: the buffer a receive chose for the data it
// got, owned by the handler of basic_stream_socket::async_receive_provided.
//
// A server that reads with async_receive_provided keeps no read buffer per
// connection: the context's buffers (io_context_options::recv_buffers of
// recv_buffer_size bytes) are lent to whichever socket receives data, and
// come back when the handle is destroyed or reset(). On the kernel ring they
// are a provided buffer ring the kernel picks from; elsewhere (the emulated
// engine, -multishot_recv) a pool the receive takes one from.
//
// A handle must not outlive its io_context (asserted in debug builds); it
// may outlive the socket. It may be destroyed on any thread (returning the
// buffer then goes through the context's loop, like a cancel).
#pragma once

#include <asio_uring/detail/buffer_ring.hpp>
#include <asio_uring/detail/scheduler.hpp>

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <utility>

namespace asio_uring {

namespace detail { struct provided_access; }

class provided_buffer
{
public:
  // An empty handle.
  provided_buffer() noexcept = default;
  provided_buffer(provided_buffer&& o) noexcept
    : sched_(std::exchange(o.sched_, nullptr)), ring_(o.ring_), bid_(o.bid_),
      data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  provided_buffer& operator=(provided_buffer&& o) noexcept
  {
    if (this != &o)
    {
      reset();
      sched_ = std::exchange(o.sched_, nullptr);
      ring_ = o.ring_;
      bid_ = o.bid_;
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  provided_buffer(const provided_buffer&) = delete;
  provided_buffer& operator=(const provided_buffer&) = delete;
  ~provided_buffer() { reset(); }

  // The received bytes (null and 0 when empty).
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  boost::asio::const_buffer buffer() const noexcept { return {data_, size_}; }
  explicit operator bool() const noexcept { return sched_ != nullptr; }

  // Gives the buffer back to the context; the handle becomes empty.
  void reset() noexcept
  {
    detail::scheduler* s = std::exchange(sched_, nullptr);
    if (!s) return;
    data_ = nullptr;
    size_ = 0;
    detail::buffer_ring* r = ring_;
    unsigned bid = bid_;
    s->with_loop([r, bid] {
      --r->handles;
      r->give_back(bid);
    });
  }

private:
  friend struct detail::provided_access;
  provided_buffer(detail::scheduler& s, detail::buffer_ring& r, unsigned bid, const char* d,
      std::size_t n) noexcept
    : sched_(&s), ring_(&r), bid_(bid), data_(d), size_(n)
  {
    ++r.handles;
  }

  detail::scheduler* sched_ = nullptr;
  detail::buffer_ring* ring_ = nullptr;
  unsigned bid_ = 0;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace detail {

// Loop owner only: wraps buffer `bid` of `r` (already held) in a handle.
struct provided_access
{
  static provided_buffer make(scheduler& s, buffer_ring& r, unsigned bid, const char* d,
      std::size_t n) noexcept
  {
    return provided_buffer(s, r, bid, d, n);
  }
};

} // namespace detail

} // namespace asio_uring
