// The engine: one `struct io_uring` that the scheduler and the operations
// use through liburing's inline helpers (SQEs, the CQ, the SQ flags). Either
// the kernel's ring, set up with the best flags the kernel accepts, or the
// emulated ring, whose SQ and CQ live in user memory and whose requests run
// on epoll and non-blocking system calls. Only the calls that would enter
// the kernel branch on the engine.
#pragma once

#include <asio_uring/io_context_options.hpp>

#include <liburing.h>

#include <bitset>
#include <memory>

namespace asio_uring::detail {

class emulated_ring;

class ring
{
public:
  // Picks the engine (options, then ASIO_URING_ENGINE). Throws
  // boost::system::system_error naming the cause and the fix when the
  // kernel refuses io_uring and the emulated ring was not allowed, or for a
  // configuration error; std::invalid_argument for a bad ASIO_URING_ENGINE.
  explicit ring(const io_context_options& opts);
  ~ring();
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;

  // Replaces this ring by a new one with the same options: a forked child's
  // ring is shared with its parent (src/fork.cpp).
  void renew();

  io_uring* get() noexcept { return &ring_; }
  // The options after ASIO_URING_FEATURES.
  const io_context_options& options() const noexcept { return opts_; }
  engine_kind engine() const noexcept { return emu_ ? engine_kind::emulated : engine_kind::io_uring; }
  unsigned setup_flags() const noexcept { return flags_; }
  unsigned features() const noexcept { return ring_.features; }
  bool supports(int opcode) const noexcept
  { return opcode >= 0 && opcode < 256 && ops_.test(static_cast<unsigned>(opcode)); }

  // Null only when the submission queue is full.
  io_uring_sqe* try_get_sqe() noexcept { return io_uring_get_sqe(&ring_); }

  // Completions are waiting (kernel: overflow list or deferred task work;
  // emulated: requests parked on epoll or an overflowed CQ) and need
  // get_events() to show up in the CQ.
  bool cq_needs_flush() const noexcept
  {
    return IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN);
  }

  // liburing's io_uring_submit, io_uring_submit_and_wait_timeout (for one
  // CQE; null: no timeout), io_uring_get_events, io_uring_(un)register_buffers.
  int submit()
  {
    if (!emu_) [[likely]] return io_uring_submit(&ring_);
    return emulated_submit();
  }
  int submit_and_wait_timeout(__kernel_timespec* ts)
  {
    io_uring_cqe* cqe = nullptr;
    if (!emu_) [[likely]] return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, ts, nullptr);
    return emulated_wait(ts);
  }
  int get_events()
  {
    if (!emu_) [[likely]] return io_uring_get_events(&ring_);
    return emulated_get_events();
  }
  int register_buffers(const iovec* iov, unsigned n);
  int unregister_buffers();

private:
  io_context_options opts_;
  // 0, or the positive errno of the step that failed.
  int setup_kernel(const io_context_options& opts);
  void setup_emulated(const io_context_options& opts);
  int emulated_submit();
  int emulated_wait(__kernel_timespec* ts);
  int emulated_get_events();

  io_uring ring_{};
  unsigned flags_ = 0;
  std::bitset<256> ops_;
  std::unique_ptr<emulated_ring> emu_;
};

// The message for a failed io_uring setup (positive errno).
const char* ring_setup_hint(int err) noexcept;

} // namespace asio_uring::detail
