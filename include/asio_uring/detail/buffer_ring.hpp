// The context's receive buffers and the per-socket multishot receive state.
//
// buffer_ring: recv_buffers buffers of recv_buffer_size bytes in one mapping.
// On the kernel ring they are a provided buffer ring (IORING_REGISTER_PBUF_RING,
// buffer group 0): the kernel picks a buffer per received chunk and names it
// in the CQE; a buffer is returned by adding it at the ring's tail. Where that
// is unavailable (the emulated engine, -multishot_recv, a kernel refusing the
// registration) the same buffers are a plain pool for async_receive_provided.
//
// recv_state: one per stream socket that reads repeatedly, on the heap so it
// survives a move of the socket. It owns the socket's multishot request (an
// internal operation: one request, many CQEs), the buffers the kernel filled
// and nobody read yet (a FIFO linked through the buffer ring's arrays), the
// end of the stream (eof or an error, delivered after the data), and the one
// read waiting for data. Everything here runs on the loop owner.
// doc/design.md, "Multishot receive", has the rules.
#pragma once

#include <asio_uring/detail/operation.hpp>

#include <liburing.h>

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace asio_uring::detail {

class ring;
class scheduler;

class buffer_ring
{
public:
  // `kernel`: try to register the buffers with the ring.
  buffer_ring(ring& r, bool kernel);
  ~buffer_ring();
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;

  // The kernel picks the buffers (a registered provided buffer ring).
  bool registered() const noexcept { return registered_; }
  std::uint16_t group() const noexcept { return 0; }
  unsigned count() const noexcept { return count_; }
  unsigned buffer_size() const noexcept { return size_; }
  char* data(unsigned bid) const noexcept { return bufs_ + std::size_t(bid) * size_; }
  // Buffers neither queued on a socket nor held by a provided_buffer.
  unsigned free_count() const noexcept { return count_ - held_; }

  // The kernel filled buffer `bid` (registered mode). When sockets and
  // handles hold most of the circulating buffers, more circulate.
  void took(unsigned bid) noexcept
  {
    held_flag_[bid] = 1;
    ++held_;
    if (nfree_ > 0 && 2 * held_ > count_ - nfree_) [[unlikely]] grow();
  }
  // Registered mode: buffers the kernel can pick or that are held; the rest
  // wait in reserve (free_) until demand shows: the ring starts with
  // initial_circulation buffers and grows (grow_after_nobufs, took), so
  // that a server whose reads are consumed at once cycles through a few
  // buffers, warm in the caches and the TLB, not through all of them
  // (doc/design.md, "Multishot receive: the circulating buffers").
  static constexpr unsigned initial_circulation = 64;
  unsigned circulating() const noexcept { return registered_ ? count_ - nfree_ : 0; }
  // A multishot ended with -ENOBUFS: more buffers circulate, once per
  // generation of multishot requests (the multishots that ran dry together
  // count once). False: nothing was left in reserve.
  bool grow_after_nobufs() noexcept;
  // A free buffer for a single-shot receive (pool mode); -1 when none.
  int take() noexcept;
  // Back to the kernel's ring (registered) or to the pool.
  void give_back(unsigned bid) noexcept;
  // Registered mode: a buffer the kernel just filled, consumed before it was
  // ever queued or held (no held accounting), back at the ring's tail. One
  // entry written and the tail published (a release store: a plain store on
  // x86). The kernel may pick a buffer whenever this thread enters it, so the
  // tail cannot wait for the end of the reap.
  void recycle(unsigned bid) noexcept { recycle(bid, data(bid)); }
  void recycle(unsigned bid, char* p) noexcept
  {
    io_uring_buf& b = br_->bufs[tail_ & mask_];
    b.addr = reinterpret_cast<std::uintptr_t>(p);
    b.len = size_;
    b.bid = static_cast<std::uint16_t>(bid);
    __atomic_store_n(&br_->tail, ++tail_, __ATOMIC_RELEASE);
  }

  // Registered mode: the ring was renewed (a forked child): register the
  // buffers with the new ring. False if that failed (then nothing is
  // registered any more and the sockets fall back to single-shot reads).
  bool ensure_current();

  // Per-socket FIFO of filled buffers: next_[bid] links, len_[bid] bytes.
  std::uint16_t& next(unsigned bid) noexcept { return next_[bid]; }
  std::uint32_t& len(unsigned bid) noexcept { return len_[bid]; }

  // The kernel answered a multishot receive with -EINVAL: single-shot only.
  bool multishot_ok() const noexcept { return multishot_ok_ && registered_; }
  void multishot_refused() noexcept { multishot_ok_ = false; }

  // Diagnostics and tests.
  struct counters
  {
    std::size_t multishot_requests = 0;  // multishot receives submitted
    std::size_t single_requests = 0;     // single-shot reads by sockets with a recv_state
    std::size_t nobufs = 0;              // multishots ended by -ENOBUFS
  };
  counters stats;
  // provided_buffer handles alive (asserted 0 at destruction).
  std::size_t handles = 0;

private:
  bool register_ring();
  void grow() noexcept;

  ring& ring_;
  unsigned count_;
  unsigned size_;
  unsigned entries_;          // ring entries: count_ rounded up to a power of two
  unsigned mask_;             // entries_ - 1
  std::size_t ring_bytes_ = 0;
  std::size_t map_bytes_ = 0;
  void* map_ = nullptr;
  ::io_uring_buf_ring* br_ = nullptr;
  char* bufs_ = nullptr;
  std::uint16_t tail_ = 0;
  unsigned held_ = 0;
  bool registered_ = false;
  bool multishot_ok_ = true;
  int registered_fd_ = -1;    // the ring fd the buffers are registered with
  std::unique_ptr<std::uint16_t[]> next_;
  std::unique_ptr<std::uint32_t[]> len_;
  std::unique_ptr<std::uint8_t[]> held_flag_;
  // Pool mode: the stack of free ids. Registered mode: the reserve, ids not
  // yet given to the kernel (count_ - nfree_ circulate).
  std::unique_ptr<std::uint16_t[]> free_;
  unsigned nfree_ = 0;
  std::size_t grown_at_ = std::size_t(-1);  // stats.multishot_requests at the last growth
};

// A read waiting in a recv_state: either bytes copied into `iov` or, for
// async_receive_provided, a buffer handed over (bid, data, size).
struct recv_reader : operation
{
  // Fills a single-shot request for this read (its own SQE, user_data set).
  using prep_fn = void (*)(recv_reader*, io_uring_sqe*);
  recv_reader(func_type f, const ::iovec* v, std::size_t n, bool p, prep_fn prep) noexcept
    : operation(f), iov(v), iovcnt(n), provided(p), prep_single(prep) {}
  const ::iovec* iov;
  std::size_t iovcnt;
  bool provided;
  bool in_kernel = false;      // a single-shot request of its own is in flight
  bool delivered = false;      // completed from the queue: the state may be gone
  int bid = -1;                // provided: the buffer handed over
  char* pdata = nullptr;
  std::size_t psize = 0;
  prep_fn prep_single;
};

class recv_state
{
public:
  // Null when the context has no registered buffer ring.
  static recv_state* create(scheduler& s, int fd);
  // The socket is closed or destroyed: the waiting read completes with
  // operation_aborted, queued buffers go back, the multishot is cancelled
  // (submitted now: the descriptor is closed next). Deletes `st` at once or
  // when its last request ends.
  static void close(recv_state* st) noexcept;

  // Starts `r` (its work counted): completes it from the queue (through the
  // ready queue), waits for the multishot, or gives it a single-shot request.
  void start(recv_reader* r)
  {
    // The steady state: nothing queued, the multishot armed: `r` waits for
    // its next CQE.
    if (count_ == 0 && end_ == no_end && armed_) [[likely]]
      waiting_.push(r);
    else
      start_slow(r);
  }
  // `r` was sent through the ready queue by a multishot cancelled by someone
  // else (fork, shutdown) and is run with start_marker: start it again.
  void restart(recv_reader* r);
  // Such a read was destroyed instead (shutdown).
  void restart_dropped() noexcept { --restarts_; maybe_delete(); }
  // A single-shot request of `r` ended with (res, flags): releases or records
  // what it needs; returns the result for the handler.
  int single_done(recv_reader* r, int res, unsigned flags) noexcept;
  // Per-operation cancellation of `r`.
  void cancel_reader(recv_reader* r);
  // socket.cancel(): the waiting read completes with operation_aborted; data
  // stays queued. (Requests in the kernel are cancelled by the descriptor.)
  void cancel_waiting() noexcept;

  // The socket's registered file slot (detail/file_table.hpp): the
  // multishot and single-shot requests use it from their next SQE on.
  void use_slot(int slot) noexcept { slot_ = slot; }

  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  bool armed() const noexcept { return armed_; }
  bool has_data_or_end() const noexcept { return count_ > 0 || end_ != no_end; }
  // Synchronous read from the queue: copies up to the buffers' size (peek:
  // without consuming). Returns the bytes, or with none queued the end of
  // the stream (0 eof / -errno, consumed unless peek), or `nothing`.
  static constexpr long nothing = LONG_MIN;
  long take_sync(const ::iovec* iov, std::size_t n, bool peek) noexcept;
  // release(): ends the multishot and waits for its last CQE (reaping, no
  // handler runs). False: bytes are queued (the socket keeps them).
  bool quiesce();
  // A wait for readability (async_wait / wait): true if data or the end
  // is queued. Otherwise, unless reads are waiting, ends the multishot first
  // (waiting for its last CQE, no handler runs) so that the data goes on
  // arriving in the kernel's socket buffer, where poll sees it.
  bool prepare_wait();

private:
  recv_state(scheduler& s, buffer_ring& br, int fd) noexcept;
  static void on_cqe(scheduler* owner, operation* op, int res, unsigned flags);
  void start_slow(recv_reader* r);
  void handle(int res, unsigned flags);
  bool deliver_direct(unsigned bid, int res) noexcept;
  void arm();
  void single(recv_reader* r);
  void deliver(recv_reader* r, int res);
  void feed_waiting();
  void abort_waiting() noexcept;
  std::size_t copy_out(const ::iovec* iov, std::size_t n, bool consume) noexcept;
  void pop_head() noexcept;
  void push(unsigned bid, std::uint32_t n) noexcept;
  void release_all() noexcept;
  void poll_completions();
  bool maybe_delete() noexcept;

  static constexpr int no_end = 1;
  static constexpr std::uint16_t none = 0xffff;

  scheduler& sched_;
  buffer_ring& br_;
  int fd_;
  int slot_ = -1;                   // registered file slot
  struct request : operation
  {
    request(func_type f, recv_state* o) noexcept : operation(f), owner(o) {}
    recv_state* owner;
  };
  request ms_op_;                   // the multishot request's user_data
  std::uint16_t head_ = none;       // FIFO of filled buffers
  std::uint16_t tail_ = none;
  unsigned count_ = 0;
  std::uint32_t head_off_ = 0;      // bytes of the head buffer already read
  std::size_t queued_bytes_ = 0;
  unsigned limit_;                  // queued buffers before the multishot stops
  int end_ = no_end;                // 0: eof; <0: error; delivered after the data
  op_queue waiting_;                // reads waiting for data (recv_reader)
  unsigned singles_ = 0;            // reads with a request of their own in flight
  unsigned restarts_ = 0;           // reads sent back through the ready queue
  bool armed_ = false;              // the multishot request is in the kernel
  bool cancel_sent_ = false;
  bool nobufs_ = false;             // single-shot until the ring has buffers again
  bool got_more_ = false;           // the kernel has multishot receive
  bool orphan_ = false;             // the socket is gone: delete on the last CQE
};

} // namespace asio_uring::detail
