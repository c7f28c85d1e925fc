// The emulated ring's system calls: each request once, without blocking
// (MSG_DONTWAIT, RWF_NOWAIT, a zero-timeout poll, a non-blocking connect),
// so a descriptor's own blocking mode is never changed for long and never
// seen by the library's synchronous calls. Regular files and fsync are
// plain calls (synchronous; see doc/design.md for why no worker thread).
#include "emulated_ring.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace asio_uring::detail {

namespace {

void* address(std::uint64_t a) noexcept
{
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(a));
}

// A result as the kernel gives it, or would_block; -1 with EINTR: call again.
int result_of(long n) noexcept
{
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK) return emulated_ring::would_block;
  return -errno;
}

// Whether `fd` has `events` now (POLLNVAL too: the call then reports EBADF).
bool ready(int fd, short events) noexcept
{
  pollfd p{fd, events, 0};
  int n;
  do n = ::poll(&p, 1, 0);
  while (n < 0 && errno == EINTR);
  return n != 0;
}

} // namespace

int emulated_ring::perform(request& r)
{
  const io_uring_sqe& s = r.sqe;
  long n;
  for (;;)
  {
    switch (s.opcode)
    {
    case IORING_OP_RECV:
      n = ::recv(s.fd, address(s.addr), s.len, static_cast<int>(s.msg_flags) | MSG_DONTWAIT);
      break;
    case IORING_OP_SEND:
      n = ::send(s.fd, address(s.addr), s.len, static_cast<int>(s.msg_flags) | MSG_DONTWAIT);
      break;
    case IORING_OP_RECVMSG:
      n = ::recvmsg(s.fd, static_cast<msghdr*>(address(s.addr)), static_cast<int>(s.msg_flags) | MSG_DONTWAIT);
      break;
    case IORING_OP_SENDMSG:
      n = ::sendmsg(s.fd, static_cast<const msghdr*>(address(s.addr)), static_cast<int>(s.msg_flags) | MSG_DONTWAIT);
      break;
    case IORING_OP_ACCEPT:
      // accept4 has no per-call non-blocking flag and the listening socket
      // stays blocking: accept only what poll says is there.
      if (!ready(s.fd, POLLIN)) return would_block;
      n = ::accept4(s.fd, static_cast<sockaddr*>(address(s.addr)), static_cast<socklen_t*>(address(s.addr2)),
          static_cast<int>(s.accept_flags));
      break;
    case IORING_OP_CONNECT:
      return perform_connect(r);
    case IORING_OP_POLL_ADD:
      return perform_poll(r);
    case IORING_OP_FSYNC:
      n = (s.fsync_flags & IORING_FSYNC_DATASYNC) ? ::fdatasync(s.fd) : ::fsync(s.fd);
      break;
    case IORING_OP_READ: case IORING_OP_READV: case IORING_OP_READ_FIXED:
      return perform_rw(r, false);
    case IORING_OP_WRITE: case IORING_OP_WRITEV: case IORING_OP_WRITE_FIXED:
      return perform_rw(r, true);
    default:
      return -EINVAL;
    }
    if (n >= 0 || errno != EINTR) return result_of(n);
  }
}

int emulated_ring::perform_rw(request& r, bool write)
{
  const io_uring_sqe& s = r.sqe;
  iovec one{address(s.addr), s.len};
  const iovec* iov = &one;
  int count = 1;
  if (s.opcode == IORING_OP_READV || s.opcode == IORING_OP_WRITEV)
  {
    iov = static_cast<const iovec*>(address(s.addr));
    count = static_cast<int>(s.len);
  }
  else if (s.opcode == IORING_OP_READ_FIXED || s.opcode == IORING_OP_WRITE_FIXED)
  {
    if (int err = fixed_buffer_check(s)) return err;
  }
  const int flags = static_cast<int>(s.rw_flags);
  auto call = [&](off_t off, int f) {
    long n;
    do n = write ? ::pwritev2(s.fd, iov, count, off, f) : ::preadv2(s.fd, iov, count, off, f);
    while (n < 0 && errno == EINTR);
    return n;
  };
  if (r.mode == call_mode::positional)
  {
    const long n = call(static_cast<off_t>(s.off), flags);
    if (n >= 0 || errno != ESPIPE) return result_of(n);
    r.mode = call_mode::nowait;
  }
  if (r.mode == call_mode::nowait)
  {
    const long n = call(-1, flags | RWF_NOWAIT);
    if (n >= 0 || errno != EOPNOTSUPP) return result_of(n);
    r.mode = call_mode::after_poll;
  }
  if (r.mode == call_mode::after_poll && !ready(s.fd, write ? POLLOUT : POLLIN)) return would_block;
  return result_of(call(-1, flags));
}

// A non-blocking connect: the descriptor is non-blocking only for this call
// (io_uring does the same inside the kernel). EINPROGRESS waits until the
// socket is writable and answers with SO_ERROR.
int emulated_ring::perform_connect(request& r)
{
  const io_uring_sqe& s = r.sqe;
  if (r.connecting)
  {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -errno;
    return -err;
  }
  const int fl = ::fcntl(s.fd, F_GETFL);
  if (fl < 0) return -errno;
  const bool toggle = !(fl & O_NONBLOCK);
  if (toggle && ::fcntl(s.fd, F_SETFL, fl | O_NONBLOCK) != 0) return -errno;
  int err = 0;
  if (::connect(s.fd, static_cast<const sockaddr*>(address(s.addr)), static_cast<socklen_t>(s.off)) != 0) err = errno;
  if (toggle) ::fcntl(s.fd, F_SETFL, fl);
  if (err == EINPROGRESS || err == EINTR)
  {
    r.connecting = true;
    return would_block;
  }
  if (err == EAGAIN) return would_block;  // a full local listen queue: try again when writable
  return -err;
}

int emulated_ring::perform_poll(request& r)
{
  const io_uring_sqe& s = r.sqe;
  if (s.len != 0) return -EINVAL;  // multishot and update polls are not emulated
  const unsigned want = poll_result_mask(s.poll32_events);
  pollfd p{s.fd, static_cast<short>(want), 0};
  int n;
  do n = ::poll(&p, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (p.revents & POLLNVAL) return -EBADF;
  const unsigned m = static_cast<unsigned short>(p.revents) & want;
  return m ? static_cast<int>(m) : would_block;
}

// READ_FIXED / WRITE_FIXED: the kernel's checks on the registered table.
int emulated_ring::fixed_buffer_check(const io_uring_sqe& s) const noexcept
{
  if (s.buf_index >= buffers_.size()) return -EFAULT;
  const iovec& b = buffers_[s.buf_index];
  const auto base = reinterpret_cast<std::uintptr_t>(b.iov_base);
  if (s.addr < base || s.addr + s.len > base + b.iov_len) return -EFAULT;
  return 0;
}

} // namespace asio_uring::detail
