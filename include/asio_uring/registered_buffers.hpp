// Registered (fixed) buffers: memory the kernel pins once, so reads and
// writes into it skip the per-request page mapping (IORING_OP_READ_FIXED /
// WRITE_FIXED). A ring has one table of registered buffers at a time.
//
//   std::vector<char> mem(1 << 20);
//   asio_uring::registered_buffers regs(ctx, {boost::asio::buffer(mem)});
//   file.async_read_some_at(0, regs[0], handler);      // or regs[0].slice(off, n)
#pragma once

#include <asio_uring/io_context.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/system/system_error.hpp>

#include <sys/uio.h>

#include <cstddef>
#include <vector>

namespace asio_uring {

// A piece of one registered buffer: the memory and the table index.
class registered_buffer
{
public:
  registered_buffer(boost::asio::mutable_buffer b, int index) noexcept : buffer_(b), index_(index) {}
  void* data() const noexcept { return buffer_.data(); }
  std::size_t size() const noexcept { return buffer_.size(); }
  int index() const noexcept { return index_; }
  boost::asio::mutable_buffer buffer() const noexcept { return buffer_; }
  // The bytes [offset, offset + n) of this buffer, still registered.
  registered_buffer slice(std::size_t offset, std::size_t n) const noexcept
  {
    boost::asio::mutable_buffer b = buffer_ + offset;
    return {boost::asio::mutable_buffer(b.data(), n < b.size() ? n : b.size()), index_};
  }

private:
  boost::asio::mutable_buffer buffer_;
  int index_;
};

// Registers buffers with a context's ring for its lifetime. Throws
// system_error (EBUSY when the ring already has a registration, ENOMEM when
// RLIMIT_MEMLOCK is too low for the pinned memory).
class registered_buffers
{
public:
  registered_buffers(io_context& ctx, const std::vector<boost::asio::mutable_buffer>& buffers)
    : sched_(&ctx.impl())
  {
    for (const auto& b : buffers) iov_.push_back({b.data(), b.size()});
    int r = 0;
    sched_->with_loop([&] {
      r = sched_->get_ring().register_buffers(iov_.data(), static_cast<unsigned>(iov_.size()));
    });
    if (r < 0)
      throw boost::system::system_error(boost::system::error_code(-r, boost::system::system_category()),
          "asio_uring::registered_buffers");
  }
  ~registered_buffers()
  {
    detail::scheduler* s = sched_;
    s->with_loop([s] { s->get_ring().unregister_buffers(); });
  }
  registered_buffers(const registered_buffers&) = delete;
  registered_buffers& operator=(const registered_buffers&) = delete;

  std::size_t size() const noexcept { return iov_.size(); }
  registered_buffer operator[](std::size_t i) const noexcept
  {
    return {boost::asio::mutable_buffer(iov_[i].iov_base, iov_[i].iov_len), static_cast<int>(i)};
  }

private:
  detail::scheduler* sched_;
  std::vector<::iovec> iov_;
};

} // namespace asio_uring
