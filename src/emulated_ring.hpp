// The emulated engine (doc/design.md, "The engine seam"): an io_uring whose
// SQ and CQ live in this object's memory, so liburing's inline helpers and
// the scheduler's reaping code work unchanged. submit() consumes the SQEs
// and tries each request at once with a non-blocking system call; a request
// that would block waits on its descriptor in an epoll set (registered once,
// edge-triggered, with one FIFO per side) and runs again when the descriptor
// becomes ready. Regular files and fsync run synchronously. Linked timeouts
// are a heap of deadlines that bounds every epoll_wait.
#pragma once

#include <liburing.h>

#include <poll.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace asio_uring::detail {

class emulated_ring
{
public:
  // Points `r` at rings of `sq_entries` SQEs and `cq_entries` CQEs (powers
  // of two). Throws system_error if the epoll descriptor cannot be created.
  emulated_ring(io_uring& r, unsigned sq_entries, unsigned cq_entries);
  ~emulated_ring();
  emulated_ring(const emulated_ring&) = delete;
  emulated_ring& operator=(const emulated_ring&) = delete;

  // The opcodes performed here (the probe).
  static bool emulates(int opcode) noexcept;

  // Consumes every queued SQE and posts what parked requests can complete
  // now; returns how many SQEs.
  int submit();
  // submit(), then waits until a CQE is posted or `ts` has passed (null:
  // no limit); 0, -ETIME or -EINTR.
  int submit_and_wait(const __kernel_timespec* ts);
  // Posts the completions that are ready now without waiting.
  int get_events();
  int register_buffers(const iovec* iov, unsigned n);
  int unregister_buffers();

  // A would-block result of perform(); no CQE carries it.
  static constexpr int would_block = INT32_MIN;

  // The events a POLL_ADD for `mask` reports, as the kernel's poll: the
  // asked ones plus errors and hang-ups (IO_POLL_UNMASK).
  static constexpr unsigned poll_result_mask(unsigned mask) noexcept
  {
    return mask | POLLERR | POLLHUP | POLLRDHUP;
  }

private:
  using clock = std::chrono::steady_clock;
  enum side : unsigned char { read_side, write_side, poll_side, sides };
  // How a read or write is tried: at its offset (a stream answers ESPIPE,
  // and the kernel ignores a stream's offset), with RWF_NOWAIT, after a
  // poll (the descriptor lacks RWF_NOWAIT: a tty), or plainly (it cannot
  // be polled: a regular file).
  enum class call_mode : unsigned char { positional, nowait, after_poll, plain };

  struct request
  {
    io_uring_sqe sqe;               // a copy: the SQ slot is reused at once
    request* next = nullptr;        // in its descriptor's FIFO (or the free list)
    request* prev = nullptr;
    request* all_next = nullptr;    // every parked request, for cancellation
    request* all_prev = nullptr;
    request* timeout = nullptr;     // the linked timeout guarding this request
    request* guarded = nullptr;     // a timeout: the request it guards
    clock::time_point deadline{};   // a timeout: when it fires
    std::size_t heap_index = 0;
    side on = read_side;
    call_mode mode = call_mode::nowait;  // reads and writes
    bool connecting = false;        // a connect that returned EINPROGRESS
  };

  struct fd_state
  {
    request* head[sides] = {};
    request* tail[sides] = {};
    bool registered = false;        // in the epoll set
    bool empty() const noexcept { return !head[read_side] && !head[write_side] && !head[poll_side]; }
  };

  // --- requests (emulated_ring.cpp) ---
  int consume_sq();
  void start(const io_uring_sqe& sqe, const io_uring_sqe* link_timeout);
  int cancel(const io_uring_sqe& sqe);
  void cancel_request(request* r);
  void complete(request* r, int res);
  request* make_request(const io_uring_sqe& sqe);
  void free_request(request* r) noexcept;
  void park(request* r);
  void unpark(request* r) noexcept;
  void on_ready(int fd, unsigned events);
  void run_side(fd_state& f, side s);
  int process_events(const timespec* ts);
  void expire_timeouts();
  void post(std::uint64_t user_data, int res);
  void flush_overflow() noexcept;
  void update_flags() noexcept;
  unsigned cq_ready() const noexcept { return cq_tail_ - cq_head_; }

  // --- the system calls (emulated_io.cpp) ---
  // The request's result, or would_block.
  int perform(request& r);
  int perform_rw(request& r, bool write);
  int perform_connect(request& r);
  int perform_poll(request& r);
  int fixed_buffer_check(const io_uring_sqe& sqe) const noexcept;

  // --- the deadline heap of linked timeouts ---
  void heap_push(request* r);
  void heap_erase(request* r) noexcept;
  void heap_swap(std::size_t a, std::size_t b) noexcept;
  void heap_up(std::size_t i) noexcept;
  void heap_down(std::size_t i) noexcept;

  // The ring memory `struct io_uring` points into.
  unsigned sq_head_ = 0, sq_tail_ = 0, sq_flags_ = 0, sq_dropped_ = 0;
  unsigned sq_mask_, sq_entries_;
  unsigned cq_head_ = 0, cq_tail_ = 0, cq_flags_ = 0, cq_overflow_ = 0;
  unsigned cq_mask_, cq_entries_;
  std::unique_ptr<io_uring_sqe[]> sqes_;
  std::unique_ptr<io_uring_cqe[]> cqes_;
  io_uring& ring_;

  int epoll_fd_ = -1;
  bool have_pwait2_ = true;
  std::vector<fd_state> fds_;
  std::vector<request*> heap_;
  std::deque<io_uring_cqe> overflow_;        // CQEs the full CQ could not take yet
  std::vector<std::unique_ptr<request>> pool_;
  request* free_ = nullptr;
  request* all_ = nullptr;                  // parked requests, newest first
  std::size_t parked_ = 0;
  std::vector<iovec> buffers_;              // the registered buffer table
};

} // namespace asio_uring::detail
