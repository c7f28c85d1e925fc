// Pipes and stream descriptors on the ring: asio_uring::readable_pipe,
// writable_pipe, connect_pipe, posix::stream_descriptor, with Asio's
// interfaces.
#pragma once

#include <asio_uring/detail/descriptor.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/posix/descriptor_base.hpp>

#include <poll.h>
#include <sys/ioctl.h>

namespace asio_uring {

namespace detail {

struct poll_fd_kind : kind_base
{
  poll_fd_kind(int f, unsigned m) : fd(f), mask(m) {}
  void prep(io_uring_sqe* sqe) { io_uring_prep_poll_add(sqe, fd, mask); }
  std::tuple<boost::system::error_code> result(int res) { return {result_error(res)}; }
  int fd;
  unsigned mask;
};

// A descriptor read and/or written as a stream (offset -1: its position).
template <typename Executor, bool Readable, bool Writable>
class stream_fd : public descriptor_object<Executor>
{
  using base = descriptor_object<Executor>;

public:
  using typename base::executor_type;
  using typename base::native_handle_type;
  using lowest_layer_type = stream_fd;

  explicit stream_fd(const executor_type& ex) : base(ex) {}
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  explicit stream_fd(ExecutionContext& ctx) : base(executor_type(ctx.get_executor())) {}
  stream_fd(const executor_type& ex, native_handle_type fd) : base(ex, fd) {}
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  stream_fd(ExecutionContext& ctx, native_handle_type fd) : base(executor_type(ctx.get_executor()), fd) {}
  stream_fd(stream_fd&&) noexcept = default;
  stream_fd& operator=(stream_fd&&) = default;

  lowest_layer_type& lowest_layer() noexcept { return *this; }

  template <typename MutableBufferSequence, bool R = Readable, typename = std::enable_if_t<R>>
  std::size_t read_some(const MutableBufferSequence& b)
  {
    boost::system::error_code ec;
    std::size_t n = read_some(b, ec);
    boost::asio::detail::throw_error(ec, "read_some");
    return n;
  }
  template <typename MutableBufferSequence, bool R = Readable, typename = std::enable_if_t<R>>
  std::size_t read_some(const MutableBufferSequence& b, boost::system::error_code& ec)
  {
    return this->template sync_rw<false>(b, -1, ec);
  }
  template <typename ConstBufferSequence, bool W = Writable, typename = std::enable_if_t<W>>
  std::size_t write_some(const ConstBufferSequence& b)
  {
    boost::system::error_code ec;
    std::size_t n = write_some(b, ec);
    boost::asio::detail::throw_error(ec, "write_some");
    return n;
  }
  template <typename ConstBufferSequence, bool W = Writable, typename = std::enable_if_t<W>>
  std::size_t write_some(const ConstBufferSequence& b, boost::system::error_code& ec)
  {
    return this->template sync_rw<true>(b, -1, ec);
  }

  // Completes with (error_code, bytes); 0 bytes read is eof.
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>,
      bool R = Readable, typename = std::enable_if_t<R>>
  auto async_read_some(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs) {
          start(handler, rw_kind(this->fd_, bufs, std::uint64_t(-1), false));
        }, token, b);
  }
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>,
      bool W = Writable, typename = std::enable_if_t<W>>
  auto async_write_some(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs) {
          start(handler, rw_kind(this->fd_, bufs, std::uint64_t(-1), true));
        }, token, b);
  }

  bool non_blocking() const
  {
    int flags = ::fcntl(this->fd_, F_GETFL, 0);
    return flags >= 0 && (flags & O_NONBLOCK);
  }
  void non_blocking(bool mode)
  {
    int flags = ::fcntl(this->fd_, F_GETFL, 0);
    if (flags < 0 || ::fcntl(this->fd_, F_SETFL, mode ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK)) != 0)
      boost::asio::detail::throw_error(errno_error(), "non_blocking");
  }

protected:
  template <typename Handler>
  void start(Handler& handler, rw_kind&& k)
  {
    std::size_t bytes = k.bufs.total;
    this->template launch_transfer<rw_kind>(handler, bytes, std::move(k));
  }
};

} // namespace detail

template <typename Executor = boost::asio::any_io_executor>
class basic_readable_pipe : public detail::stream_fd<Executor, true, false>
{
public:
  using detail::stream_fd<Executor, true, false>::stream_fd;
  template <typename OtherExecutor>
  struct rebind_executor { using other = basic_readable_pipe<OtherExecutor>; };
};

template <typename Executor = boost::asio::any_io_executor>
class basic_writable_pipe : public detail::stream_fd<Executor, false, true>
{
public:
  using detail::stream_fd<Executor, false, true>::stream_fd;
  template <typename OtherExecutor>
  struct rebind_executor { using other = basic_writable_pipe<OtherExecutor>; };
};

using readable_pipe = basic_readable_pipe<>;
using writable_pipe = basic_writable_pipe<>;

// Opens a pipe: `read_end` gets its reading end, `write_end` its writing end.
template <typename E1, typename E2>
void connect_pipe(basic_readable_pipe<E1>& read_end, basic_writable_pipe<E2>& write_end,
    boost::system::error_code& ec)
{
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
  {
    ec = detail::errno_error();
    return;
  }
  read_end.assign(fds[0], ec);
  if (ec)
  {
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  write_end.assign(fds[1], ec);
  if (ec) ::close(fds[1]);
}

template <typename E1, typename E2>
void connect_pipe(basic_readable_pipe<E1>& read_end, basic_writable_pipe<E2>& write_end)
{
  boost::system::error_code ec;
  connect_pipe(read_end, write_end, ec);
  boost::asio::detail::throw_error(ec, "connect_pipe");
}

namespace posix {

// Any descriptor read and written as a stream: a tty, an eventfd, a pipe end.
template <typename Executor = boost::asio::any_io_executor>
class basic_stream_descriptor
  : public detail::stream_fd<Executor, true, true>, public boost::asio::posix::descriptor_base
{
  using base = detail::stream_fd<Executor, true, true>;

public:
  using typename base::executor_type;
  using base::base;
  template <typename OtherExecutor>
  struct rebind_executor { using other = basic_stream_descriptor<OtherExecutor>; };

  void wait(wait_type w)
  {
    pollfd p{this->fd_, static_cast<short>(mask(w)), 0};
    int r;
    do r = ::poll(&p, 1, -1);
    while (r < 0 && errno == EINTR);
    if (r < 0) boost::asio::detail::throw_error(detail::errno_error(), "wait");
  }

  // Completes with (error_code) when the descriptor is ready (IORING_OP_POLL_ADD).
  template <typename WaitToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(wait_type w, WaitToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WaitToken, void(boost::system::error_code)>(
        [this](auto handler, wait_type what) {
          this->template launch<detail::poll_fd_kind>(handler, this->early_check(),
              detail::poll_fd_kind(this->fd_, mask(what)));
        }, token, w);
  }

  template <typename IoControlCommand>
  void io_control(IoControlCommand& cmd)
  {
    if (::ioctl(this->fd_, static_cast<unsigned long>(cmd.name()), cmd.data()) != 0)
      boost::asio::detail::throw_error(detail::errno_error(), "io_control");
  }

private:
  static unsigned mask(wait_type w) noexcept
  {
    return w == wait_read ? POLLIN : w == wait_write ? POLLOUT : (POLLPRI | POLLERR | POLLHUP);
  }
};

using stream_descriptor = basic_stream_descriptor<>;

} // namespace posix

} // namespace asio_uring
