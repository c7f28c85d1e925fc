// The engine: one `struct io_uring` that the scheduler and the operations
// use through liburing's inline helpers (SQEs, the CQ, the SQ flags). Either
// the kernel's ring, set up with the best flags the kernel accepts, or the
// emulated ring, whose SQ and CQ live in user memory and whose requests run
// on epoll and non-blocking system calls. Only the calls that would enter
// the kernel branch on the engine.
#pragma once

#include <asio_uring/detail/file_table.hpp>
#include <asio_uring/io_context_options.hpp>

#include <liburing.h>

#include <sys/types.h>

#include <atomic>
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
  // ring is shared with its parent (src/fork.cpp), a single-issuer ring
  // belongs to the thread that enabled it (scheduler::take_over_ring). The
  // SQEs not yet consumed by the kernel move to the new ring with
  // `carry_sqes`; registered buffers are registered again.
  void renew(bool carry_sqes = false);

  io_uring* get() noexcept { return &ring_; }
  // The options after ASIO_URING_FEATURES.
  const io_context_options& options() const noexcept { return opts_; }
  engine_kind engine() const noexcept { return emu_ ? engine_kind::emulated : engine_kind::io_uring; }
  unsigned setup_flags() const noexcept { return flags_; }
  unsigned features() const noexcept { return ring_.features; }
  bool supports(int opcode) const noexcept
  { return opcode >= 0 && opcode < 256 && ops_.test(static_cast<unsigned>(opcode)); }

  // --- single issuer (doc/design.md, "Single issuer") ---------------------
  // IORING_SETUP_SINGLE_ISSUER: only the thread that enabled the ring (it is
  // created IORING_SETUP_R_DISABLED and enabled by the first io_uring_enter
  // through this class) may enter it or register anything with it.
  bool single_issuer() const noexcept { return flags_ & IORING_SETUP_SINGLE_ISSUER; }
  bool enabled() const noexcept { return !disabled_.load(std::memory_order_relaxed); }
  // The kernel thread id of that thread; 0 while the ring is disabled.
  pid_t submitter() const noexcept { return submitter_.load(std::memory_order_relaxed); }
  // A single-issuer ring that the calling thread may not enter.
  bool foreign_submitter() const noexcept
  {
    const pid_t s = submitter();
    return s != 0 && s != this_thread_id();
  }
  // Called (with `arg`) on the thread that has just enabled the ring.
  void on_enabled(void (*fn)(void*), void* arg) noexcept { enabled_fn_ = fn; enabled_arg_ = arg; }
  // The calling thread's kernel thread id (cached; fork-safe).
  static pid_t this_thread_id() noexcept;

  // SQEs the application filled that the kernel has not consumed yet.
  unsigned sqes_unconsumed() const noexcept
  { return ring_.sq.sqe_tail - IO_URING_READ_ONCE(*ring_.sq.khead); }
  // The i-th of them (0 = oldest).
  io_uring_sqe& unconsumed_sqe(unsigned i) noexcept
  { return ring_.sq.sqes[(IO_URING_READ_ONCE(*ring_.sq.khead) + i) & ring_.sq.ring_mask]; }

  // --- registered ring fd (io_uring_register_ring_fd) ----------------------
  // The kernel keeps registered ring fds per thread: an index is valid only
  // in the thread that registered it. register_fd() registers the ring in
  // the calling thread's table (-1: off, emulated, or refused);
  // enter_with(index) makes liburing's enter calls use it (-1: the real
  // fd), for the thread that now owns the loop; unregister_fd(index) on the
  // registering thread.
  int register_fd() noexcept;
  void enter_with(int index) noexcept
  {
    if (index >= 0) { ring_.enter_ring_fd = index; ring_.int_flags |= reg_ring_flag; }
    else { ring_.enter_ring_fd = ring_.ring_fd; ring_.int_flags &= static_cast<__u8>(~reg_ring_flag); }
  }
  void unregister_fd(int index) noexcept;

  // Null only when the submission queue is full. liburing's
  // io_uring_get_sqe, written out so that it is always inlined (GCC keeps
  // liburing's static inline copy out of line in large translation units:
  // 21 instructions a call instead of 8).
  [[gnu::always_inline]] io_uring_sqe* try_get_sqe() noexcept
  {
    io_uring_sq& sq = ring_.sq;
    const unsigned next = sq.sqe_tail + 1;
    const unsigned head = (ring_.flags & IORING_SETUP_SQPOLL)
        ? io_uring_smp_load_acquire(sq.khead) : IO_URING_READ_ONCE(*sq.khead);
    if (next - head > sq.ring_entries) return nullptr;
    const unsigned shift = (ring_.flags & IORING_SETUP_SQE128) ? 1 : 0;
    io_uring_sqe* sqe = &sq.sqes[(sq.sqe_tail & sq.ring_mask) << shift];
    sq.sqe_tail = next;
    return sqe;
  }

  // Completions are waiting (kernel: overflow list or deferred task work;
  // emulated: requests parked on epoll or an overflowed CQ) and need
  // get_events() to show up in the CQ.
  bool cq_needs_flush() const noexcept
  {
    return IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN);
  }

  // liburing's io_uring_submit, io_uring_submit_and_wait_timeout (for one
  // CQE; null: no timeout), io_uring_get_events, io_uring_(un)register_buffers.
  // A disabled single-issuer ring is enabled first, by the calling thread.
  int submit()
  {
    if (!emu_) [[likely]]
    {
      if (disabled_.load(std::memory_order_relaxed)) [[unlikely]] enable();
      return io_uring_submit(&ring_);
    }
    return emulated_submit();
  }
  int submit_and_wait_timeout(__kernel_timespec* ts)
  {
    io_uring_cqe* cqe = nullptr;
    if (!emu_) [[likely]]
    {
      if (disabled_.load(std::memory_order_relaxed)) [[unlikely]] enable();
      return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, ts, nullptr);
    }
    return emulated_wait(ts);
  }
  // Batch wait (io_context_options::batch_wait_usec): 0 when off, on the
  // emulated engine, with SQPOLL, or where the kernel lacks
  // IORING_FEAT_MIN_TIMEOUT.
  unsigned batch_wait_usec() const noexcept { return batch_usec_; }
  // Submits, then waits for batch_wait_count CQEs for up to `min_usec`, then
  // for one until `ts` (null: no limit). Kernel ring with batch wait only.
  int submit_and_wait_batch(__kernel_timespec* ts, unsigned min_usec);
  int get_events()
  {
    if (!emu_) [[likely]]
    {
      if (disabled_.load(std::memory_order_relaxed)) [[unlikely]] enable();
      return io_uring_get_events(&ring_);
    }
    return emulated_get_events();
  }
  // The table is kept (`iov` must outlive the registration) and registered
  // again on a renewed ring.
  int register_buffers(const iovec* iov, unsigned n);
  int unregister_buffers();

  // Registered files for sockets (detail/file_table.hpp): empty on the
  // emulated engine, with registered_files off, or when the kernel refused
  // the table. Kept across renew().
  file_table& files() noexcept { return files_; }
  const file_table& files() const noexcept { return files_; }

private:
  // liburing 2.3's INT_FLAG_REG_RING (src/int_flags.h): enter through
  // enter_ring_fd with IORING_ENTER_REGISTERED_RING.
  static constexpr __u8 reg_ring_flag = 1;
  // IORING_FEAT_MIN_TIMEOUT (Linux 6.12), which liburing 2.3 predates.
  static constexpr unsigned feat_min_timeout = 1u << 15;
  // IORING_REGISTER_ENABLE_RINGS (liburing 2.3 declares io_uring_enable_rings
  // but does not export it); the caller becomes the submitter. Throws
  // system_error.
  void enable();
  void close_kernel_ring() noexcept;

  io_context_options opts_;
  // 0, or the positive errno of the step that failed.
  int setup_kernel(const io_context_options& opts);
  void setup_emulated(const io_context_options& opts);
  int emulated_submit();
  int emulated_wait(__kernel_timespec* ts);
  int emulated_get_events();

  io_uring ring_{};
  unsigned flags_ = 0;
  unsigned batch_usec_ = 0;
  // Written by the loop owner, read by threads deciding who may own it.
  std::atomic<bool> disabled_{false};  // IORING_SETUP_R_DISABLED, not enabled yet
  std::atomic<pid_t> submitter_{0};    // single issuer: the enabling thread
  void (*enabled_fn_)(void*) = nullptr;
  void* enabled_arg_ = nullptr;
  const iovec* reg_iov_ = nullptr;  // registered buffers, for renew()
  unsigned reg_n_ = 0;
  std::bitset<256> ops_;
  file_table files_;
  std::unique_ptr<emulated_ring> emu_;
};

// The message for a failed io_uring setup (positive errno).
const char* ring_setup_hint(int err) noexcept;

} // namespace asio_uring::detail
