// read_some / write_some and their async forms for I/O objects that read and
// write a descriptor as a stream (pipes, stream descriptors, serial ports).
#pragma once

#include <asio_uring/detail/descriptor.hpp>

#include <boost/asio/async_result.hpp>

#include <poll.h>

namespace asio_uring::detail {

// Mixed into `Derived`, a descriptor_object<Executor>. The synchronous forms
// block as Asio's do: on a non-blocking descriptor they wait with poll(2),
// unless the user asked for non-blocking mode (non_blocking(true)), then
// they fail with would_block.
template <typename Derived, typename Executor, bool Readable, bool Writable>
class stream_ops
{
public:
  template <typename MutableBufferSequence, bool R = Readable, typename = std::enable_if_t<R>>
  std::size_t read_some(const MutableBufferSequence& b)
  {
    boost::system::error_code ec;
    std::size_t n = read_some(b, ec);
    boost::asio::detail::throw_error(ec, "read_some");
    return n;
  }
  template <typename MutableBufferSequence, bool R = Readable, typename = std::enable_if_t<R>>
  std::size_t read_some(const MutableBufferSequence& b, boost::system::error_code& ec)
  {
    return blocking_rw<false>(b, ec);
  }
  template <typename ConstBufferSequence, bool W = Writable, typename = std::enable_if_t<W>>
  std::size_t write_some(const ConstBufferSequence& b)
  {
    boost::system::error_code ec;
    std::size_t n = write_some(b, ec);
    boost::asio::detail::throw_error(ec, "write_some");
    return n;
  }
  template <typename ConstBufferSequence, bool W = Writable, typename = std::enable_if_t<W>>
  std::size_t write_some(const ConstBufferSequence& b, boost::system::error_code& ec)
  {
    return blocking_rw<true>(b, ec);
  }

  // Completes with (error_code, bytes); 0 bytes read is eof.
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<Executor>,
      bool R = Readable, typename = std::enable_if_t<R>>
  auto async_read_some(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<Executor>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs) {
          start(handler, rw_kind(self().fd_, bufs, std::uint64_t(-1), false));
        }, token, b);
  }
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<Executor>,
      bool W = Writable, typename = std::enable_if_t<W>>
  auto async_write_some(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<Executor>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs) {
          start(handler, rw_kind(self().fd_, bufs, std::uint64_t(-1), true));
        }, token, b);
  }

private:
  descriptor_object<Executor>& self() noexcept { return static_cast<Derived&>(*this); }

  bool user_non_blocking() const
  {
    if constexpr (requires(const Derived& d) { d.non_blocking(); })
      return static_cast<const Derived&>(*this).non_blocking();
    else
      return false;
  }

  template <bool Write, typename Buffers>
  std::size_t blocking_rw(const Buffers& b, boost::system::error_code& ec)
  {
    descriptor_object<Executor>& d = self();
    for (;;)
    {
      std::size_t n = d.template sync_rw<Write>(b, -1, ec);
      if (ec != boost::asio::error::would_block || user_non_blocking()) return n;
      pollfd p{d.fd_, static_cast<short>(Write ? POLLOUT : POLLIN), 0};
      if (::poll(&p, 1, -1) < 0 && errno != EINTR)
      {
        ec = errno_error();
        return 0;
      }
    }
  }

  template <typename Handler>
  void start(Handler& handler, rw_kind&& k)
  {
    std::size_t bytes = k.bufs.total;
    self().template launch_transfer<rw_kind>(handler, bytes, std::move(k));
  }
};

} // namespace asio_uring::detail
