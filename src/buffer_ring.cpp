// The provided buffer ring and the multishot receive state machine
// (include/asio_uring/detail/buffer_ring.hpp).
#include <asio_uring/detail/buffer_ring.hpp>
#include <asio_uring/detail/scheduler.hpp>

#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>

namespace asio_uring::detail {

namespace {

constexpr unsigned max_buffers = 32768;  // the kernel's limit on ring entries

unsigned round_up_pow2(unsigned n) noexcept
{
  unsigned p = 1;
  while (p < n) p <<= 1;
  return p;
}

std::size_t page_round(std::size_t n) noexcept
{
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

} // namespace

// --- buffer_ring ---------------------------------------------------------------

buffer_ring::buffer_ring(ring& r, bool kernel)
  : ring_(r),
    count_(std::clamp(r.options().recv_buffers, 1u, max_buffers)),
    size_(std::max(r.options().recv_buffer_size, 1u)),
    entries_(round_up_pow2(count_)), mask_(entries_ - 1)
{
  // One private anonymous mapping: the ring's entries (page aligned, as the
  // kernel requires), then the buffers. Private, so a forked child has its
  // own copy to register with its own ring.
  ring_bytes_ = page_round(entries_ * sizeof(io_uring_buf));
  map_bytes_ = ring_bytes_ + page_round(std::size_t(count_) * size_);
  map_ = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map_ == MAP_FAILED)
  {
    map_ = nullptr;
    throw std::bad_alloc();
  }
  br_ = static_cast<io_uring_buf_ring*>(map_);
  bufs_ = static_cast<char*>(map_) + ring_bytes_;
  next_.reset(new std::uint16_t[count_]);
  len_.reset(new std::uint32_t[count_]());
  held_flag_.reset(new std::uint8_t[count_]());
  free_.reset(new std::uint16_t[count_]);
  nfree_ = count_ - std::min(count_, initial_circulation);  // register_ring: what circulates
  if (kernel && register_ring()) return;
  for (unsigned i = 0; i < count_; ++i) free_[i] = static_cast<std::uint16_t>(count_ - 1 - i);
  nfree_ = count_;
}

buffer_ring::~buffer_ring()
{
  assert(handles == 0 && "asio_uring::provided_buffer outlived its io_context");
  // The ring is already gone (it is declared after us in the scheduler), and
  // with it the registration.
  if (map_) ::munmap(map_, map_bytes_);
}

// Puts the circulating buffers not held by a socket or a handle into the
// ring, the others in reserve, and registers it (at a renewal the kernel's
// head starts again at 0).
bool buffer_ring::register_ring()
{
  io_uring_buf_ring_init(br_);
  tail_ = 0;
  const int mask = io_uring_buf_ring_mask(entries_);
  const unsigned circ = count_ - nfree_;
  const unsigned publish = circ > held_ ? circ - held_ : 0;
  unsigned n = 0;
  nfree_ = 0;
  for (unsigned bid = count_; bid-- > 0;)
  {
    if (held_flag_[bid]) continue;
    if (n < publish) io_uring_buf_ring_add(br_, data(bid), size_, static_cast<unsigned short>(bid), mask, static_cast<int>(n++));
    else free_[nfree_++] = static_cast<std::uint16_t>(bid);
  }
  tail_ = static_cast<std::uint16_t>(n);
  io_uring_buf_ring_advance(br_, static_cast<int>(n));

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(br_);
  reg.ring_entries = entries_;
  reg.bgid = group();
  // EINVAL/ENOSYS on kernels before 5.19; any failure: no buffer ring.
  registered_ = io_uring_register_buf_ring(ring_.get(), &reg, 0) == 0;
  registered_fd_ = registered_ ? ring_.get()->ring_fd : -1;
  return registered_;
}

bool buffer_ring::ensure_current()
{
  if (!registered_) return false;
  if (registered_fd_ == ring_.get()->ring_fd) [[likely]] return true;
  if (register_ring()) return true;
  // Keep the buffers usable as a pool for async_receive_provided.
  nfree_ = 0;
  for (unsigned bid = 0; bid < count_; ++bid)
    if (!held_flag_[bid]) free_[nfree_++] = static_cast<std::uint16_t>(bid);
  return false;
}

// Registered mode: half as many again as circulate (at least 16) from the
// reserve into the ring, the tail published once.
void buffer_ring::grow() noexcept
{
  if (!registered_) return;
  const unsigned n = std::min(nfree_, std::max((count_ - nfree_) / 2, 16u));
  for (unsigned i = 0; i < n; ++i)
  {
    const unsigned bid = free_[--nfree_];
    io_uring_buf& b = br_->bufs[(tail_ + i) & mask_];
    b.addr = reinterpret_cast<std::uintptr_t>(data(bid));
    b.len = size_;
    b.bid = static_cast<std::uint16_t>(bid);
  }
  tail_ = static_cast<std::uint16_t>(tail_ + n);
  __atomic_store_n(&br_->tail, tail_, __ATOMIC_RELEASE);
}

bool buffer_ring::grow_after_nobufs() noexcept
{
  if (!registered_ || nfree_ == 0) return false;
  if (grown_at_ != stats.multishot_requests)
  {
    grown_at_ = stats.multishot_requests;
    grow();
  }
  return true;
}

int buffer_ring::take() noexcept
{
  if (nfree_ == 0) return -1;
  unsigned bid = free_[--nfree_];
  held_flag_[bid] = 1;
  ++held_;
  return static_cast<int>(bid);
}

void buffer_ring::give_back(unsigned bid) noexcept
{
  assert(held_flag_[bid]);
  held_flag_[bid] = 0;
  --held_;
  if (!registered_)
  {
    free_[nfree_++] = static_cast<std::uint16_t>(bid);
    return;
  }
  recycle(bid);
}

void buffer_ring_deleter::operator()(buffer_ring* b) const noexcept { delete b; }

buffer_ring& scheduler::recv_buffers()
{
  if (!recv_buffers_) [[unlikely]]
  {
    const bool kernel = ring_.engine() == engine_kind::io_uring && ring_.options().multishot_recv
        && ring_.supports(IORING_OP_RECV);
    recv_buffers_.reset(new buffer_ring(ring_, kernel));
  }
  return *recv_buffers_;
}

void scheduler::poll_completions()
{
  ring_.submit();
  ring_.get_events();
  reap(*tl_thread_ctx);
}

// --- recv_state ---------------------------------------------------------------

recv_state::recv_state(scheduler& s, buffer_ring& br, int fd) noexcept
  : sched_(s), br_(br), fd_(fd), ms_op_(&on_cqe, this),
    // A slow reader holds at most a quarter of the ring (and 16 buffers):
    // beyond that the data waits in the kernel's socket buffer.
    limit_(std::clamp(br.count() / 4, 1u, 16u))
{
  ms_op_.set_internal();
}

recv_state* recv_state::create(scheduler& s, int fd)
{
  buffer_ring& br = s.recv_buffers();
  // Registered but without multishot: the state serves single-shot reads
  // (buffer select for async_receive_provided).
  if (!br.registered()) return nullptr;
  return new recv_state(s, br, fd);
}

void recv_state::close(recv_state* st) noexcept
{
  st->abort_waiting();
  st->release_all();
  st->end_ = no_end;
  if (st->armed_)
  {
    if (!st->cancel_sent_)
    {
      io_uring_sqe* sqe = st->sched_.get_sqe();
      io_uring_prep_cancel64(sqe, st->ms_op_.user_data(), 0);
      io_uring_sqe_set_data64(sqe, 0);
      st->cancel_sent_ = true;
    }
    st->sched_.get_ring().submit();
  }
  // A single-shot read in flight is cancelled with the descriptor's requests.
  st->orphan_ = true;
  st->maybe_delete();
}

bool recv_state::maybe_delete() noexcept
{
  if (!orphan_ || armed_ || singles_ > 0 || restarts_ > 0) return false;
  delete this;
  return true;
}

void recv_state::restart(recv_reader* r)
{
  --restarts_;
  if (orphan_)
  {
    deliver(r, -ECANCELED);
    maybe_delete();
    return;
  }
  start(r);
}

void recv_state::start_slow(recv_reader* r)
{
  if (count_ > 0 || end_ != no_end)
  {
    deliver(r, 0);
    return;
  }
  if (armed_)
  {
    // Reads at once on one stream wait in the order they came.
    waiting_.push(r);
    return;
  }
  // After -ENOBUFS: single-shot reads until half the ring is free again.
  if (nobufs_ && br_.free_count() >= (br_.count() + 1) / 2) nobufs_ = false;
  // With single-shot reads in flight a multishot would race them for data.
  if (!nobufs_ && singles_ == 0 && br_.multishot_ok() && br_.ensure_current())
  {
    waiting_.push(r);
    arm();
    return;
  }
  single(r);
}

void recv_state::arm()
{
  io_uring_sqe* sqe = sched_.get_sqe();
  io_uring_prep_recv_multishot(sqe, fd_, nullptr, 0, 0);
  if (slot_ >= 0) sched_.get_ring().files().apply(sqe, slot_);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = br_.group();
  io_uring_sqe_set_data64(sqe, ms_op_.user_data());
  sched_.op_submitted();
  armed_ = true;
  cancel_sent_ = false;
  ++br_.stats.multishot_requests;
}

void recv_state::single(recv_reader* r)
{
  // A provided read after a failed renewal has nothing to receive into.
  if (r->provided && !br_.ensure_current())
  {
    deliver(r, -ENOBUFS);
    return;
  }
  ++singles_;
  r->in_kernel = true;
  io_uring_sqe* sqe = sched_.get_sqe();
  r->prep_single(r, sqe);
  if (slot_ >= 0) sched_.get_ring().files().apply(sqe, slot_);
  if (r->provided)
  {
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = br_.group();
  }
  io_uring_sqe_set_data64(sqe, r->user_data());
  sched_.op_submitted();
  ++br_.stats.single_requests;
}

int recv_state::single_done(recv_reader* r, int res, unsigned flags) noexcept
{
  r->in_kernel = false;
  --singles_;
  if (r->provided)
  {
    if (res > 0 && (flags & IORING_CQE_F_BUFFER))
    {
      unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
      br_.took(bid);
      r->bid = static_cast<int>(bid);
      r->pdata = br_.data(bid);
      r->psize = static_cast<std::size_t>(res);
    }
  }
  maybe_delete();
  return res;
}

void recv_state::cancel_reader(recv_reader* r)
{
  if (r->in_kernel)
  {
    sched_.cancel_in_flight(r);
    return;
  }
  if (waiting_.erase(r)) deliver(r, -ECANCELED);
}

void recv_state::abort_waiting() noexcept
{
  while (operation* r = waiting_.pop()) deliver(static_cast<recv_reader*>(r), -ECANCELED);
}

void recv_state::cancel_waiting() noexcept { abort_waiting(); }

// Completes `r`: with `res` < 0 as an error, otherwise from the queue (bytes
// copied, or a buffer handed over), or with the end of the stream.
void recv_state::deliver(recv_reader* r, int res)
{
  if (res >= 0)
  {
    if (count_ > 0)
    {
      if (r->provided)
      {
        unsigned bid = head_;
        r->bid = static_cast<int>(bid);
        r->pdata = br_.data(bid) + head_off_;
        r->psize = br_.len(bid) - head_off_;
        res = static_cast<int>(r->psize);
        queued_bytes_ -= r->psize;
        // The handle now holds the buffer: unlink it without giving it back.
        head_ = br_.next(bid);
        if (--count_ == 0) tail_ = none;
        head_off_ = 0;
      }
      else
        res = static_cast<int>(copy_out(r->iov, r->iovcnt, true));
    }
    else
    {
      res = end_;  // the end of the stream, delivered once
      end_ = no_end;
    }
  }
  r->delivered = true;
  r->set_result(res, 0);
  sched_.post_deferred(r);
}

std::size_t recv_state::copy_out(const ::iovec* iov, std::size_t n, bool consume) noexcept
{
  // One destination filled from the head buffer alone: one memcpy.
  if (n == 1 && count_ > 0)
  {
    const std::uint32_t avail = br_.len(head_) - head_off_;
    if (iov[0].iov_len <= avail || count_ == 1)
    {
      const std::size_t chunk = std::min<std::size_t>(iov[0].iov_len, avail);
      std::memcpy(iov[0].iov_base, br_.data(head_) + head_off_, chunk);
      if (!consume) return chunk;
      if (chunk == avail) pop_head();
      else
      {
        head_off_ += static_cast<std::uint32_t>(chunk);
        queued_bytes_ -= chunk;
      }
      return chunk;
    }
  }
  std::size_t copied = 0;
  unsigned bid = head_;
  std::uint32_t off = head_off_;
  unsigned left = count_;
  for (std::size_t i = 0; i < n && left > 0; ++i)
  {
    char* dst = static_cast<char*>(iov[i].iov_base);
    std::size_t room = iov[i].iov_len;
    while (room > 0 && left > 0)
    {
      std::size_t chunk = std::min<std::size_t>(room, br_.len(bid) - off);
      std::memcpy(dst, br_.data(bid) + off, chunk);
      dst += chunk;
      room -= chunk;
      copied += chunk;
      off += static_cast<std::uint32_t>(chunk);
      if (off == br_.len(bid))
      {
        off = 0;
        --left;
        unsigned next = br_.next(bid);
        if (consume) pop_head();
        bid = next;
      }
    }
  }
  if (consume && count_ > 0)
  {
    // pop_head counted the whole buffers; this is the part of the new head.
    queued_bytes_ -= off - head_off_;
    head_off_ = off;
  }
  return copied;
}

void recv_state::pop_head() noexcept
{
  unsigned bid = head_;
  queued_bytes_ -= br_.len(bid) - head_off_;
  head_off_ = 0;
  head_ = br_.next(bid);
  if (--count_ == 0) tail_ = none;
  br_.give_back(bid);
}

void recv_state::push(unsigned bid, std::uint32_t n) noexcept
{
  br_.len(bid) = n;
  br_.next(bid) = none;
  if (tail_ == none) head_ = static_cast<std::uint16_t>(bid);
  else br_.next(tail_) = static_cast<std::uint16_t>(bid);
  tail_ = static_cast<std::uint16_t>(bid);
  ++count_;
  queued_bytes_ += n;
}

void recv_state::release_all() noexcept
{
  while (count_ > 0) pop_head();
  queued_bytes_ = 0;
}

long recv_state::take_sync(const ::iovec* iov, std::size_t n, bool peek) noexcept
{
  if (count_ > 0) return static_cast<long>(copy_out(iov, n, !peek));
  if (end_ == no_end) return nothing;
  int e = end_;
  if (!peek) end_ = no_end;
  return e;
}


// The hot case of a CQE: data for the read at the front of the queue,
// nothing queued before it, and it all fits. The bytes go straight into the
// read's buffer (or, for a provided read, the buffer is handed over) and the
// kernel's buffer goes back at once: no FIFO, no held accounting. Runs inside
// reap, which queues ordinary completions the same way (push_ready). False:
// handle() takes the general path.
inline bool recv_state::deliver_direct(unsigned bid, int res) noexcept
{
  auto* r = static_cast<recv_reader*>(waiting_.front());
  if (r->provided)
  {
    br_.took(bid);
    r->bid = static_cast<int>(bid);
    r->pdata = br_.data(bid);
    r->psize = static_cast<std::size_t>(res);
  }
  else
  {
    if (r->iovcnt != 1 || r->iov[0].iov_len < static_cast<std::size_t>(res)) return false;
    char* p = br_.data(bid);
    std::memcpy(r->iov[0].iov_base, p, static_cast<std::size_t>(res));
    br_.recycle(bid, p);
  }
  waiting_.pop();
  r->delivered = true;
  r->set_result(res, 0);
  sched_.push_ready(r);
  return true;
}

void recv_state::on_cqe(scheduler*, operation* op, int res, unsigned flags)
{
  recv_state* st = static_cast<request*>(op)->owner;
  constexpr unsigned more_data = IORING_CQE_F_MORE | IORING_CQE_F_BUFFER;
  if ((flags & more_data) == more_data && res > 0 && st->count_ == 0 && !st->waiting_.empty())
      [[likely]]
  {
    st->got_more_ = true;
    if (st->deliver_direct(flags >> IORING_CQE_BUFFER_SHIFT, res)) return;
  }
  st->handle(res, flags);
}

// Every other CQE of the multishot: queue the data, feed the waiting reads,
// stop a slow reader, or the end of the request.
void recv_state::handle(int res, unsigned flags)
{
  const bool more = flags & IORING_CQE_F_MORE;
  if (more) got_more_ = true;
  if (res > 0 && (flags & IORING_CQE_F_BUFFER))
  {
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    br_.took(bid);
    if (orphan_) br_.give_back(bid);
    else push(bid, static_cast<std::uint32_t>(res));
  }
  if (more)
  {
    while (count_ > 0 && !waiting_.empty()) deliver(static_cast<recv_reader*>(waiting_.pop()), 0);
    // A slow reader: stop taking buffers; the rest waits in the kernel.
    if (count_ >= limit_ && !cancel_sent_)
    {
      io_uring_sqe* sqe = sched_.get_sqe();
      io_uring_prep_cancel64(sqe, ms_op_.user_data(), 0);
      io_uring_sqe_set_data64(sqe, 0);
      cancel_sent_ = true;
    }
    return;
  }

  // The multishot ended.
  const bool ours = cancel_sent_;
  armed_ = false;
  cancel_sent_ = false;
  if (maybe_delete() || orphan_) return;
  if (res == 0) end_ = 0;
  else if (res == -ENOBUFS)
  {
    // Every buffer is queued somewhere or held: single-shot reads into the
    // caller's buffers until half the ring is back (recv_state::start).
    ++br_.stats.nobufs;
    // Unless the reserve had more: then the next read arms again.
    nobufs_ = !br_.grow_after_nobufs();
  }
  else if (res == -EINVAL && !got_more_ && count_ == 0)
    br_.multishot_refused();  // a kernel without multishot receive
  else if (res == -ECANCELED)
  {
    // Ours (a slow reader) or not (fork, shutdown): a waiting read starts
    // again from the ready queue, after whatever cancelled us is done.
    if (!ours)
    {
      while (operation* r = waiting_.pop())
      {
        sched_.work_started();  // the restart consumes a unit of its own
        ++restarts_;
        r->mark_start();
        sched_.post_deferred(r);
      }
      return;
    }
  }
  else if (res < 0) end_ = res;
  feed_waiting();
}

// After the multishot ended: the waiting read gets data, the end, or a new request.
void recv_state::feed_waiting()
{
  op_queue q;
  q.splice(waiting_);
  while (operation* r = q.pop()) start(static_cast<recv_reader*>(r));
}

void recv_state::poll_completions() { sched_.poll_completions(); }

bool recv_state::quiesce()
{
  abort_waiting();
  if (armed_ && !cancel_sent_)
  {
    io_uring_sqe* sqe = sched_.get_sqe();
    io_uring_prep_cancel64(sqe, ms_op_.user_data(), 0);
    io_uring_sqe_set_data64(sqe, 0);
    cancel_sent_ = true;
  }
  while (armed_)
  {
    poll_completions();
    if (armed_)
    {
      pollfd p{sched_.get_ring().get()->ring_fd, POLLIN, 0};
      ::poll(&p, 1, 10);
    }
  }
  return count_ == 0;
}

bool recv_state::prepare_wait()
{
  if (count_ > 0 || end_ != no_end) return true;
  if (!armed_ || !waiting_.empty()) return false;
  if (!cancel_sent_)
  {
    io_uring_sqe* sqe = sched_.get_sqe();
    io_uring_prep_cancel64(sqe, ms_op_.user_data(), 0);
    io_uring_sqe_set_data64(sqe, 0);
    cancel_sent_ = true;
  }
  while (armed_)
  {
    poll_completions();
    if (armed_)
    {
      pollfd p{sched_.get_ring().get()->ring_fd, POLLIN, 0};
      ::poll(&p, 1, 10);
    }
  }
  return count_ > 0 || end_ != no_end;
}

} // namespace asio_uring::detail
