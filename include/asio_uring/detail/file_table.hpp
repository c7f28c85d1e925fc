// The ring's registered (fixed) file table for sockets (doc/design.md,
// "Registered files"). A sparse table is registered with the kernel ring
// when the ring is set up; a socket that has done a few requests gets a slot
// through an IORING_OP_FILES_UPDATE request queued with its next request (no
// system call of its own), and once the kernel has confirmed it (the
// update's CQE) the socket's requests name the slot with IOSQE_FIXED_FILE
// instead of the descriptor: no file reference taken and dropped per request.
// The descriptor stays open and is still native_handle(); the slot is
// emptied (another update, submitted with the cancellation) before the
// descriptor is closed or released.
//
// Every slot's state is kept here, on the loop owner:
//   want_[slot]  the descriptor the kernel is asked to hold there (-1: none);
//                the update request reads it from this array;
//   live_[slot]  the descriptor the kernel confirmed (-1: none): a request
//                uses the slot only when this is its own descriptor, so a
//                stale or failed slot can only make it take the plain path;
//   pending_[slot] updates in the kernel; a slot is handed out again only
//                when none is (no reuse races with the kernel).
#pragma once

#include <asio_uring/detail/operation.hpp>

#include <liburing.h>

#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace asio_uring::detail {

class file_table
{
public:
  file_table() = default;
  file_table(const file_table&) = delete;
  file_table& operator=(const file_table&) = delete;

  // Registers a sparse table of `slots` slots with `r` (at most
  // RLIMIT_NOFILE, as the kernel requires). False: no table (kernel before
  // 5.19, ENOMEM, a limit): sockets use plain descriptors.
  bool setup(io_uring& r, unsigned slots, unsigned after);
  // The ring was replaced by `fresh`, which registered a table of
  // `fresh_slots` slots: the confirmed slots are registered there again, so
  // requests parked across the renewal keep their slots. If that fails, no
  // slot is used any more.
  void renew(io_uring& fresh, unsigned fresh_slots) noexcept;

  unsigned size() const noexcept { return size_; }
  // A socket asks for a slot when its request count reaches this; UINT_MAX
  // without a table. Read by any thread that initiates a request.
  unsigned threshold() const noexcept { return threshold_.load(std::memory_order_relaxed); }

  // Loop owner: the SQE's descriptor becomes `slot` when the kernel holds
  // that descriptor there.
  void apply(io_uring_sqe* sqe, int slot) const noexcept
  {
    if (live_[slot] == sqe->fd)
    {
      sqe->fd = slot;
      sqe->flags |= IOSQE_FIXED_FILE;
      ++stats.fixed_requests;
    }
  }
  // The descriptor the kernel holds in `slot` (-1: none).
  int live(int slot) const noexcept { return slot >= 0 && unsigned(slot) < size_ ? live_[slot] : -1; }

  // Loop owner. A free slot for `fd` (its want_ set), or -1 (none free).
  int acquire(int fd) noexcept;
  // `fd` gives up `slot`: true if it held it (the caller queues the update
  // that empties it).
  bool release(int slot, int fd) noexcept;
  // The update request's fd array for `slot`.
  int* want_addr(int slot) noexcept { return &want_[slot]; }
  // The CQE of an update of `slot` goes to this operation.
  operation* op(int slot) noexcept { return &ops_[slot]; }
  void update_queued(int slot) noexcept { ++pending_[slot]; }

  // Diagnostics and tests (loop owner).
  struct counters
  {
    std::size_t registered = 0;      // slots confirmed by the kernel
    std::size_t failed = 0;          // registrations the kernel refused
    std::size_t full = 0;            // sockets that found no free slot
    std::size_t unregistered = 0;    // slots emptied
    mutable std::size_t fixed_requests = 0;  // requests sent with IOSQE_FIXED_FILE
  };
  counters stats;

private:
  struct slot_op : operation
  {
    slot_op() noexcept : operation(&on_cqe) { set_internal(); }
  };
  static void on_cqe(scheduler* owner, operation* op, int res, unsigned flags);
  void done(int slot, int res) noexcept;
  void drop_all() noexcept;

  unsigned size_ = 0;
  std::atomic<unsigned> threshold_{UINT_MAX};
  std::unique_ptr<int[]> want_;
  std::unique_ptr<int[]> live_;
  std::unique_ptr<std::uint8_t[]> pending_;
  std::unique_ptr<std::uint32_t[]> free_;  // stack of free slots
  unsigned nfree_ = 0;
  std::unique_ptr<slot_op[]> ops_;
};

} // namespace asio_uring::detail
