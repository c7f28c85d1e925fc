#include <asio_uring/detail/signal_service.hpp>
#include <asio_uring/io_context.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>

namespace asio_uring::detail {

namespace {

constexpr int max_pipes = 64;

// Process-wide: the pipes the handler writes to, and how many sets in the
// process want each signal (the handler is installed while any does).
struct signal_registry
{
  std::mutex mutex;
  std::atomic<int> pipes[max_pipes];
  int users[max_signal] = {};
  struct sigaction previous[max_signal];

  signal_registry()
  {
    for (auto& p : pipes) p.store(-1, std::memory_order_relaxed);
  }
};

signal_registry& registry()
{
  static signal_registry r;
  return r;
}

extern "C" void asio_uring_signal_handler(int signo)
{
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(signo);
  for (auto& p : registry().pipes)
  {
    int fd = p.load(std::memory_order_acquire);
    if (fd >= 0) [[maybe_unused]] ssize_t n = ::write(fd, &b, 1);
  }
  errno = saved;
}

boost::system::error_code errno_code(int e)
{
  return {e, boost::system::system_category()};
}

} // namespace

signal_service::signal_service(boost::asio::execution_context& ctx)
  : boost::asio::detail::execution_context_service_base<signal_service>(ctx),
    sched_(static_cast<io_context&>(ctx).impl()), read_op_(this)
{
  read_op_.set_internal();
  if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0)
    throw boost::system::system_error(errno_code(errno), "asio_uring::signal_set: pipe2");
  auto& r = registry();
  std::lock_guard lk(r.mutex);
  for (int i = 0; i < max_pipes; ++i)
  {
    if (r.pipes[i].load(std::memory_order_relaxed) < 0)
    {
      r.pipes[i].store(pipe_[1], std::memory_order_release);
      slot_ = i;
      break;
    }
  }
  if (slot_ < 0)
  {
    ::close(pipe_[0]);
    ::close(pipe_[1]);
    throw boost::system::system_error(errno_code(EMFILE),
        "asio_uring::signal_set: more than 64 contexts with signal sets");
  }
  sched_.with_loop([this] { sched_.add_ring_renewed_hook(&on_ring_renewed, this); });
}

void signal_service::on_ring_renewed(void* self, scheduler::renewal why)
{
  auto* s = static_cast<signal_service*>(self);
  if (why == scheduler::renewal::thread_change && s->sets_) s->arm_read();
}

signal_service::~signal_service()
{
  sched_.remove_ring_renewed_hook(&on_ring_renewed, this);  // the loop is shut down: nobody runs it
  {
    auto& r = registry();
    std::lock_guard lk(r.mutex);
    r.pipes[slot_].store(-1, std::memory_order_release);
  }
  // The scheduler has been shut down: the pipe read is no longer in flight.
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

void signal_service::notify_fork(boost::asio::execution_context::fork_event e)
{
  if (e == boost::asio::execution_context::fork_prepare) return;
  if (e == boost::asio::execution_context::fork_child)
  {
    int fresh[2];
    if (::pipe2(fresh, O_CLOEXEC | O_NONBLOCK) != 0)
      throw boost::system::system_error(errno_code(errno), "asio_uring::signal_set: pipe2");
    registry().pipes[slot_].store(fresh[1], std::memory_order_release);
    ::close(pipe_[0]);
    ::close(pipe_[1]);
    pipe_[0] = fresh[0];
    pipe_[1] = fresh[1];
    read_armed_ = false;  // the old read belongs to the parent's ring
  }
  sched_.with_loop([this] { if (sets_) arm_read(); });
}

void signal_service::arm_read()
{
  if (read_armed_) return;
  io_uring_sqe* sqe = sched_.get_sqe();
  io_uring_prep_read(sqe, pipe_[0], buf_, sizeof buf_, 0);
  io_uring_sqe_set_data64(sqe, read_op_.user_data());
  sched_.op_submitted();
  read_armed_ = true;
}

void signal_service::on_read(scheduler* owner, operation* op, int res, unsigned)
{
  auto* self = static_cast<read_op*>(op)->self;
  self->read_armed_ = false;
  if (!owner || res == -ECANCELED) return;
  for (int i = 0; i < res; ++i) self->deliver(self->buf_[i]);
  if (self->sets_) self->arm_read();
}

void signal_service::deliver(int signo)
{
  if (signo <= 0 || signo >= max_signal) return;
  for (signal_set_state* s = sets_; s; s = s->next)
  {
    if (!s->registered[signo]) continue;
    if (operation* op = s->waiters.pop())
    {
      op->set_result(signo, 0);
      sched_.push_ready(op);
    }
    else
    {
      ++s->pending[signo];
    }
  }
}

void signal_service::add_set(signal_set_state& s)
{
  sched_.with_loop([&] {
    s.next = sets_;
    sets_ = &s;
    arm_read();
  });
}

void signal_service::remove_set(signal_set_state& s)
{
  clear(s);
  sched_.with_loop([&] {
    cancel(s);
    for (signal_set_state** p = &sets_; *p; p = &(*p)->next)
    {
      if (*p == &s)
      {
        *p = s.next;
        break;
      }
    }
    if (!sets_ && read_armed_) sched_.cancel_in_flight(&read_op_);
  });
}

boost::system::error_code signal_service::add(signal_set_state& s, int signo)
{
  if (signo <= 0 || signo >= max_signal || signo == SIGKILL || signo == SIGSTOP)
    return boost::asio::error::invalid_argument;
  // Never hold the registry lock while waiting for the loop (with_loop).
  bool already = false;
  sched_.with_loop([&] { already = s.registered[signo]; });
  if (already) return {};
  {
    auto& r = registry();
    std::lock_guard lk(r.mutex);
    if (r.users[signo] == 0)
    {
      struct sigaction sa {};
      sa.sa_handler = &asio_uring_signal_handler;
      sigfillset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      if (::sigaction(signo, &sa, &r.previous[signo]) != 0) return errno_code(errno);
    }
    ++r.users[signo];
  }
  sched_.with_loop([&] { s.registered[signo] = true; });
  return {};
}

boost::system::error_code signal_service::remove(signal_set_state& s, int signo)
{
  if (signo <= 0 || signo >= max_signal) return boost::asio::error::invalid_argument;
  bool was = false;
  sched_.with_loop([&] {
    was = s.registered[signo];
    s.registered[signo] = false;
    s.pending[signo] = 0;
  });
  if (!was) return {};
  auto& r = registry();
  std::lock_guard lk(r.mutex);
  if (--r.users[signo] == 0 && ::sigaction(signo, &r.previous[signo], nullptr) != 0)
    return errno_code(errno);
  return {};
}

void signal_service::clear(signal_set_state& s)
{
  bool registered[max_signal];
  sched_.with_loop([&] { std::copy(s.registered, s.registered + max_signal, registered); });
  for (int signo = 1; signo < max_signal; ++signo)
    if (registered[signo]) remove(s, signo);
}

void signal_service::cancel(signal_set_state& s)
{
  while (operation* op = s.waiters.pop())
  {
    op->set_result(-ECANCELED, 0);
    sched_.push_ready(op);
  }
}

void signal_service::start_wait(signal_set_state& s, operation* op)
{
  for (int signo = 1; signo < max_signal; ++signo)
  {
    if (s.pending[signo] > 0)
    {
      --s.pending[signo];
      op->set_result(signo, 0);
      sched_.push_ready(op);
      return;
    }
  }
  s.waiters.push(op);
}

} // namespace asio_uring::detail
