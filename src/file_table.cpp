// Registered files for sockets (include/asio_uring/detail/file_table.hpp).
#include <asio_uring/detail/file_table.hpp>
#include <asio_uring/detail/scheduler.hpp>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace asio_uring::detail {

namespace {

// The update request's fd array for emptying a slot.
int no_file = -1;

} // namespace

bool file_table::setup(io_uring& r, unsigned slots, unsigned after)
{
  // The kernel refuses a table larger than RLIMIT_NOFILE (EMFILE). liburing's
  // io_uring_register_files_sparse would raise the process's limit instead:
  // not ours to change.
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    slots = static_cast<unsigned>(std::min<rlim_t>(slots, lim.rlim_cur));
  slots = std::min(slots, 32768u);
  if (slots == 0) return false;
  io_uring_rsrc_register reg{};
  reg.nr = slots;
  reg.flags = IORING_RSRC_REGISTER_SPARSE;
  // EINVAL before 5.19 (no sparse tables), ENOMEM, EMFILE: plain descriptors.
  if (::syscall(__NR_io_uring_register, r.ring_fd, IORING_REGISTER_FILES2, &reg, sizeof reg) != 0)
    return false;
  size_ = slots;
  want_.reset(new int[slots]);
  live_.reset(new int[slots]);
  pending_.reset(new std::uint8_t[slots]());
  free_.reset(new std::uint32_t[slots]);
  ops_.reset(new slot_op[slots]);
  std::fill_n(want_.get(), slots, -1);
  std::fill_n(live_.get(), slots, -1);
  for (unsigned i = 0; i < slots; ++i) free_[i] = slots - 1 - i;
  nfree_ = slots;
  threshold_.store(std::max(after, 1u), std::memory_order_relaxed);
  return true;
}

void file_table::renew(io_uring& fresh, unsigned fresh_slots) noexcept
{
  if (size_ == 0) return;
  // Updates still queued were carried to the fresh ring with the other
  // unconsumed SQEs (a thread change) or were never queued (fork: every
  // request was parked, its CQE reaped): the confirmed slots are what the
  // fresh ring must hold.
  bool ok = fresh_slots == size_;
  if (ok)
  {
    unsigned first = 0;
    while (first < size_ && live_[first] < 0) ++first;
    unsigned last = size_;
    while (last > first && live_[last - 1] < 0) --last;
    if (first < last)
      ok = io_uring_register_files_update(&fresh, first, &live_[first], last - first)
          == static_cast<int>(last - first);
  }
  if (!ok) drop_all();
}

void file_table::drop_all() noexcept
{
  // The sockets notice at their next request (live_ is not their
  // descriptor) and never ask again.
  threshold_.store(UINT_MAX, std::memory_order_relaxed);
  std::fill_n(want_.get(), size_, -1);
  std::fill_n(live_.get(), size_, -1);
  nfree_ = 0;
}

int file_table::acquire(int fd) noexcept
{
  if (nfree_ == 0)
  {
    ++stats.full;
    return -1;
  }
  const int slot = static_cast<int>(free_[--nfree_]);
  want_[slot] = fd;
  return slot;
}

bool file_table::release(int slot, int fd) noexcept
{
  if (slot < 0 || unsigned(slot) >= size_ || want_[slot] != fd) return false;
  want_[slot] = -1;
  if (live_[slot] >= 0) ++stats.unregistered;
  live_[slot] = -1;
  return true;
}

void file_table::on_cqe(scheduler* owner, operation* op, int res, unsigned)
{
  file_table& t = owner->get_ring().files();
  t.done(static_cast<int>(static_cast<slot_op*>(op) - t.ops_.get()), res);
}

void file_table::done(int slot, int res) noexcept
{
  --pending_[slot];
  // While an update is in the kernel the slot is not handed out again, so a
  // CQE with want_ set is its registration's.
  if (want_[slot] >= 0)
  {
    if (res >= 0)
    {
      live_[slot] = want_[slot];
      ++stats.registered;
    }
    else
    {
      want_[slot] = -1;  // the socket keeps the plain path
      ++stats.failed;
    }
  }
  if (pending_[slot] == 0 && want_[slot] < 0 && threshold() != UINT_MAX)
    free_[nfree_++] = static_cast<std::uint32_t>(slot);
}

// --- the update requests -------------------------------------------------------

int scheduler::register_file(int fd)
{
  file_table& t = ring_.files();
  const int slot = t.acquire(fd);
  if (slot < 0) return -1;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_files_update(sqe, t.want_addr(slot), 1, slot);
  io_uring_sqe_set_data64(sqe, t.op(slot)->user_data());
  t.update_queued(slot);
  op_submitted();
  return slot;
}

void scheduler::unregister_file(int slot, int fd)
{
  file_table& t = ring_.files();
  if (!t.release(slot, fd)) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_files_update(sqe, &no_file, 1, slot);
  io_uring_sqe_set_data64(sqe, t.op(slot)->user_data());
  t.update_queued(slot);
  op_submitted();
}

} // namespace asio_uring::detail
