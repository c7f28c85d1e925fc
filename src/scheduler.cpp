#include <asio_uring/detail/scheduler.hpp>

#include <boost/system/system_error.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
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

  void (*fn_)(void*);
  void* arg_;
  std::binary_semaphore done_{0};
};

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
    std::lock_guard lk(s_.mutex_);
    --s_.threads_in_run_;
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
    t.owns_loop = false;
    loop_owner_ = nullptr;
  }
  if (idle_threads_ > 0) idle_cv_.notify_all();
}

std::size_t scheduler::run(std::size_t max, bool block, const clock::time_point* deadline)
{
  thread_ctx t(*this, true);
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

    if (!loop_owner_)
    {
      loop_owner_ = &t;
      t.owns_loop = true;
    }

    if (t.owns_loop)
    {
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
        // Let another thread drive the ring while we run handlers, and give
        // idle threads a share of what we reaped.
        t.owns_loop = false;
        loop_owner_ = nullptr;
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
    if (max_us != 0) ring_.submit_and_wait_timeout(tsp);
    else ring_.submit();
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
  std::unique_lock lk(mutex_);
  if (!loop_owner_)
  {
    // Nobody drives the loop: borrow it for the call.
    thread_ctx b(*this, false);
    b.owns_loop = true;
    loop_owner_ = &b;
    op_queue starts;
    starts.splice(foreign_starts_);
    lk.unlock();
    struct give_back
    {
      scheduler& s;
      thread_ctx& b;
      ~give_back()
      {
        std::lock_guard g(s.mutex_);
        s.release_loop_locked(b);
      }
    } guard{*this, b};
    start_all(starts);
    fn(arg);
    return;
  }
  sync_call call(fn, arg);
  foreign_starts_.push(&call);
  foreign_pending_.store(true, std::memory_order_release);
  wake_owner_locked();
  lk.unlock();
  call.done_.acquire();
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

void scheduler::shutdown()
{
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

  doomed.destroy_all();
  for (timer_queue_base* q = timer_queues_; q; q = q->next_) q->destroy_all();

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
