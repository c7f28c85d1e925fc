// The loop: ready queues, work counting, the ring owner, timers, wake-ups.
//
// Threading model (see doc/design.md): at most one thread at a time "owns the
// loop" -- it may fill SQEs, submit, reap CQEs and touch the timer queues.
// When one thread runs the context it keeps the loop across handlers, so the
// single-thread path takes no lock per handler. Other threads hand work over
// through `shared_` (ready handlers) and `foreign_starts_` (operations that
// must be started by the owner), and wake an owner blocked in the kernel with
// an eventfd whose read is kept armed on the ring.
#pragma once

#include <asio_uring/detail/operation.hpp>
#include <asio_uring/detail/ring.hpp>
#include <asio_uring/detail/send_zc_state.hpp>

#include <boost/asio/detail/thread_context.hpp>
#include <boost/asio/detail/thread_info_base.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <new>
#include <semaphore>
#include <utility>
#include <vector>

namespace asio_uring::detail {

class scheduler;
class buffer_ring;
struct buffer_ring_deleter { void operator()(buffer_ring*) const noexcept; };

// A queue of timers on one clock; implemented by timer_queue<Clock, Traits>.
class timer_queue_base
{
public:
  virtual ~timer_queue_base() = default;
  // Microseconds until the earliest deadline, clamped to [0, max_us].
  virtual long wait_duration_usec(long max_us) const = 0;
  // Moves the operations of expired timers to `out` (result 0).
  virtual void get_ready_timers(op_queue& out) = 0;
  // Destroys every pending operation without invoking it.
  virtual void destroy_all() noexcept = 0;

private:
  friend class scheduler;
  timer_queue_base* next_ = nullptr;
};

// Memory of finished operations kept for the next ones (detail/handler_work.hpp,
// op_allocator): two blocks, each with its capacity in a header before it.
class op_memory_cache
{
public:
  static constexpr std::size_t header = 16;  // keeps the block 16-byte aligned
  op_memory_cache() = default;
  op_memory_cache(const op_memory_cache&) = delete;
  op_memory_cache& operator=(const op_memory_cache&) = delete;
  ~op_memory_cache()
  {
    for (void* m : mem_) if (m) ::operator delete(static_cast<char*>(m) - header);
  }
  // A kept block of at least `n` bytes, or null.
  [[gnu::always_inline]] void* take(std::size_t n) noexcept
  {
    for (void*& m : mem_)
      if (m && capacity(m) >= n) return std::exchange(m, nullptr);
    return nullptr;
  }
  // After a miss: frees one kept block (too small for what is asked now),
  // so that the block about to be allocated can be kept when it is freed.
  void drop_one() noexcept
  {
    for (void*& m : mem_)
      if (m)
      {
        ::operator delete(static_cast<char*>(std::exchange(m, nullptr)) - header);
        return;
      }
  }
  // Keeps `p`; false when both places are taken.
  [[gnu::always_inline]] bool keep(void* p) noexcept
  {
    for (void*& m : mem_)
      if (!m) { m = p; return true; }
    return false;
  }
  static std::size_t capacity(void* p) noexcept
  { return *reinterpret_cast<std::size_t*>(static_cast<char*>(p) - header); }

private:
  void* mem_[2] = {nullptr, nullptr};
};

// Per-thread state while a thread runs (or briefly borrows) a scheduler.
// Deriving from Asio's thread_info_base gives Asio's recycling allocator
// (executor_function, awaitable frames, our own ops) a per-thread cache.
struct thread_ctx : boost::asio::detail::thread_info_base
{
  thread_ctx(scheduler& s, bool running) noexcept;
  ~thread_ctx();
  thread_ctx(const thread_ctx&) = delete;
  thread_ctx& operator=(const thread_ctx&) = delete;

  scheduler* sched;
  thread_ctx* outer;
  op_queue q;              // ready operations only this thread runs
  bool owns_loop = false;  // may touch the ring and the timer queues
  bool in_run;             // inside run()/poll() (false: borrowing)
  // Work started minus work finished by this thread during the current
  // handler; folded into the shared count when the handler returns.
  long private_work = 0;
  // Turns that ended with SQEs left unsubmitted (see scheduler::drive).
  unsigned held_turns = 0;
  // The current handler queued a request that should reach the kernel when
  // the handler returns, not at the end of the turn (see request_submit).
  bool submit_soon = false;
  // run()/run_for()/run_until(): this thread registers the ring fd for the
  // call (ring::register_fd); ring_index is what it got (-1: none).
  bool wants_ring_fd = false;
  bool ring_fd_tried = false;
  int ring_index = -1;
  // Counted in scheduler::submitter_in_run_.
  bool counted_submitter = false;
  op_memory_cache op_memory;
};

inline thread_local thread_ctx* tl_thread_ctx = nullptr;

class scheduler : public boost::asio::detail::thread_context
{
public:
  using clock = std::chrono::steady_clock;

  explicit scheduler(const io_context_options& opts);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // --- running -----------------------------------------------------------
  // Runs up to `max` handlers. `block`: wait for work; `deadline`: give up
  // waiting at that time (nullptr: no limit).
  std::size_t run(std::size_t max, bool block, const clock::time_point* deadline);
  void stop();
  bool stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }
  void restart() noexcept { stopped_.store(false, std::memory_order_release); }
  // Destroys every pending handler without invoking it (context teardown).
  void shutdown();

  // --- work --------------------------------------------------------------
  // Inside a handler run by this scheduler the count is kept per thread and
  // settled when the handler returns (a handler that starts one operation
  // costs no atomic operation at all); elsewhere it is the shared atomic.
  // Only while one thread runs the context: with several, an operation the
  // handler starts may complete and settle on another thread before this
  // handler returns, and the shared count would reach 0 too early.
  [[gnu::always_inline]] void work_started() noexcept
  {
    thread_ctx* t = running_here();
    if (t && !several_running_.load(std::memory_order_relaxed)) ++t->private_work;
    else outstanding_work_.fetch_add(1, std::memory_order_relaxed);
  }
  [[gnu::always_inline]] void work_finished() noexcept
  {
    if (thread_ctx* t = running_here()) --t->private_work;
    else release_work(1);
  }

  // --- handing over operations -------------------------------------------
  // Queues a ready handler and counts its work.
  void post_immediate(operation* op) { work_started(); post_deferred(op); }
  // Queues a ready operation whose work is already counted.
  void post_deferred(operation* op)
  {
    if (thread_ctx* t = running_here()) t->q.push(op);
    else post_deferred_slow(op);
  }

  thread_ctx* running_here() const noexcept
  {
    thread_ctx* t = tl_thread_ctx;
    return (t && t->sched == this && t->in_run) ? t : nullptr;
  }

  bool running_in_this_thread() const noexcept
  {
    for (thread_ctx* t = tl_thread_ctx; t; t = t->outer)
      if (t->sched == this && t->in_run) return true;
    return false;
  }

  // The calling thread owns the loop: it may fill SQEs and touch timers.
  thread_ctx* loop_owner_here() const noexcept
  {
    thread_ctx* t = tl_thread_ctx;
    return (t && t->sched == this && t->owns_loop) ? t : nullptr;
  }

  // Starts `op` (its work already counted): inline when this thread owns the
  // loop, otherwise by the owner (the operation is called with start_marker).
  void start(operation* op)
  {
    if (loop_owner_here()) { op->mark_start(); op->complete(*this); }
    else defer_start(op);
  }
  void defer_start(operation* op);
  void post_deferred_slow(operation* op);
  io_uring_sqe* get_sqe_after_submit();

  // Runs `f` with the loop owned: inline if this thread owns it, by borrowing
  // the loop if nobody does, or on the owning thread (waiting for it).
  template <typename F>
  void with_loop(F&& f)
  {
    if (loop_owner_here()) { f(); return; }
    with_loop_slow(&invoke_fn<std::remove_reference_t<F>>, &f);
  }

  // A completed operation ready to run; loop owner only.
  void push_ready(operation* op) noexcept { tl_thread_ctx->q.push(op); }

  // --- the ring (loop owner only) -----------------------------------------
  ring& get_ring() noexcept { return ring_; }
  // Zero-copy send: thresholds, what the kernel refused, counters (any thread).
  send_zc_state& send_zc() noexcept { return send_zc_; }
  // Never null: a full submission queue is submitted first.
  [[gnu::always_inline]] io_uring_sqe* get_sqe()
  {
    if (io_uring_sqe* sqe = ring_.try_get_sqe()) return sqe;
    return get_sqe_after_submit();
  }
  // Makes room for `n` consecutive SQEs (a linked pair).
  void reserve_sqes(unsigned n)
  {
    if (io_uring_sq_space_left(ring_.get()) < n) ring_.submit();
  }
  // Counts an SQE whose CQE will come back to an operation.
  void op_submitted() noexcept { ++inflight_; }
  // The SQE just queued starts device work (an O_DIRECT read or write):
  // submit it as soon as the running handler returns instead of batching it
  // with the rest of the turn, so the device's queue never drains while
  // handlers run. Socket requests are not worth a system call each: an
  // unready socket only arms a poll.
  void request_submit() noexcept
  {
    if (thread_ctx* t = loop_owner_here()) t->submit_soon = true;
  }
  // Operations with a request in the kernel (diagnostics and tests).
  std::size_t in_flight() const noexcept { return inflight_; }
  // Asks the kernel to cancel the request whose user_data is `op`.
  void cancel_in_flight(operation* op);
  // Cancels every request on descriptor `fd`; with `now`, submits at once so
  // the descriptor may be closed right after (its number may be reused).
  void cancel_fd(int fd, bool now);

  // --- registered files (detail/file_table.hpp, src/file_table.cpp) -----
  // A socket asks for a slot after this many requests (UINT_MAX: never).
  unsigned file_threshold() const noexcept { return ring_.files().threshold(); }
  // Loop owner. Queues the update that puts `fd` in a free slot and returns
  // the slot (used once the kernel confirmed it), or -1 (no table, full).
  int register_file(int fd);
  // Loop owner. Queues the update that empties `slot` if `fd` holds it; it
  // reaches the kernel with the next submission (close and release submit
  // their cancellation right after, before the descriptor is closed).
  void unregister_file(int slot, int fd);

  // --- receive buffers (detail/buffer_ring.hpp, src/buffer_ring.cpp) -----
  // The context's buffers, created on first use; loop owner only.
  buffer_ring& recv_buffers();
  // Submits, then reaps the CQEs there are without running any handler
  // (they are queued): for synchronous calls that wait for a multishot.
  void poll_completions();

  // --- fork (io_context::notify_fork; src/fork.cpp) ----------------------
  // Before fork(): cancels every request in the kernel and keeps the
  // cancelled operations to be started again after it.
  void fork_prepare();
  // In the parent after fork(): starts them again on the same ring.
  void fork_parent();
  // In the child: a new ring and wake-up eventfd, then starts them there.
  // Returns how many requests were in flight without fork_prepare (lost).
  std::size_t fork_child();

  // --- single issuer (doc/design.md, "Single issuer") ---------------------
  // Resources bound to the kernel ring (provided buffer rings, ...) must be
  // created again when the ring is replaced: in a forked child
  // (fork_child) and when a single-issuer ring moves to another thread
  // (take_over_ring). `fn(arg, why)` then runs on the new ring's owner, with the
  // loop owned, before the parked requests are started again. Loop owner
  // only (use with_loop).
  enum class renewal { fork_child, thread_change };
  using renewed_fn = void (*)(void* arg, renewal why);
  void add_ring_renewed_hook(renewed_fn fn, void* arg);
  void remove_ring_renewed_hook(renewed_fn fn, void* arg) noexcept;
  // Called on the submitter thread of a single-issuer ring when it exits
  // (src/scheduler.cpp, exit_hook): parks its requests so that another
  // thread may take the ring over; `scheds` are those whose submitter it is.
  static void submitter_exiting(std::vector<scheduler*>& scheds);

  // --- timers (loop owner only) -------------------------------------------
  void add_timer_queue(timer_queue_base& q);
  void remove_timer_queue(timer_queue_base& q);

private:
  template <typename F>
  static void invoke_fn(void* f) { (*static_cast<F*>(f))(); }
  void release_work(long n) noexcept
  {
    if (outstanding_work_.fetch_sub(n, std::memory_order_acq_rel) == n) stop();
  }
  // Folds a finished handler's private count (and its own unit) into the
  // shared count.
  void settle_work(thread_ctx& t) noexcept
  {
    long delta = t.private_work - 1;
    t.private_work = 0;
    if (delta > 0) outstanding_work_.fetch_add(delta, std::memory_order_relaxed);
    else if (delta < 0) release_work(-delta);
  }
  void submitter_exiting();
  void with_loop_slow(void (*fn)(void*), void* arg);
  bool with_loop_once(void (*fn)(void*), void* arg);

  bool refill(thread_ctx& t, bool block, const clock::time_point* deadline);
  void drive(thread_ctx& t, bool block, const clock::time_point* deadline);
  void reap(thread_ctx& t);
  void submit_soon(thread_ctx& t);
  void start_all(op_queue& ops);
  void stop_locked();
  void wake_owner_locked();
  void arm_wake_read();
  void release_loop_locked(thread_ctx& t);
  void give_back_borrowed_locked(thread_ctx& b);
  void park_in_flight();
  void restart_parked();
  bool may_own_loop_locked() const noexcept;
  void enter_as(thread_ctx& t, bool may_throw);
  bool take_over_ring(thread_ctx& t);
  void ring_renewed(renewal why);
  void flush_borrowed(thread_ctx& b);
  void destroy_unsubmitted() noexcept;
  static void ring_enabled(void* self);
  void detach_exit_hook() noexcept;
  friend struct thread_ctx;
  friend class run_scope;
  friend class loop_borrow;

  op_queue fork_parked_;        // cancelled by fork_prepare, to start again
  bool fork_prepared_ = false;

  struct renew_hook { renewed_fn fn; void* arg; };
  std::vector<renew_hook> renew_hooks_;  // loop owner only
  void* exit_hook_ = nullptr;  // the submitter thread's exit_hook (guarded by its mutex)
  bool exit_running_ = false;  // submitter_exiting in progress (same mutex)

  // Declared before ring_: the buffers stay mapped until the ring is gone.
  std::unique_ptr<buffer_ring, buffer_ring_deleter> recv_buffers_;
  ring ring_;
  send_zc_state send_zc_{ring_};
  int wake_fd_ = -1;
  std::uint64_t wake_buf_ = 0;
  operation wake_op_;
  bool wake_armed_ = false;     // loop owner only
  std::size_t inflight_ = 0;    // loop owner only
  timer_queue_base* timer_queues_ = nullptr;  // loop owner only

  std::atomic<long> outstanding_work_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> foreign_pending_{false};  // shared_ or foreign_starts_ non-empty

  std::mutex mutex_;
  std::condition_variable idle_cv_;
  op_queue shared_;           // ready handlers for any running thread
  op_queue foreign_starts_;   // operations the loop owner must start
  thread_ctx* loop_owner_ = nullptr;
  int threads_in_run_ = 0;
  int submitter_in_run_ = 0;  // run() calls by a single-issuer ring's submitter
  std::atomic<bool> several_running_{false};  // threads_in_run_ > 1
  int idle_threads_ = 0;
  bool owner_sleeping_ = false;  // the owner is (about to be) blocked in the kernel
  bool wake_sent_ = false;
  bool shutdown_ = false;
  // An exiting submitter waiting for the loop (submitter_exiting), and the
  // count of ring take-overs it watches.
  std::condition_variable loop_free_cv_;
  int exit_waiters_ = 0;
  unsigned takeovers_ = 0;
};

} // namespace asio_uring::detail
