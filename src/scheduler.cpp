#include <asio_uring/detail/scheduler.hpp>

#include <boost/system/system_error.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <string>
#include <utility>

namespace asio_uring::detail {

namespace {

// The wake-up read only marks the eventfd drained; it never reaches a queue.
void wake_op_func(scheduler*, operation*, int, unsigned) {}

// A function run on the loop owner's thread for a waiting foreign thread.
struct sync_call : operation
{
  sync_call(void (*fn)(void*), void* arg) : operation(&do_it), fn_(fn), arg_(arg) {}

  static void do_it(scheduler* owner, operation* base, int, unsigned)
  {
    auto* self = static_cast<sync_call*>(base);
    if (owner) self->fn_(self->arg_);
    self->done_.release();
  }

  // Wakes the waiting thread without running the call: it asks again
  // (scheduler::give_back_borrowed_locked).
  void bounce()
  {
    bounced_ = true;
    done_.release();
  }

  void (*fn_)(void*);
  void* arg_;
  bool bounced_ = false;
  std::binary_semaphore done_{0};
};

// The single-issuer rings a thread enabled: when the thread exits, each
// parks its requests (scheduler::submitter_exiting), since no other thread
// may cancel them and a context is often destroyed by the thread that joined
// the one that ran it. The mutex guards the lists and each scheduler's
// exit_hook_ and exit_running_; it is not held while a scheduler parks (that
// may wait for another thread to give its loop back, and that thread may be
// enabling a ring, which takes this mutex). A scheduler being destroyed
// waits for a park in progress (detach_exit_hook).
std::mutex exit_hooks_mutex;
std::condition_variable exit_hooks_cv;

struct exit_hook
{
  std::vector<scheduler*> scheds;
  ~exit_hook() { scheduler::submitter_exiting(scheds); }
};

thread_local exit_hook tl_exit_hook;

} // namespace

thread_ctx::thread_ctx(scheduler& s, bool running) noexcept
  : sched(&s), outer(tl_thread_ctx), in_run(running)
{
  tl_thread_ctx = this;
}

thread_ctx::~thread_ctx()
{
  tl_thread_ctx = outer;
}

scheduler::scheduler(const io_context_options& opts)
  : ring_(opts), wake_op_(&wake_op_func)
{
  ring_.on_enabled(&scheduler::ring_enabled, this);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0)
    throw boost::system::system_error(
        boost::system::error_code(errno, boost::system::system_category()),
        "asio_uring::io_context: eventfd");
}

scheduler::~scheduler()
{
  shutdown();
  ::close(wake_fd_);
}

// Keeps the bookkeeping of one thread inside run() exception-safe.
class run_scope
{
public:
  run_scope(scheduler& s, thread_ctx& t) : s_(s), t_(t)
  {
    std::lock_guard lk(s_.mutex_);
    ++s_.threads_in_run_;
    s_.several_running_.store(s_.threads_in_run_ > 1, std::memory_order_relaxed);
    if (s_.ring_.single_issuer() && s_.ring_.enabled() && !s_.ring_.foreign_submitter())
    {
      t_.counted_submitter = true;
      ++s_.submitter_in_run_;
    }
  }
  ~run_scope()
  {
    // Work changed outside any handler (none expected) is settled too.
    if (long d = t_.private_work; d != 0)
    {
      t_.private_work = 0;
      if (d > 0) s_.outstanding_work_.fetch_add(d, std::memory_order_relaxed);
      else s_.release_work(-d);
    }
    if (t_.ring_index >= 0) s_.ring_.unregister_fd(t_.ring_index);
    std::unique_lock lk(s_.mutex_);
    // Operations handed over to a loop owner that then let the loop go (a
    // thread waiting in with_loop among them) are started by the owner, or
    // by a thread leaving run() while nobody owns the loop: with several
    // threads, the owner releases the loop after each reap to run handlers,
    // and once stop() is seen no thread comes back to take it, so a call
    // queued during that reap would wait for ever (Beast's advanced server,
    // SIGINT while a handler on the other thread closed a socket). A
    // single-issuer ring's loop is left to its submitter unless this is the
    // last thread.
    for (;;)
    {
      const bool last = s_.threads_in_run_ == 1 && !s_.loop_owner_;
      const bool free_loop = !s_.loop_owner_ && s_.may_own_loop_locked();
      if (s_.foreign_starts_.empty() || !(t_.owns_loop || last || free_loop)) break;
      const bool took = !t_.owns_loop;
      if (took)
      {
        s_.loop_owner_ = &t_;
        t_.owns_loop = true;
      }
      op_queue starts;
      starts.splice(s_.foreign_starts_);
      lk.unlock();
      if (took) s_.enter_as(t_, false);
      s_.start_all(starts);
      lk.lock();
    }
    --s_.threads_in_run_;
    s_.several_running_.store(s_.threads_in_run_ > 1, std::memory_order_relaxed);
    if (t_.counted_submitter) --s_.submitter_in_run_;
    s_.release_loop_locked(t_);
  }

private:
  scheduler& s_;
  thread_ctx& t_;
};

// Gives up the loop and leaves this thread's unrun handlers to the others.
void scheduler::release_loop_locked(thread_ctx& t)
{
  if (!t.q.empty())
  {
    shared_.splice(t.q);
    foreign_pending_.store(true, std::memory_order_release);
  }
  if (t.owns_loop)
  {
    ring_.enter_with(-1);
    t.owns_loop = false;
    loop_owner_ = nullptr;
    if (exit_waiters_ > 0) loop_free_cv_.notify_all();
  }
  if (idle_threads_ > 0) idle_cv_.notify_all();
}

// The loop owned by a thread outside run() (with_loop_slow,
// submitter_exiting): taken with mutex_ held, given back (with its lock) by
// give_back_borrowed_locked however the borrow ends.
class loop_borrow
{
public:
  explicit loop_borrow(scheduler& s) : s_(s), b(s, false)
  {
    b.owns_loop = true;
    s_.loop_owner_ = &b;
  }
  ~loop_borrow()
  {
    std::lock_guard g(s_.mutex_);
    s_.give_back_borrowed_locked(b);
  }
  loop_borrow(const loop_borrow&) = delete;
  loop_borrow& operator=(const loop_borrow&) = delete;

  scheduler& s_;
  thread_ctx b;
};

// Gives back a loop that a thread outside run() borrowed (with_loop_slow,
// submitter_exiting). A thread that called with_loop during the borrow waits
// for the owner to run its call, and a borrower runs nothing after its own
// work: every such call goes back to its thread, which asks again and, the
// loop now free, borrows it itself. Without this, a close() racing with the
// single-issuer submitter's exit (the exit hook borrows the loop to park its
// requests) waited for ever once no thread ran the context. Operations
// waiting to be started stay queued for the next owner, as before.
void scheduler::give_back_borrowed_locked(thread_ctx& b)
{
  release_loop_locked(b);
  op_queue keep;
  while (operation* op = foreign_starts_.pop())
  {
    if (op->runs(&sync_call::do_it)) static_cast<sync_call*>(op)->bounce();
    else keep.push(op);
  }
  foreign_starts_.splice(keep);
}

// A single-issuer ring's submitter keeps the loop while it is inside run();
// the other threads running the context run handlers only.
bool scheduler::may_own_loop_locked() const noexcept
{
  return submitter_in_run_ == 0 || !ring_.foreign_submitter();
}

// The calling thread has just taken the loop: make its enter calls valid.
// A single-issuer ring enabled by another thread is taken over first; when
// that is impossible, throws (`may_throw`) or leaves the ring as it is (a
// submission then fails with EEXIST and the SQEs wait for the submitter).
void scheduler::enter_as(thread_ctx& t, bool may_throw)
{
  if (ring_.foreign_submitter()) [[unlikely]]
  {
    const pid_t submitter = ring_.submitter();
    if (!take_over_ring(t))
    {
      if (!may_throw) return;
      throw boost::system::system_error(
          boost::system::error_code(EEXIST, boost::system::system_category()),
          "asio_uring::io_context::run: the context's ring is single-issuer (concurrency "
          "hint 1) and thread " + std::to_string(submitter) + ", not running it now, still "
          "has " + std::to_string(inflight_) + " request(s) in the kernel that only it may "
          "complete; run the context on that thread (or let that thread exit first), or "
          "construct it with a concurrency hint other than 1, or set "
          "io_context_options::single_issuer = false (ASIO_URING_FEATURES=-single_issuer)");
    }
  }
  if (t.wants_ring_fd && !t.ring_fd_tried && ring_.enabled())
  {
    t.ring_fd_tried = true;
    t.ring_index = ring_.register_fd();
  }
  ring_.enter_with(t.ring_index);
}

// Gives the loop a ring of its own when the one it has belongs to a thread
// that does not run it. Possible when the kernel holds no request of ours
// there but the wake-up read: the submitter's exit parked them
// (submitter_exiting), or there were none. The SQEs not submitted yet move
// to the new ring, the parked operations start again on it.
bool scheduler::take_over_ring(thread_ctx& t)
{
  reap(t);  // what the kernel posted already is ours to take
  const std::uint64_t wake_ud = wake_op_.user_data();
  std::size_t queued = 0;
  for (unsigned i = 0, n = ring_.sqes_unconsumed(); i < n; ++i)
  {
    const std::uint64_t ud = ring_.unconsumed_sqe(i).user_data;
    if (ud + 1 > 1 && ud != wake_ud) ++queued;
  }
  if (inflight_ > queued) return false;

  // The old ring's wake-up read stays there (the kernel cancels it when the
  // ring goes); a new eventfd, so that it can never take a wake-up meant for
  // the new ring's.
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0)
    throw boost::system::system_error(
        boost::system::error_code(errno, boost::system::system_category()),
        "asio_uring::io_context: eventfd");
  ring_.renew(true);
  wake_armed_ = false;
  for (unsigned i = 0, n = ring_.sqes_unconsumed(); i < n; ++i)
  {
    io_uring_sqe& sqe = ring_.unconsumed_sqe(i);
    if (sqe.user_data == wake_ud)
    {
      sqe.fd = fd;
      wake_armed_ = true;
    }
  }
  ::close(std::exchange(wake_fd_, fd));
  {
    std::lock_guard lk(mutex_);
    ++takeovers_;
    if (exit_waiters_ > 0) loop_free_cv_.notify_all();
  }
  ring_renewed(renewal::thread_change);
  restart_parked();
  return true;
}

void scheduler::ring_renewed(renewal why)
{
  // A hook may remove itself: iterate over a copy.
  const std::vector<renew_hook> hooks = renew_hooks_;
  for (const renew_hook& h : hooks) h.fn(h.arg, why);
}

void scheduler::add_ring_renewed_hook(renewed_fn fn, void* arg)
{
  renew_hooks_.push_back({fn, arg});
}

void scheduler::remove_ring_renewed_hook(renewed_fn fn, void* arg) noexcept
{
  std::erase_if(renew_hooks_, [&](const renew_hook& h) { return h.fn == fn && h.arg == arg; });
}

// On the thread that has just enabled the single-issuer ring.
void scheduler::ring_enabled(void* self)
{
  auto* s = static_cast<scheduler*>(self);
  {
    std::lock_guard g(exit_hooks_mutex);
    if (s->exit_hook_ != &tl_exit_hook)
    {
      if (s->exit_hook_) std::erase(static_cast<exit_hook*>(s->exit_hook_)->scheds, s);
      tl_exit_hook.scheds.push_back(s);
      s->exit_hook_ = &tl_exit_hook;
    }
  }
  // The enabling thread is inside run() (or borrowing the loop): count it
  // as the submitter in run().
  for (thread_ctx* t = tl_thread_ctx; t; t = t->outer)
  {
    if (t->sched == s && t->in_run && !t->counted_submitter)
    {
      std::lock_guard lk(s->mutex_);
      t->counted_submitter = true;
      ++s->submitter_in_run_;
      break;
    }
  }
}

void scheduler::detach_exit_hook() noexcept
{
  std::unique_lock g(exit_hooks_mutex);
  if (exit_hook_) std::erase(static_cast<exit_hook*>(exit_hook_)->scheds, this);
  exit_hook_ = nullptr;
  exit_hooks_cv.wait(g, [this] { return !exit_running_; });
}

void scheduler::submitter_exiting(std::vector<scheduler*>& scheds)
{
  std::unique_lock g(exit_hooks_mutex);
  while (!scheds.empty())
  {
    scheduler* s = scheds.back();
    scheds.pop_back();
    s->exit_hook_ = nullptr;
    s->exit_running_ = true;
    g.unlock();
    s->submitter_exiting();
    g.lock();
    s->exit_running_ = false;  // s may be destroyed from here on
    exit_hooks_cv.notify_all();
  }
}

// On the exiting submitter thread (exit_hook), without exit_hooks_mutex.
// Another thread may hold the loop now (borrowing it for a close(), or
// inside run() failing to take the ring over): wait for it to give the loop
// back, since only this thread can park the requests, and a ring left with
// requests of a dead submitter can never be taken over. No wait once the
// ring was taken over (nothing of ours left in it).
void scheduler::submitter_exiting()
{
  std::unique_lock lk(mutex_);
  const unsigned takeovers = takeovers_;
  ++exit_waiters_;
  loop_free_cv_.wait(lk, [&] { return !loop_owner_ || shutdown_ || takeovers_ != takeovers; });
  --exit_waiters_;
  if (loop_owner_ || shutdown_) return;
  loop_borrow borrow(*this);
  lk.unlock();
  if (!ring_.foreign_submitter() && ring_.enabled())
  {
    ring_.enter_with(-1);
    park_in_flight();
  }
}

// After a borrower entered a single-issuer ring: the kernel defers the
// completions (DEFER_TASKRUN) until the submitter asks; ask now, so that no
// request of the borrow stays held for a thread that may never run the loop.
void scheduler::flush_borrowed(thread_ctx& b)
{
  if (!ring_.single_issuer() || !ring_.enabled() || ring_.foreign_submitter() || inflight_ == 0) return;
  ring_.get_events();
  reap(b);
}

std::size_t scheduler::run(std::size_t max, bool block, const clock::time_point* deadline)
{
  thread_ctx t(*this, true);
  t.wants_ring_fd = block && max == static_cast<std::size_t>(-1);
  thread_call_stack::context asio_ctx(this, t);
  run_scope scope(*this, t);

  // One unit of outstanding work per handler, settled even if it throws.
  struct work_done
  {
    scheduler* s;
    thread_ctx& t;
    ~work_done() { s->settle_work(t); }
  };

  std::size_t n = 0;
  std::size_t batch = 0;  // handlers left in this turn
  while (n < max)
  {
    if (batch == 0)
    {
      if (!refill(t, block, deadline)) break;
      batch = t.q.size();
    }
    if (stopped_.load(std::memory_order_relaxed)) break;
    operation* op = t.q.pop();
    --batch;
    ++n;
    work_done done{this, t};
    op->complete(*this);
    if (t.submit_soon) submit_soon(t);
    t.rethrow_pending_exception();
  }
  return n;
}

// Ends a turn: gets more ready handlers into t.q. False: leave run().
bool scheduler::refill(thread_ctx& t, bool block, const clock::time_point* deadline)
{
  // Single-thread fast path: we own the loop, handlers are queued and nothing
  // came from other threads. Poll the ring without taking the lock.
  if (t.owns_loop && !t.q.empty()
      && !foreign_pending_.load(std::memory_order_acquire)
      && !several_running_.load(std::memory_order_relaxed)
      && !stopped_.load(std::memory_order_relaxed))
  {
    drive(t, false, nullptr);
    return true;
  }

  std::unique_lock lk(mutex_);
  for (;;)
  {
    if (stopped_.load(std::memory_order_relaxed)) return false;

    if (!shared_.empty())
    {
      if (threads_in_run_ == 1) t.q.splice(shared_);
      else t.q.push(shared_.pop());
    }

    if (!loop_owner_ && may_own_loop_locked())
    {
      loop_owner_ = &t;
      t.owns_loop = true;
    }

    if (t.owns_loop)
    {
      if (ring_.foreign_submitter()) [[unlikely]]
      {
        // Taking the ring over starts operations again: not under the lock.
        lk.unlock();
        try
        {
          enter_as(t, true);
        }
        catch (...)
        {
          lk.lock();
          release_loop_locked(t);
          throw;
        }
        lk.lock();
      }
      else
      {
        enter_as(t, true);
      }
      op_queue starts;
      starts.splice(foreign_starts_);
      foreign_pending_.store(!shared_.empty(), std::memory_order_release);
      const bool wait = block && t.q.empty() && starts.empty();
      if (wait && outstanding_work_.load(std::memory_order_acquire) == 0)
      {
        stop_locked();
        return false;
      }
      owner_sleeping_ = wait;
      lk.unlock();

      start_all(starts);
      drive(t, wait, deadline);

      lk.lock();
      owner_sleeping_ = false;
      wake_sent_ = false;
      if (threads_in_run_ > 1)
      {
        // Let another thread drive the ring while we run handlers (not a
        // single-issuer ring: only we may), and give idle threads a share
        // of what we reaped.
        if (!ring_.single_issuer())
        {
          ring_.enter_with(-1);
          t.owns_loop = false;
          loop_owner_ = nullptr;
        }
        if (idle_threads_ > 0)
        {
          if (t.q.size() > 1)
          {
            operation* mine = t.q.pop();
            shared_.splice(t.q);
            t.q.push(mine);
            foreign_pending_.store(true, std::memory_order_release);
          }
          idle_cv_.notify_all();
        }
      }
      if (!t.q.empty()) return true;
      if (!block) return false;
      if (deadline && clock::now() >= *deadline) return false;
      continue;
    }

    if (!t.q.empty()) return true;
    if (!block) return false;

    // Another thread drives the ring and nothing is ready: wait.
    ++idle_threads_;
    if (deadline) idle_cv_.wait_until(lk, *deadline);
    else idle_cv_.wait(lk);
    --idle_threads_;
    if (deadline && clock::now() >= *deadline && shared_.empty()) return false;
  }
}

void scheduler::start_all(op_queue& ops)
{
  while (operation* op = ops.pop())
  {
    op->mark_start();
    op->complete(*this);
  }
}

io_uring_sqe* scheduler::get_sqe_after_submit()
{
  for (;;)
  {
    if (io_uring_sqe* sqe = ring_.try_get_sqe()) return sqe;
    int r = ring_.submit();
    if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR)
      throw boost::system::system_error(
          boost::system::error_code(-r, boost::system::system_category()),
          "asio_uring: io_uring_submit");
    if (r <= 0)
    {
      // The kernel is short of resources: reap to make room and retry.
      ring_.get_events();
      if (thread_ctx* t = loop_owner_here()) reap(*t);
    }
  }
}

void scheduler::cancel_in_flight(operation* op)
{
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, op->user_data(), 0);
  io_uring_sqe_set_data64(sqe, 0);
}

void scheduler::cancel_fd(int fd, bool now)
{
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, 0);
  if (now) ring_.submit();
}

void scheduler::arm_wake_read()
{
  if (wake_armed_) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
  io_uring_sqe_set_data64(sqe, wake_op_.user_data());
  wake_armed_ = true;
}

void scheduler::drive(thread_ctx& t, bool block, const clock::time_point* deadline)
{
  io_uring* r = ring_.get();
  const bool soon = std::exchange(t.submit_soon, false);
  if (block)
  {
    arm_wake_read();
    long max_us = LONG_MAX;
    if (deadline)
    {
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(*deadline - clock::now()).count();
      max_us = left < 0 ? 0 : left;
    }
    for (timer_queue_base* q = timer_queues_; q; q = q->next_)
      max_us = q->wait_duration_usec(max_us);
    __kernel_timespec ts{};
    __kernel_timespec* tsp = nullptr;
    if (max_us != LONG_MAX)
    {
      ts.tv_sec = max_us / 1000000;
      ts.tv_nsec = (max_us % 1000000) * 1000;
      tsp = &ts;
    }
    if (max_us == 0) ring_.submit();
    else if (const unsigned batch = ring_.batch_wait_usec())
      ring_.submit_and_wait_batch(tsp, static_cast<unsigned>(std::min<long>(batch, max_us)));
    else ring_.submit_and_wait_timeout(tsp);
  }
  else if (io_uring_sq_ready(r) > 0 && (soon || t.q.empty() || t.q.size() >= 16 || ++t.held_turns >= 4))
  {
    // Ready handlers remain, so the blocking wait that submits everything
    // is near: submit early only before a long turn or after a few short
    // ones, not at the end of every turn (one system call saved per turn).
    t.held_turns = 0;
    ring_.submit();
  }
  else if (ring_.cq_needs_flush())
  {
    ring_.get_events();
  }
  reap(t);
  for (timer_queue_base* q = timer_queues_; q; q = q->next_)
    q->get_ready_timers(t.q);
}

void scheduler::submit_soon(thread_ctx& t)
{
  t.submit_soon = false;
  if (t.owns_loop && io_uring_sq_ready(ring_.get()) > 0) ring_.submit();
}

void scheduler::reap(thread_ctx& t)
{
  io_uring* r = ring_.get();
  // The CQEs present now (the tail read once); later ones wait for the next
  // call.
  unsigned head = *r->cq.khead;
  unsigned tail = io_uring_smp_load_acquire(r->cq.ktail);
  if (head == tail) return;
  const unsigned mask = r->cq.ring_mask;
  const unsigned shift = (r->flags & IORING_SETUP_CQE32) ? 1 : 0;  // as io_uring_cqe_index
  for (; static_cast<int>(tail - head) > 0; ++head)
  {
    const io_uring_cqe* cqe = &r->cq.cqes[(head & mask) << shift];
    const std::uint64_t ud = cqe->user_data;
    // 0: a cancel or linked timeout without an operation;
    // LIBURING_UDATA_TIMEOUT (all ones): liburing's own wait timeout.
    if (ud + 1 <= 1) continue;
    operation* op = operation::from_user_data(ud);
    if (op == &wake_op_)
    {
      wake_armed_ = false;
      continue;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) --inflight_;
    if (op->internal())
    {
      // An internal operation may queue SQEs, and a full ring may make that
      // reap again: consume this CQE first, then continue from wherever the
      // ring's head is afterwards.
      const int res = cqe->res;
      const unsigned flags = cqe->flags;
      io_uring_smp_store_release(r->cq.khead, head + 1);
      op->complete_with(*this, res, flags);
      head = *r->cq.khead - 1;
      tail = io_uring_smp_load_acquire(r->cq.ktail);
      continue;
    }
    op->set_result(cqe->res, cqe->flags);
    t.q.push(op);
  }
  io_uring_smp_store_release(r->cq.khead, head);
}

void scheduler::post_deferred_slow(operation* op)
{
  for (thread_ctx* t = tl_thread_ctx; t; t = t->outer)
  {
    if (t->sched == this && (t->in_run || t->owns_loop))
    {
      t->q.push(op);
      return;
    }
  }
  std::unique_lock lk(mutex_);
  if (shutdown_)
  {
    lk.unlock();
    op->destroy();
    return;
  }
  shared_.push(op);
  foreign_pending_.store(true, std::memory_order_release);
  if (idle_threads_ > 0) idle_cv_.notify_one();
  else wake_owner_locked();
}

void scheduler::defer_start(operation* op)
{
  std::unique_lock lk(mutex_);
  if (shutdown_)
  {
    lk.unlock();
    op->destroy();
    return;
  }
  foreign_starts_.push(op);
  foreign_pending_.store(true, std::memory_order_release);
  wake_owner_locked();
  if (!loop_owner_ && idle_threads_ > 0) idle_cv_.notify_one();
}

void scheduler::with_loop_slow(void (*fn)(void*), void* arg)
{
  while (!with_loop_once(fn, arg)) {}
}

// One attempt of with_loop_slow: false when the call came back unrun.
bool scheduler::with_loop_once(void (*fn)(void*), void* arg)
{
  std::unique_lock lk(mutex_);
  if (!loop_owner_)
  {
    // Nobody drives the loop: borrow it for the call.
    loop_borrow borrow(*this);
    op_queue starts;
    starts.splice(foreign_starts_);
    lk.unlock();
    enter_as(borrow.b, false);
    start_all(starts);
    fn(arg);
    flush_borrowed(borrow.b);
    return true;
  }
  sync_call call(fn, arg);
  foreign_starts_.push(&call);
  foreign_pending_.store(true, std::memory_order_release);
  wake_owner_locked();
  lk.unlock();
  call.done_.acquire();
  return !call.bounced_;
}

void scheduler::stop()
{
  std::lock_guard lk(mutex_);
  stop_locked();
}

void scheduler::stop_locked()
{
  stopped_.store(true, std::memory_order_release);
  idle_cv_.notify_all();
  wake_owner_locked();
}

void scheduler::wake_owner_locked()
{
  if (owner_sleeping_ && !wake_sent_)
  {
    wake_sent_ = true;
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
}

void scheduler::add_timer_queue(timer_queue_base& q)
{
  q.next_ = timer_queues_;
  timer_queues_ = &q;
}

void scheduler::remove_timer_queue(timer_queue_base& q)
{
  for (timer_queue_base** p = &timer_queues_; *p; p = &(*p)->next_)
  {
    if (*p == &q)
    {
      *p = q.next_;
      q.next_ = nullptr;
      return;
    }
  }
}

void scheduler::destroy_unsubmitted() noexcept
{
  const std::uint64_t wake_ud = wake_op_.user_data();
  for (unsigned i = 0, n = ring_.sqes_unconsumed(); i < n; ++i)
  {
    io_uring_sqe& sqe = ring_.unconsumed_sqe(i);
    const std::uint64_t ud = std::exchange(sqe.user_data, 0);
    if (ud + 1 <= 1 || ud == wake_ud) continue;
    operation* op = operation::from_user_data(ud);
    if (!op->internal()) op->destroy();
  }
}

void scheduler::shutdown()
{
  // Entering the ring below may enable it: no exit hook for a dying context.
  ring_.on_enabled(nullptr, nullptr);
  detach_exit_hook();
  op_queue doomed;
  {
    std::lock_guard lk(mutex_);
    if (shutdown_) return;
    shutdown_ = true;
    stopped_.store(true, std::memory_order_release);
    doomed.splice(shared_);
    doomed.splice(foreign_starts_);
  }
  // Handlers may own I/O objects whose destructors touch the loop: own it.
  thread_ctx b(*this, false);
  b.owns_loop = true;
  ring_.enter_with(-1);

  doomed.destroy_all();
  fork_parked_.destroy_all();
  for (timer_queue_base* q = timer_queues_; q; q = q->next_) q->destroy_all();
  if (ring_.foreign_submitter())
  {
    // A single-issuer ring whose submitter is alive and does not run it
    // (had it exited, its requests would be parked and destroyed above):
    // no thread but it may cancel them. Destroy the operations whose SQEs
    // the kernel has not seen; those in the kernel are left to it (it
    // completes nothing there without the submitter and cancels them when
    // the ring is closed); see doc/design.md, "Single issuer".
    destroy_unsubmitted();
    return;
  }

  // Cancel everything in flight and destroy each operation as its CQE
  // arrives; the kernel may still write to their buffers until then.
  io_uring* r = ring_.get();
  if (inflight_ > 0 || wake_armed_)
  {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, 0);
  }
  int idle_rounds = 0;
  while ((inflight_ > 0 || wake_armed_) && idle_rounds < 50)
  {
    __kernel_timespec ts{0, 100'000'000};
    ring_.submit_and_wait_timeout(&ts);
    reap(b);
    const bool idle = b.q.empty();
    if (idle) ++idle_rounds;
    b.q.destroy_all();
    // Destroyed handlers may have started new operations; cancel those too.
    if (io_uring_sq_ready(r) > 0 || (!idle && inflight_ > 0))
    {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(sqe, 0);
    }
  }
  b.q.destroy_all();
}

} // namespace asio_uring::detail
