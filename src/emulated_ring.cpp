// The emulated ring's SQ consumption, waiting lists, cancellation, linked
// timeouts and CQ. The system calls themselves are in emulated_io.cpp.
#include "emulated_ring.hpp"

#include <asio_uring/detail/ring.hpp>

#include <boost/system/system_error.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>

namespace asio_uring::detail {

namespace {

using clock = std::chrono::steady_clock;

// `now + ts`, saturated: a far-future deadline (a timer at time_point::max)
// must not wrap around into the past.
clock::time_point after(clock::time_point now, const __kernel_timespec& ts) noexcept
{
  constexpr long long max_sec = 100LL * 365 * 24 * 3600;
  if (ts.tv_sec >= max_sec) return clock::time_point::max();
  return now + std::chrono::duration_cast<clock::duration>(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

// Registered once per descriptor, edge-triggered: no epoll_ctl per request.
constexpr unsigned registered_events = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET;

constexpr unsigned read_events = EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLERR | EPOLLHUP;
constexpr unsigned write_events = EPOLLOUT | EPOLLERR | EPOLLHUP;

} // namespace

emulated_ring::emulated_ring(io_uring& r, unsigned sq_entries, unsigned cq_entries)
  : sq_mask_(sq_entries - 1), sq_entries_(sq_entries), cq_mask_(cq_entries - 1), cq_entries_(cq_entries),
    sqes_(new io_uring_sqe[sq_entries]()), cqes_(new io_uring_cqe[cq_entries]()), ring_(r)
{
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0)
  {
    const int err = errno;
    throw boost::system::system_error(boost::system::error_code(err, boost::system::system_category()),
        std::string("asio_uring::io_context: the emulated ring's epoll_create1 failed: ") + ring_setup_hint(err));
  }
  r = io_uring{};
  r.sq.khead = &sq_head_;
  r.sq.ktail = &sq_tail_;
  r.sq.kring_mask = &sq_mask_;
  r.sq.kring_entries = &sq_entries_;
  r.sq.kflags = &sq_flags_;
  r.sq.kdropped = &sq_dropped_;
  r.sq.sqes = sqes_.get();
  r.sq.ring_mask = sq_mask_;
  r.sq.ring_entries = sq_entries_;
  r.cq.khead = &cq_head_;
  r.cq.ktail = &cq_tail_;
  r.cq.kring_mask = &cq_mask_;
  r.cq.kring_entries = &cq_entries_;
  r.cq.kflags = &cq_flags_;
  r.cq.koverflow = &cq_overflow_;
  r.cq.cqes = cqes_.get();
  r.cq.ring_mask = cq_mask_;
  r.cq.ring_entries = cq_entries_;
  r.ring_fd = -1;
  r.enter_ring_fd = -1;
  r.features = IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG;
}

emulated_ring::~emulated_ring()
{
  // Parked requests are copies in pool_: nothing else to release. The
  // scheduler has cancelled and reaped them before it gets here.
  ::close(epoll_fd_);
}

bool emulated_ring::emulates(int opcode) noexcept
{
  switch (opcode)
  {
  case IORING_OP_NOP: case IORING_OP_READV: case IORING_OP_WRITEV: case IORING_OP_FSYNC:
  case IORING_OP_READ_FIXED: case IORING_OP_WRITE_FIXED: case IORING_OP_POLL_ADD:
  case IORING_OP_SENDMSG: case IORING_OP_RECVMSG: case IORING_OP_ACCEPT:
  case IORING_OP_ASYNC_CANCEL: case IORING_OP_LINK_TIMEOUT: case IORING_OP_CONNECT:
  case IORING_OP_READ: case IORING_OP_WRITE: case IORING_OP_SEND: case IORING_OP_RECV:
    return true;
  default:
    return false;
  }
}

int emulated_ring::submit()
{
  // As io_uring_enter runs the kernel's task work: what became ready while
  // requests were parked completes now, not only at the next wait, so a
  // loop that keeps submitting never starves them.
  const int n = consume_sq();
  if (parked_ > 0) get_events();
  return n;
}

int emulated_ring::consume_sq()
{
  // liburing's io_uring_get_sqe advances sqe_tail; *khead is how far we
  // have consumed (io_uring_sq_ready is their difference).
  const unsigned tail = ring_.sq.sqe_tail;
  unsigned head = sq_head_;
  int n = 0;
  while (head != tail)
  {
    const io_uring_sqe& sqe = sqes_[head++ & sq_mask_];
    ++n;
    const io_uring_sqe* link = nullptr;
    // As the kernel does, a link left open at the end of a submission ends there.
    if ((sqe.flags & IOSQE_IO_LINK) && head != tail)
    {
      link = &sqes_[head++ & sq_mask_];
      ++n;
    }
    start(sqe, link);
  }
  sq_head_ = head;
  ring_.sq.sqe_head = head;
  update_flags();
  return n;
}

void emulated_ring::start(const io_uring_sqe& sqe, const io_uring_sqe* link)
{
  // A request's linked SQE must be its LINK_TIMEOUT (the only link the
  // library makes); a bad timeout fails the request as the kernel fails a
  // link whose member does not initialise.
  int link_res = 0;
  clock::time_point deadline{};
  if (link)
  {
    const auto* ts = reinterpret_cast<const __kernel_timespec*>(static_cast<std::uintptr_t>(link->addr));
    if (link->opcode != IORING_OP_LINK_TIMEOUT || (link->timeout_flags & ~IORING_TIMEOUT_ABS)
        || !ts || ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1'000'000'000)
      link_res = -EINVAL;
    else
      deadline = after((link->timeout_flags & IORING_TIMEOUT_ABS) ? clock::time_point() : clock::now(), *ts);
  }

  int res;
  if (link_res)
    res = -ECANCELED;
  else if (sqe.flags & ~(IOSQE_IO_LINK | IOSQE_ASYNC))
    res = -EINVAL;  // fixed files, drain, buffer select, CQE skip: not emulated
  else if (sqe.opcode == IORING_OP_NOP)
    res = 0;
  else if (sqe.opcode == IORING_OP_ASYNC_CANCEL)
    res = cancel(sqe);
  else if (sqe.opcode == IORING_OP_LINK_TIMEOUT || !emulates(sqe.opcode))
    res = -EINVAL;  // a LINK_TIMEOUT here guards nothing
  else if (sqe.fd < 0)
    res = -EBADF;  // poll(2) would ignore it, the kernel does not
  else
  {
    request* r = make_request(sqe);
    // Behind reads (or writes) already waiting on the descriptor: FIFO, and
    // no call that is bound to fail with EAGAIN. Polls consume nothing and
    // fsync never waits for readiness: they are always tried.
    const bool queued = r->on != poll_side && sqe.opcode != IORING_OP_FSYNC
        && static_cast<std::size_t>(sqe.fd) < fds_.size()
        && fds_[static_cast<std::size_t>(sqe.fd)].head[r->on];
    res = queued ? would_block : perform(*r);
    if (res == would_block)
    {
      if (link)
      {
        request* t = make_request(*link);
        t->guarded = r;
        t->deadline = deadline;
        r->timeout = t;
        heap_push(t);
      }
      park(r);
      return;
    }
    free_request(r);
  }
  post(sqe.user_data, res);
  if (link) post(link->user_data, link_res ? link_res : -ECANCELED);
}

emulated_ring::request* emulated_ring::make_request(const io_uring_sqe& sqe)
{
  request* r = free_;
  if (r)
  {
    free_ = r->next;
    *r = request{};
  }
  else
  {
    pool_.push_back(std::make_unique<request>());
    r = pool_.back().get();
  }
  r->sqe = sqe;
  switch (sqe.opcode)
  {
  case IORING_OP_SEND: case IORING_OP_SENDMSG: case IORING_OP_CONNECT:
  case IORING_OP_WRITE: case IORING_OP_WRITEV: case IORING_OP_WRITE_FIXED:
    r->on = write_side;
    break;
  case IORING_OP_POLL_ADD:
    r->on = poll_side;
    break;
  default:
    r->on = read_side;
  }
  r->mode = sqe.off == ~std::uint64_t(0) ? call_mode::nowait : call_mode::positional;
  return r;
}

void emulated_ring::free_request(request* r) noexcept
{
  r->next = free_;
  free_ = r;
}

void emulated_ring::park(request* r)
{
  const auto fd = static_cast<std::size_t>(r->sqe.fd);
  if (fds_.size() <= fd) fds_.resize(fd + 1);
  fd_state& f = fds_[fd];
  if (!f.registered)
  {
    epoll_event ev{};
    ev.events = registered_events;
    ev.data.fd = r->sqe.fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, r->sqe.fd, &ev) == 0 || errno == EEXIST)
      f.registered = true;
    else if (errno == EPERM)
    {
      // Always ready (a regular file read at the file position that missed
      // the page cache): the plain call, now.
      r->mode = call_mode::plain;
      const int res = perform(*r);
      complete(r, res == would_block ? -EAGAIN : res);
      return;
    }
    else
    {
      complete(r, -errno);
      return;
    }
  }
  r->prev = f.tail[r->on];
  r->next = nullptr;
  if (f.tail[r->on]) f.tail[r->on]->next = r;
  else f.head[r->on] = r;
  f.tail[r->on] = r;
  r->all_prev = nullptr;
  r->all_next = all_;
  if (all_) all_->all_prev = r;
  all_ = r;
  ++parked_;
}

void emulated_ring::unpark(request* r) noexcept
{
  fd_state& f = fds_[static_cast<std::size_t>(r->sqe.fd)];
  if (r->prev) r->prev->next = r->next;
  else f.head[r->on] = r->next;
  if (r->next) r->next->prev = r->prev;
  else f.tail[r->on] = r->prev;
  if (r->all_prev) r->all_prev->all_next = r->all_next;
  else all_ = r->all_next;
  if (r->all_next) r->all_next->all_prev = r->all_prev;
  --parked_;
}

// Posts the request's CQE (and its linked timeout's, which the completion
// cancels) and frees it; the request is no longer parked.
void emulated_ring::complete(request* r, int res)
{
  post(r->sqe.user_data, res);
  if (request* t = r->timeout)
  {
    heap_erase(t);
    post(t->sqe.user_data, -ECANCELED);
    free_request(t);
  }
  free_request(r);
}

void emulated_ring::cancel_request(request* r)
{
  unpark(r);
  complete(r, -ECANCELED);
}

// IORING_OP_ASYNC_CANCEL: by user_data, by descriptor, or any; with ALL or
// ANY the count, otherwise 0 or -ENOENT, as the kernel answers. A request
// here is never running, so never -EALREADY.
int emulated_ring::cancel(const io_uring_sqe& sqe)
{
  const unsigned flags = sqe.cancel_flags;
  if (flags & ~(IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ANY)) return -EINVAL;
  const bool all = flags & (IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
  int n = 0;
  if ((flags & IORING_ASYNC_CANCEL_FD) && !(flags & IORING_ASYNC_CANCEL_ANY))
  {
    if (sqe.fd < 0 || static_cast<std::size_t>(sqe.fd) >= fds_.size()) return all ? 0 : -ENOENT;
    fd_state& f = fds_[static_cast<std::size_t>(sqe.fd)];
    for (side s : {read_side, write_side, poll_side})
    {
      while (request* r = f.head[s])
      {
        cancel_request(r);
        ++n;
        if (!all) return 0;
      }
    }
    // The descriptor is about to be closed (or just cancelled): forget it,
    // so a number reused for another file is registered afresh.
    if (f.registered)
    {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, sqe.fd, nullptr);
      f.registered = false;
    }
  }
  else
  {
    for (request* r = all_; r;)
    {
      request* next = r->all_next;
      if ((flags & IORING_ASYNC_CANCEL_ANY) || r->sqe.user_data == sqe.addr)
      {
        cancel_request(r);
        ++n;
        if (!all) break;
      }
      r = next;
    }
  }
  return all ? n : (n ? 0 : -ENOENT);
}

void emulated_ring::on_ready(int fd, unsigned events)
{
  fd_state& f = fds_[static_cast<std::size_t>(fd)];
  if (events & read_events) run_side(f, read_side);
  if (events & write_events) run_side(f, write_side);
  for (request* r = f.head[poll_side]; r;)
  {
    request* next = r->next;
    if (unsigned m = events & poll_result_mask(r->sqe.poll32_events))
    {
      unpark(r);
      complete(r, static_cast<int>(m));
    }
    r = next;
  }
}

// Runs the side's waiting requests in order until one would block again
// (the next edge will resume it).
void emulated_ring::run_side(fd_state& f, side s)
{
  while (request* r = f.head[s])
  {
    const int res = perform(*r);
    if (res == would_block) return;
    unpark(r);
    complete(r, res);
  }
}

// One epoll_wait (bounded by `ts`, null: no limit) and the requests it made
// ready. 0 or -errno.
int emulated_ring::process_events(const timespec* ts)
{
  epoll_event events[128];
  int n;
  if (have_pwait2_)
  {
    n = ::epoll_pwait2(epoll_fd_, events, 128, ts, nullptr);
    if (n < 0 && errno == ENOSYS) have_pwait2_ = false;  // before Linux 5.11, or a filter
  }
  if (!have_pwait2_)
  {
    int ms = -1;
    if (ts) ms = static_cast<int>(std::min<long long>(INT_MAX, ts->tv_sec * 1000LL + (ts->tv_nsec + 999'999) / 1'000'000));
    n = ::epoll_wait(epoll_fd_, events, 128, ms);
  }
  if (n < 0) return -errno;
  for (int i = 0; i < n; ++i) on_ready(events[i].data.fd, events[i].events);
  return 0;
}

int emulated_ring::submit_and_wait(const __kernel_timespec* ts)
{
  consume_sq();
  clock::time_point until = clock::time_point::max();
  if (ts) until = after(clock::now(), *ts);
  int ret = 0;
  for (;;)
  {
    flush_overflow();
    if (cq_ready() > 0) break;
    const clock::time_point now = clock::now();
    if (now >= until)
    {
      ret = -ETIME;
      break;
    }
    clock::time_point wake = until;
    if (!heap_.empty() && heap_[0]->deadline < wake) wake = heap_[0]->deadline;
    timespec left{};
    if (wake != clock::time_point::max())
    {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(wake - now, clock::duration::zero())).count();
      left.tv_sec = ns / 1'000'000'000;
      left.tv_nsec = ns % 1'000'000'000;
    }
    const int r = process_events(wake == clock::time_point::max() ? nullptr : &left);
    expire_timeouts();
    if (r < 0)
    {
      ret = r;  // -EINTR: a signal; the caller loops
      break;
    }
  }
  update_flags();
  return ret;
}

int emulated_ring::get_events()
{
  int ret = 0;
  if (parked_ > 0)
  {
    const timespec zero{};
    ret = process_events(&zero);
    expire_timeouts();
  }
  flush_overflow();
  update_flags();
  return ret;
}

// Linked timeouts that are due: the guarded request completes with
// -ECANCELED, then the timeout with -ETIME, as in the kernel.
void emulated_ring::expire_timeouts()
{
  if (heap_.empty()) return;
  const clock::time_point now = clock::now();
  while (!heap_.empty() && heap_[0]->deadline <= now)
  {
    request* t = heap_[0];
    heap_erase(t);
    request* r = t->guarded;
    r->timeout = nullptr;
    unpark(r);
    complete(r, -ECANCELED);
    post(t->sqe.user_data, -ETIME);
    free_request(t);
  }
}

void emulated_ring::post(std::uint64_t user_data, int res)
{
  if (overflow_.empty() && cq_tail_ - cq_head_ < cq_entries_)
  {
    cqes_[cq_tail_ & cq_mask_] = io_uring_cqe{user_data, res, 0};
    io_uring_smp_store_release(&cq_tail_, cq_tail_ + 1);
    return;
  }
  // Full: kept in order until the CQ has room (the kernel's NODROP).
  overflow_.push_back(io_uring_cqe{user_data, res, 0});
}

void emulated_ring::flush_overflow() noexcept
{
  while (!overflow_.empty() && cq_tail_ - cq_head_ < cq_entries_)
  {
    cqes_[cq_tail_ & cq_mask_] = overflow_.front();
    io_uring_smp_store_release(&cq_tail_, cq_tail_ + 1);
    overflow_.pop_front();
  }
}

// The SQ flags the scheduler reads (ring::cq_needs_flush): an overflowed
// CQ, or parked requests whose readiness only an epoll_wait can tell.
void emulated_ring::update_flags() noexcept
{
  sq_flags_ = (overflow_.empty() ? 0u : unsigned(IORING_SQ_CQ_OVERFLOW)) | (parked_ ? unsigned(IORING_SQ_TASKRUN) : 0u);
}

int emulated_ring::register_buffers(const iovec* iov, unsigned n)
{
  if (!buffers_.empty()) return -EBUSY;
  if (n == 0) return -EINVAL;
  for (unsigned i = 0; i < n; ++i)
    if (!iov[i].iov_base && iov[i].iov_len) return -EFAULT;
  buffers_.assign(iov, iov + n);
  return 0;
}

int emulated_ring::unregister_buffers()
{
  if (buffers_.empty()) return -ENXIO;
  buffers_.clear();
  return 0;
}

// --- the deadline heap ---

void emulated_ring::heap_push(request* r)
{
  r->heap_index = heap_.size();
  heap_.push_back(r);
  heap_up(r->heap_index);
}

void emulated_ring::heap_erase(request* r) noexcept
{
  const std::size_t i = r->heap_index;
  const std::size_t last = heap_.size() - 1;
  if (i != last)
  {
    heap_swap(i, last);
    heap_.pop_back();
    heap_up(i);
    heap_down(i);
  }
  else
    heap_.pop_back();
}

void emulated_ring::heap_swap(std::size_t a, std::size_t b) noexcept
{
  std::swap(heap_[a], heap_[b]);
  heap_[a]->heap_index = a;
  heap_[b]->heap_index = b;
}

void emulated_ring::heap_up(std::size_t i) noexcept
{
  while (i > 0 && heap_[i]->deadline < heap_[(i - 1) / 2]->deadline)
  {
    heap_swap(i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

void emulated_ring::heap_down(std::size_t i) noexcept
{
  for (;;)
  {
    std::size_t least = i;
    const std::size_t l = 2 * i + 1, r = l + 1;
    if (l < heap_.size() && heap_[l]->deadline < heap_[least]->deadline) least = l;
    if (r < heap_.size() && heap_[r]->deadline < heap_[least]->deadline) least = r;
    if (least == i) return;
    heap_swap(i, least);
    i = least;
  }
}

} // namespace asio_uring::detail
