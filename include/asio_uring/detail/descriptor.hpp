// The common part of descriptor-based I/O objects (files, pipes, stream
// descriptors): a descriptor, its executor and scheduler, cancellation.
#pragma once

#include <asio_uring/detail/uring_op.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace asio_uring::detail {

// read/write (one buffer) or readv/writev at `offset` (-1: the descriptor's
// own position, as for pipes). A read of 0 bytes into a non-empty buffer is
// end of file.
struct rw_kind : kind_base
{
  template <typename Buffers>
  rw_kind(int f, const Buffers& b, std::uint64_t off, bool write)
    : fd(f), offset(off), is_write(write), bufs(b) {}
  void prep(io_uring_sqe* sqe)
  {
    if (bufs.count == 1)
    {
      if (is_write)
        io_uring_prep_write(sqe, fd, bufs.iov[0].iov_base, static_cast<unsigned>(bufs.iov[0].iov_len), offset);
      else
        io_uring_prep_read(sqe, fd, bufs.iov[0].iov_base, static_cast<unsigned>(bufs.iov[0].iov_len), offset);
    }
    else if (is_write)
      io_uring_prep_writev(sqe, fd, bufs.iov, static_cast<unsigned>(bufs.count), offset);
    else
      io_uring_prep_readv(sqe, fd, bufs.iov, static_cast<unsigned>(bufs.count), offset);
  }
  std::tuple<boost::system::error_code, std::size_t> result(int res)
  {
    if (res == 0 && !is_write && bufs.total > 0) return {boost::asio::error::eof, 0};
    if (res > 0 && position) *position += static_cast<std::uint64_t>(res);
    return transfer_result(res);
  }
  int fd;
  std::uint64_t offset;
  bool is_write;
  iov_buffers<> bufs;
  std::uint64_t* position = nullptr;  // a stream file's offset to advance
  bool submit_now = false;            // device I/O (O_DIRECT): see request_submit
};

// read_fixed / write_fixed into a registered buffer.
struct rw_fixed_kind : kind_base
{
  rw_fixed_kind(int f, void* d, std::size_t n, int idx, std::uint64_t off, bool write)
    : fd(f), data(d), len(static_cast<unsigned>(n)), index(idx), offset(off), is_write(write) {}
  void prep(io_uring_sqe* sqe)
  {
    if (is_write) io_uring_prep_write_fixed(sqe, fd, data, len, offset, index);
    else io_uring_prep_read_fixed(sqe, fd, data, len, offset, index);
  }
  std::tuple<boost::system::error_code, std::size_t> result(int res)
  {
    if (res == 0 && !is_write && len > 0) return {boost::asio::error::eof, 0};
    return transfer_result(res);
  }
  int fd;
  void* data;
  unsigned len;
  int index;
  std::uint64_t offset;
  bool is_write;
  bool submit_now = false;
};

struct fsync_kind : kind_base
{
  fsync_kind(int f, bool data_only) : fd(f), flags(data_only ? IORING_FSYNC_DATASYNC : 0u) {}
  void prep(io_uring_sqe* sqe) { io_uring_prep_fsync(sqe, fd, flags); }
  std::tuple<boost::system::error_code> result(int res) { return {result_error(res)}; }
  int fd;
  unsigned flags;
};

inline boost::system::error_code errno_error() noexcept
{
  return {errno, boost::system::system_category()};
}

// Enables the constructors that take an execution context, as Asio's do.
template <typename ExecutionContext>
using if_context = std::enable_if_t<
    std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>, int>;

template <typename Derived, typename Executor, bool Readable, bool Writable>
class stream_ops;

// Owns a descriptor used through the ring.
template <typename Executor>
class descriptor_object
{
public:
  using executor_type = Executor;
  using native_handle_type = int;

  explicit descriptor_object(const executor_type& ex) : ex_(ex), sched_(&context_of(ex).impl()) {}
  descriptor_object(const executor_type& ex, int fd) : descriptor_object(ex) { fd_ = fd; }
  descriptor_object(descriptor_object&& o) noexcept
    : ex_(o.ex_), sched_(o.sched_), fd_(std::exchange(o.fd_, -1)), async_used_(o.async_used_) {}
  template <typename E1>
  explicit descriptor_object(descriptor_object<E1>&& o)
    : ex_(o.ex_), sched_(o.sched_), fd_(std::exchange(o.fd_, -1)), async_used_(o.async_used_) {}
  descriptor_object& operator=(descriptor_object&& o) { return assign_from(o); }
  // From the same object on another executor type (Asio's converting assignment).
  template <typename E1>
  descriptor_object& operator=(descriptor_object<E1>&& o) { return assign_from(o); }

  ~descriptor_object()
  {
    boost::system::error_code ignored;
    close(ignored);
  }

  executor_type get_executor() noexcept { return ex_; }
  bool is_open() const noexcept { return fd_ >= 0; }
  native_handle_type native_handle() noexcept { return fd_; }

  void assign(native_handle_type fd)
  {
    boost::system::error_code ec;
    assign(fd, ec);
    boost::asio::detail::throw_error(ec, "assign");
  }
  void assign(native_handle_type fd, boost::system::error_code& ec)
  {
    if (fd_ >= 0)
    {
      ec = boost::asio::error::already_open;
      return;
    }
    fd_ = fd;
    ec.clear();
  }

  // Pending operations complete with operation_aborted.
  void close()
  {
    boost::system::error_code ec;
    close(ec);
    boost::asio::detail::throw_error(ec, "close");
  }
  void close(boost::system::error_code& ec)
  {
    ec.clear();
    if (fd_ < 0) return;
    int fd = std::exchange(fd_, -1);
    cancel_all(fd, true);
    if (::close(fd) != 0 && errno != EINTR) ec = errno_error();
  }
  // Gives up the descriptor; pending operations complete with operation_aborted.
  native_handle_type release()
  {
    int fd = std::exchange(fd_, -1);
    if (fd >= 0) cancel_all(fd, true);
    return fd;
  }
  native_handle_type release(boost::system::error_code& ec)
  {
    ec.clear();
    return release();
  }
  void cancel()
  {
    if (fd_ < 0) boost::asio::detail::throw_error(boost::asio::error::bad_descriptor, "cancel");
    cancel_all(fd_, false);
  }
  void cancel(boost::system::error_code& ec)
  {
    if (fd_ < 0)
    {
      ec = boost::asio::error::bad_descriptor;
      return;
    }
    cancel_all(fd_, false);
    ec.clear();
  }

protected:
  template <typename> friend class descriptor_object;
  template <typename, typename, bool, bool> friend class stream_ops;

  template <typename Kind, typename Handler>
  [[gnu::always_inline]] void launch(Handler& handler, int early_res, Kind&& kind)
  {
    using op = uring_op<Handler, Executor, Kind>;
    async_used_ = true;
    op::launch(handler, ex_, *sched_, early_res, std::move(kind));
  }

  int early_check() const noexcept { return fd_ < 0 ? -EBADF : operation::start_marker; }

  // A transfer of `bytes`: on a closed descriptor it fails with EBADF, and
  // with nothing to transfer it completes with 0 at once (through the
  // executor, never inside this call, and without an SQE).
  template <typename Kind, typename Handler>
  [[gnu::always_inline]] void launch_transfer(Handler& handler, std::size_t bytes, Kind&& kind)
  {
    int early = early_check();
    if (early == operation::start_marker && bytes == 0) early = 0;
    launch<Kind>(handler, early, std::move(kind));
  }

  // Synchronous read/write at `offset` (-1: current position).
  template <bool Write, typename Buffers>
  std::size_t sync_rw(const Buffers& buffers, std::int64_t offset, boost::system::error_code& ec)
  {
    iov_buffers<64> bufs(buffers);
    if (bufs.total == 0)
    {
      ec.clear();
      return 0;
    }
    ssize_t n;
    do
    {
      if (offset < 0) n = Write ? ::writev(fd_, bufs.iov, int(bufs.count)) : ::readv(fd_, bufs.iov, int(bufs.count));
      else n = Write ? ::pwritev(fd_, bufs.iov, int(bufs.count), offset) : ::preadv(fd_, bufs.iov, int(bufs.count), offset);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
    {
      ec = errno == EAGAIN ? boost::system::error_code(boost::asio::error::would_block) : errno_error();
      return 0;
    }
    if (!Write && n == 0)
    {
      ec = boost::asio::error::eof;
      return 0;
    }
    ec.clear();
    return static_cast<std::size_t>(n);
  }

  Executor ex_;
  scheduler* sched_;
  int fd_ = -1;
  bool async_used_ = false;

private:
  template <typename Other>
  descriptor_object& assign_from(Other& o)
  {
    if (static_cast<void*>(this) != static_cast<void*>(&o))
    {
      boost::system::error_code ignored;
      close(ignored);
      ex_ = o.ex_;
      sched_ = o.sched_;
      fd_ = std::exchange(o.fd_, -1);
      async_used_ = o.async_used_;
    }
    return *this;
  }

  void cancel_all(int fd, bool closing)
  {
    if (!async_used_) return;
    scheduler* s = sched_;
    s->with_loop([s, fd, closing] { s->cancel_fd(fd, closing); });
  }
};

} // namespace asio_uring::detail
