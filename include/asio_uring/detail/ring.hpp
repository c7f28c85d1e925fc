// Owns one io_uring instance: setup with the best flags the kernel accepts,
// the opcode probe, and SQE acquisition.
#pragma once

#include <asio_uring/io_context_options.hpp>

#include <liburing.h>

#include <bitset>

namespace asio_uring::detail {

class ring
{
public:
  // Throws boost::system::system_error naming the cause and the fix when the
  // kernel refuses io_uring.
  explicit ring(const io_context_options& opts);
  ~ring();
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;

  // Replaces this ring by a new one with the same options: a forked child's
  // ring is shared with its parent (src/fork.cpp).
  void renew();

  io_uring* get() noexcept { return &ring_; }
  unsigned setup_flags() const noexcept { return flags_; }
  unsigned features() const noexcept { return ring_.features; }
  bool supports(int opcode) const noexcept
  { return opcode >= 0 && opcode < 256 && ops_.test(static_cast<unsigned>(opcode)); }

  // Null only when the submission queue is full.
  io_uring_sqe* try_get_sqe() noexcept { return io_uring_get_sqe(&ring_); }

  // Completions are waiting in the kernel (overflow list or deferred task
  // work) and need an io_uring_enter(GETEVENTS) to show up in the CQ.
  bool cq_needs_flush() const noexcept
  {
    return IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN);
  }

private:
  io_context_options opts_;
  io_uring ring_{};
  unsigned flags_ = 0;
  std::bitset<256> ops_;
};

// The message for a failed io_uring_queue_init_params (positive errno).
const char* ring_setup_hint(int err) noexcept;

} // namespace asio_uring::detail
