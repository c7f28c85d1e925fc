// io_context::notify_fork. The kernel's ring (its fd and its shared memory)
// is shared by parent and child after fork(), so:
//  - fork_prepare cancels every request in the kernel (IORING_ASYNC_CANCEL_ANY)
//    and keeps each operation the cancel ended, instead of completing it;
//  - fork_parent starts them again on the parent's ring;
//  - fork_child gives the child its own ring and wake-up eventfd (the old
//    ones stay the parent's: the child only unmaps and closes its copies)
//    and starts them there.
// So, as with Asio, every pending operation is pending in both processes.
// Timers and signal waits live in process memory and need nothing.
#include <asio_uring/detail/scheduler.hpp>

#include "emulated_ring.hpp"

#include <boost/system/system_error.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace asio_uring::detail {

void ring::renew(bool carry_sqes)
{
  if (emu_)
  {
    // The epoll set is shared with the parent after fork() as well: the
    // child gets its own, and its own queues (nothing is parked in them:
    // fork_prepare cancelled every request).
    emu_.reset();
    ops_.reset();
    setup_emulated(opts_);
    return;
  }
  io_context_options kernel = opts_;
  kernel.engine = engine_kind::io_uring;  // the parent has a kernel ring: so does the child
  ring fresh(kernel);
  if (carry_sqes)
  {
    for (unsigned i = 0, n = sqes_unconsumed(); i < n; ++i)
      *io_uring_get_sqe(&fresh.ring_) = unconsumed_sqe(i);  // same size: room for all
  }
  if (reg_iov_) fresh.register_buffers(reg_iov_, reg_n_);  // before enabling: any thread may
  files_.renew(fresh.ring_, fresh.files_.size());
  std::swap(ring_, fresh.ring_);
  std::swap(flags_, fresh.flags_);
  std::swap(ops_, fresh.ops_);
  disabled_.store(fresh.disabled_.exchange(disabled_.load()));
  submitter_.store(fresh.submitter_.exchange(submitter_.load()));
  // `fresh` now holds the old ring and releases this process's view of it.
}

void scheduler::fork_prepare()
{
  with_loop([this] { park_in_flight(); });
  fork_prepared_ = true;
}

void scheduler::fork_parent()
{
  fork_prepared_ = false;
  with_loop([this] { restart_parked(); });
}

std::size_t scheduler::fork_child()
{
  const std::size_t lost = fork_prepared_ ? 0 : inflight_;
  fork_prepared_ = false;
  ring_.renew();
  // The child's threads have no registered ring fds (they are per thread).
  for (thread_ctx* t = tl_thread_ctx; t; t = t->outer)
  {
    if (t->sched != this) continue;
    t->ring_index = -1;
    t->ring_fd_tried = false;
  }
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0)
    throw boost::system::system_error(
        boost::system::error_code(errno, boost::system::system_category()),
        "asio_uring::io_context::notify_fork: eventfd");
  ::close(std::exchange(wake_fd_, fd));
  wake_armed_ = false;
  owner_sleeping_ = false;
  wake_sent_ = false;
  inflight_ = 0;
  with_loop([this] {
    ring_renewed(renewal::fork_child);
    restart_parked();
  });
  return lost;
}

// Loop owner only.
void scheduler::park_in_flight()
{
  io_uring* r = ring_.get();
  // Requests already finished (or cancelled by the user) complete as usual.
  // A user's cancel may still be an SQE here (queued by a thread that could
  // not enter this single-issuer ring): submit it and let the kernel post
  // what it ended (deferred task work runs only at an enter that asks for
  // completions), or its target would be parked and started again, the
  // cancel lost.
  ring_.submit();
  ring_.get_events();
  reap(*tl_thread_ctx);
  if (inflight_ == 0 && !wake_armed_) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(sqe, 0);
  while (inflight_ > 0 || wake_armed_)
  {
    io_uring_cqe* cqe = nullptr;
    ring_.submit_and_wait_timeout(nullptr);
    while (io_uring_peek_cqe(r, &cqe) == 0)
    {
      const std::uint64_t ud = cqe->user_data;
      const int res = cqe->res;
      const unsigned flags = cqe->flags;
      io_uring_cqe_seen(r, cqe);
      if (ud + 1 <= 1) continue;  // a cancel, a linked timeout, liburing's timeout
      operation* op = operation::from_user_data(ud);
      if (op == &wake_op_)
      {
        wake_armed_ = false;
        continue;
      }
      if (!(flags & IORING_CQE_F_MORE)) --inflight_;
      if (op->internal())
        op->complete_with(*this, res, flags);  // the signal pipe read: re-armed by its service
      else if (res == -ECANCELED && !(flags & IORING_CQE_F_MORE))
        fork_parked_.push(op);
      else
      {
        op->set_result(res, flags);
        tl_thread_ctx->q.push(op);
      }
    }
  }
}

// Loop owner only: each parked operation fills its SQE again.
void scheduler::restart_parked()
{
  while (operation* op = fork_parked_.pop())
  {
    op->mark_start();
    op->complete(*this);
  }
}

} // namespace asio_uring::detail
