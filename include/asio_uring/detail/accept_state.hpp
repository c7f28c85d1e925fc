// Multishot accept (doc/design.md, "Multishot accept"): the state one
// acceptor keeps while one IORING_ACCEPT_MULTISHOT request serves its
// async_accepts, and the operation behind every async_accept.
#pragma once

#include <asio_uring/detail/uring_op.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution_context.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <utility>

namespace asio_uring::detail {

// Per context: the kernel answered a multishot accept with EINVAL on a
// listening socket (it lacks IORING_ACCEPT_MULTISHOT); every acceptor of
// the context then accepts single-shot.
class accept_support : public boost::asio::detail::execution_context_service_base<accept_support>
{
public:
  explicit accept_support(boost::asio::execution_context& ctx)
    : boost::asio::detail::execution_context_service_base<accept_support>(ctx) {}
  void shutdown() override {}
  std::atomic<bool> multishot_refused{false};
};

// Accepted descriptors not yet handed out: a ring that grows only when
// connections accepted while the multishot is being cancelled overrun it.
class fd_queue
{
public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  void push(int fd)
  {
    if (size_ == cap_) grow();
    buf_[(head_ + size_) & (cap_ - 1)] = fd;
    ++size_;
  }
  int pop() noexcept
  {
    int fd = buf_[head_];
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    return fd;
  }
  void reserve(std::size_t n) { while (cap_ < n) grow(); }

private:
  void grow()
  {
    std::size_t cap = cap_ ? cap_ * 2 : 16;
    auto buf = std::make_unique<int[]>(cap);
    for (std::size_t i = 0; i < size_; ++i) buf[i] = buf_[(head_ + i) & (cap_ - 1)];
    buf_ = std::move(buf);
    cap_ = cap;
    head_ = 0;
  }
  std::unique_ptr<int[]> buf_;
  std::size_t cap_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

// An async_accept's operation as the state sees it.
class accept_wait : public operation
{
public:
  using operation::operation;
  // The descriptor came from the multishot request, which gives no address.
  bool from_multishot = false;
};

// Reference counted: by the acceptor, by the multishot request while it is
// in the kernel (or its restart is queued), and by each connected
// cancellation slot. Everything but the count is the loop owner's.
class accept_state
{
public:
  accept_state(scheduler& s, int fd, unsigned backlog, std::atomic<bool>& refused)
    : s_(s), fd_(fd), backlog_(backlog ? backlog : 1), refused_(refused)
  {
    request_.self = this;
    request_.set_internal();
    queue_.reserve(backlog_);
  }
  accept_state(const accept_state&) = delete;
  accept_state& operator=(const accept_state&) = delete;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept
  {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  bool refused() const noexcept { return refused_.load(std::memory_order_relaxed); }

  // An async_accept to serve: a queued connection or a stored error at once
  // (through the ready queue, never inside the initiating call), else it
  // waits for the request's next connection.
  void add(accept_wait* op)
  {
    if (closed_) return complete(op, -ECANCELED);
    if (!queue_.empty())
    {
      op->from_multishot = true;
      complete(op, queue_.pop());
    }
    else if (pending_error_)
    {
      // Delivered once; the request is armed again by the next async_accept.
      complete(op, std::exchange(pending_error_, 0));
      return;
    }
    else
      waiters_.push(op);
    wanted_ = true;
    maybe_arm();
  }

  // A synchronous accept: a queued descriptor, a stored error (-errno), or
  // operation::start_marker when there is neither.
  int take()
  {
    if (!queue_.empty())
    {
      int fd = queue_.pop();
      maybe_arm();
      return fd;
    }
    if (pending_error_) return std::exchange(pending_error_, 0);
    return operation::start_marker;
  }

  // The cancellation slot of one async_accept: true if it was waiting here.
  bool cancel_one(operation* op)
  {
    if (!waiters_.erase(op)) return false;
    complete(static_cast<accept_wait*>(op), -ECANCELED);
    return true;
  }

  // acceptor.cancel(): waiting accepts are aborted, the request is
  // cancelled (armed again by the next async_accept), queued connections
  // stay for the next accepts.
  void cancel()
  {
    abort_waiters();
    wanted_ = false;
    stop_request();
  }

  // close(), release(), destruction: also closes every queued connection.
  // The caller submits before it closes the listening descriptor (the
  // descriptor's cancel_fd does), so the request ends first.
  void close()
  {
    closed_ = true;
    cancel();
    while (!queue_.empty()) ::close(queue_.pop());
    pending_error_ = 0;
  }

  // Diagnostics: accept requests submitted (multishot arms, and single-shot
  // ones after the kernel refused multishot).
  std::size_t requests() const noexcept { return requests_; }
  void count_single() noexcept { ++requests_; }
  std::size_t queued() const noexcept { return queue_.size(); }
  bool armed() const noexcept { return armed_; }

private:
  struct request_op : operation
  {
    request_op() : operation(&on_cqe) {}
    accept_state* self = nullptr;
  };

  void complete(accept_wait* op, int res)
  {
    op->set_result(res, 0);
    s_.push_ready(op);
  }

  void abort_waiters()
  {
    while (operation* op = waiters_.pop()) complete(static_cast<accept_wait*>(op), -ECANCELED);
  }

  void stop_request()
  {
    if (!armed_ || cancelling_) return;
    cancelling_ = true;
    s_.cancel_in_flight(&request_);
  }

  // Armed while somebody keeps accepting, no error waits to be delivered
  // and the queue has drained to half (no cancel/arm cycle per connection
  // when the user is slower than the clients).
  void maybe_arm()
  {
    if (armed_ || restarting_ || closed_ || !wanted_ || pending_error_ || refused()
        || queue_.size() > backlog_ / 2)
      return;
    io_uring_sqe* sqe = s_.get_sqe();
    io_uring_prep_multishot_accept(sqe, fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, request_.user_data());
    s_.op_submitted();
    armed_ = true;
    first_cqe_ = true;
    ++requests_;
    add_ref();
  }

  void deliver_fd(int fd, bool more)
  {
    if (closed_)
    {
      ::close(fd);
      return;
    }
    if (operation* w = waiters_.pop())
    {
      static_cast<accept_wait*>(w)->from_multishot = true;
      complete(static_cast<accept_wait*>(w), fd);
      return;
    }
    queue_.push(fd);
    // Full: the kernel keeps further connections in the listen backlog.
    if (more && queue_.size() >= backlog_) stop_request();
  }

  void deliver_error(int res)
  {
    if (closed_) return;
    if (operation* w = waiters_.pop()) complete(static_cast<accept_wait*>(w), res);
    else if (!pending_error_) pending_error_ = res;
  }

  // EINVAL on the first CQE: the kernel lacks multishot accept, unless the
  // socket is simply not listening (which single-shot accepts report too).
  bool kernel_refused(int res) const noexcept
  {
    if (res != -EINVAL) return false;
    int listening = 0;
    socklen_t len = sizeof listening;
    return ::getsockopt(fd_, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
  }

  void fall_back()
  {
    refused_.store(true, std::memory_order_relaxed);
    // The waiting accepts become single-shot requests (see accept_op::start).
    op_queue waiting(std::move(waiters_));
    while (operation* op = waiting.pop())
    {
      op->mark_start();
      op->complete(s_);
    }
  }

  void on_request_cqe(int res, unsigned flags)
  {
    const bool more = flags & IORING_CQE_F_MORE;
    const bool first = std::exchange(first_cqe_, false);
    if (res >= 0) deliver_fd(res, more);
    else if (more) deliver_error(res);
    if (more) return;

    armed_ = false;
    const bool asked = std::exchange(cancelling_, false);
    if (res < 0 && first && kernel_refused(res))
      fall_back();
    else if (res == -ECANCELED && !asked)
    {
      // Somebody else's cancel: fork's (start again on the ring it leaves
      // us) or the context's shutdown (which destroys the restart instead).
      restarting_ = true;
      s_.defer_start(&request_);
      return;  // the restart keeps the request's reference
    }
    else if (res < 0 && res != -ECANCELED)
    {
      deliver_error(res);
      wanted_ = !waiters_.empty();
    }
    maybe_arm();
    release();
  }

  // The context is shut down: waiting accepts are destroyed unrun, queued
  // connections closed.
  void on_shutdown()
  {
    closed_ = true;
    while (!queue_.empty()) ::close(queue_.pop());
    op_queue doomed(std::move(waiters_));
    doomed.destroy_all();  // may destroy the acceptor: we still hold a reference
    release();
  }

  static void on_cqe(scheduler* owner, operation* op, int res, unsigned flags)
  {
    accept_state* self = static_cast<request_op*>(op)->self;
    if (!owner) return self->on_shutdown();
    if (res == operation::start_marker)
    {
      self->restarting_ = false;
      self->maybe_arm();
      self->release();
      return;
    }
    self->on_request_cqe(res, flags);
  }

  scheduler& s_;
  int fd_;
  std::size_t backlog_;
  std::atomic<bool>& refused_;
  std::atomic<int> refs_{1};
  request_op request_;
  op_queue waiters_;
  fd_queue queue_;
  int pending_error_ = 0;
  std::size_t requests_ = 0;
  bool armed_ = false;       // the request is in the kernel
  bool cancelling_ = false;  // we asked the kernel to end it
  bool restarting_ = false;  // a restart is queued with the scheduler
  bool wanted_ = false;      // the user keeps accepting
  bool closed_ = false;
  bool first_cqe_ = false;
};

// The cancellation slot's handler for one async_accept.
struct accept_cancel
{
  accept_cancel(scheduler& s, accept_state* st, operation* o) noexcept : sched(&s), state(st), op(o)
  {
    if (state) state->add_ref();
  }
  accept_cancel(const accept_cancel&) = delete;
  accept_cancel& operator=(const accept_cancel&) = delete;
  ~accept_cancel()
  {
    if (state) state->release();
  }
  void operator()(boost::asio::cancellation_type_t type)
  {
    using ct = boost::asio::cancellation_type;
    if ((type & (ct::terminal | ct::partial | ct::total)) == ct::none) return;
    sched->with_loop([this] {
      if (!state || !state->cancel_one(op)) sched->cancel_in_flight(op);
    });
  }
  scheduler* sched;
  accept_state* state;
  operation* op;
};

// One async_accept: waits in the acceptor's multishot state when it has
// one, else is its own IORING_OP_ACCEPT (the first accept of an acceptor,
// the emulated engine, multishot off or refused). `Kind` is an accept kind
// (basic_socket_acceptor.hpp): prep, result, discard, addr/len, peer_ep.
template <typename Handler, typename IoExecutor, typename Kind>
class accept_op : public accept_wait, public Kind
{
public:
  accept_op(Handler&& h, const IoExecutor& ex, scheduler& s, accept_state* st, Kind&& k)
    : accept_wait(&do_complete), Kind(std::move(k)), state_(st), handler_(std::move(h)),
      work_(handler_, ex, s)
  {
  }

  // Completes with `early_res` (never inside this call) when that is not
  // start_marker.
  static void launch(Handler& h, const IoExecutor& ex, scheduler& s, accept_state* st,
      int early_res, Kind&& kind)
  {
    auto* o = op_allocator<Handler>::template create<accept_op>(h, ex, s, st, std::move(kind));
    s.work_started();
    if (early_res != start_marker)
    {
      o->set_result(early_res, 0);
      s.post_deferred(o);
      return;
    }
    auto slot = boost::asio::get_associated_cancellation_slot(o->handler_);
    if (slot.is_connected()) slot.template emplace<accept_cancel>(s, st, o);
    // The acceptor's close() reaches the loop after this start (both go
    // through the loop owner in order), so `st` is alive when it runs.
    if (s.loop_owner_here()) o->start(s);
    else s.defer_start(o);
  }

private:
  void start(scheduler& s)
  {
    if (state_)
    {
      if (!state_->refused()) return state_->add(this);
      state_->count_single();
    }
    io_uring_sqe* sqe = s.get_sqe();
    this->Kind::prep(sqe);
    io_uring_sqe_set_data64(sqe, this->user_data());
    s.op_submitted();
  }

  static void do_complete(scheduler* owner, operation* base, int res, unsigned)
  {
    auto* o = static_cast<accept_op*>(base);
    if (owner && res == start_marker)
    {
      o->start(*owner);
      return;
    }
    clear_slot(o->handler_);
    if (!owner)
    {
      if (res != start_marker) o->Kind::discard(res);
      destroy_op(o, o->handler_);
      return;
    }
    // Multishot accept gives no address: a getpeername for an overload that
    // asks for the peer's endpoint (see basic_socket_acceptor::launch_accept).
    if (res >= 0 && o->from_multishot && o->Kind::peer_ep)
    {
      o->Kind::len = sizeof o->Kind::addr;
      if (::getpeername(res, reinterpret_cast<sockaddr*>(&o->Kind::addr), &o->Kind::len) != 0)
        o->Kind::len = 0;
    }
    finish_op(o, o->handler_, o->work_, o->Kind::result(res));
  }

  accept_state* state_;
  Handler handler_;
  handler_work<Handler, IoExecutor> work_;
};

} // namespace asio_uring::detail
