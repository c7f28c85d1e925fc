// asio_uring::posix::basic_descriptor: Asio's posix::basic_descriptor (the
// base of stream descriptors) on the ring; async_wait is IORING_OP_POLL_ADD.
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

} // namespace detail

namespace posix {

template <typename Executor = boost::asio::any_io_executor>
class basic_descriptor
  : public boost::asio::posix::descriptor_base, public detail::descriptor_object<Executor>
{
  using base = detail::descriptor_object<Executor>;

public:
  using executor_type = Executor;
  using native_handle_type = int;
  using lowest_layer_type = basic_descriptor;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_descriptor<OtherExecutor>;
  };

  explicit basic_descriptor(const executor_type& ex) : base(ex) {}
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  explicit basic_descriptor(ExecutionContext& ctx) : base(executor_type(ctx.get_executor())) {}
  basic_descriptor(const executor_type& ex, const native_handle_type& fd) : base(ex, fd) {}
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_descriptor(ExecutionContext& ctx, const native_handle_type& fd)
    : base(executor_type(ctx.get_executor()), fd) {}
  basic_descriptor(basic_descriptor&& o) noexcept
    : base(std::move(o)), user_non_blocking_(std::exchange(o.user_non_blocking_, false)) {}
  template <typename E1, typename = std::enable_if_t<std::is_convertible_v<E1, Executor>>>
  basic_descriptor(basic_descriptor<E1>&& o)
    : base(static_cast<detail::descriptor_object<E1>&&>(o)),
      user_non_blocking_(std::exchange(o.user_non_blocking_, false)) {}
  basic_descriptor& operator=(basic_descriptor&& o)
  {
    base::operator=(std::move(o));
    user_non_blocking_ = std::exchange(o.user_non_blocking_, false);
    return *this;
  }
  template <typename E1>
  std::enable_if_t<std::is_convertible_v<E1, Executor>, basic_descriptor&>
  operator=(basic_descriptor<E1>&& o)
  {
    base::operator=(static_cast<detail::descriptor_object<E1>&&>(o));
    user_non_blocking_ = std::exchange(o.user_non_blocking_, false);
    return *this;
  }

  lowest_layer_type& lowest_layer() noexcept { return *this; }
  const lowest_layer_type& lowest_layer() const noexcept { return *this; }

  void close()
  {
    user_non_blocking_ = false;
    base::close();
  }
  void close(boost::system::error_code& ec)
  {
    user_non_blocking_ = false;
    base::close(ec);
  }
  native_handle_type release()
  {
    user_non_blocking_ = false;
    return base::release();
  }

  template <typename IoControlCommand>
  void io_control(IoControlCommand& cmd)
  {
    boost::system::error_code ec;
    io_control(cmd, ec);
    boost::asio::detail::throw_error(ec, "io_control");
  }
  template <typename IoControlCommand>
  void io_control(IoControlCommand& cmd, boost::system::error_code& ec)
  {
    if (::ioctl(this->fd_, static_cast<unsigned long>(cmd.name()), cmd.data()) != 0)
      ec = detail::errno_error();
    else
      ec.clear();
  }

  // The user's mode: with true, synchronous reads and writes fail with
  // would_block instead of waiting. (Asynchronous operations are on the ring
  // and never depend on it.)
  bool non_blocking() const noexcept { return user_non_blocking_; }
  void non_blocking(bool mode)
  {
    boost::system::error_code ec;
    non_blocking(mode, ec);
    boost::asio::detail::throw_error(ec, "non_blocking");
  }
  void non_blocking(bool mode, boost::system::error_code& ec)
  {
    if (this->fd_ < 0)
    {
      ec = boost::asio::error::bad_descriptor;
      return;
    }
    // A non-blocking user needs a non-blocking descriptor; a blocking one is
    // emulated with poll(2) whatever the descriptor's own mode.
    if (mode && !set_o_nonblock(true, ec)) return;
    user_non_blocking_ = mode;
    ec.clear();
  }

  // The descriptor's own O_NONBLOCK flag.
  bool native_non_blocking() const
  {
    int flags = ::fcntl(this->fd_, F_GETFL, 0);
    return flags >= 0 && (flags & O_NONBLOCK) != 0;
  }
  void native_non_blocking(bool mode)
  {
    boost::system::error_code ec;
    native_non_blocking(mode, ec);
    boost::asio::detail::throw_error(ec, "native_non_blocking");
  }
  void native_non_blocking(bool mode, boost::system::error_code& ec)
  {
    if (this->fd_ < 0)
    {
      ec = boost::asio::error::bad_descriptor;
      return;
    }
    if (!mode && user_non_blocking_)
    {
      // As Asio: the user's non-blocking mode needs a non-blocking descriptor.
      ec = boost::asio::error::invalid_argument;
      return;
    }
    if (set_o_nonblock(mode, ec)) ec.clear();
  }

  // Blocks until the descriptor is ready to read, to write, or has an error
  // condition.
  void wait(wait_type w)
  {
    boost::system::error_code ec;
    wait(w, ec);
    boost::asio::detail::throw_error(ec, "wait");
  }
  void wait(wait_type w, boost::system::error_code& ec)
  {
    if (this->fd_ < 0)
    {
      ec = boost::asio::error::bad_descriptor;
      return;
    }
    pollfd p{this->fd_, static_cast<short>(mask(w)), 0};
    int r;
    do r = ::poll(&p, 1, -1);
    while (r < 0 && errno == EINTR);
    if (r < 0) ec = detail::errno_error();
    else ec.clear();
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

protected:
  // As in Asio: a descriptor is destroyed through its derived type.
  ~basic_descriptor() = default;

private:
  template <typename> friend class basic_descriptor;

  static unsigned mask(wait_type w) noexcept
  {
    return w == wait_read ? POLLIN : w == wait_write ? POLLOUT : POLLPRI;
  }

  bool set_o_nonblock(bool mode, boost::system::error_code& ec)
  {
    int flags = ::fcntl(this->fd_, F_GETFL, 0);
    if (flags < 0 || ::fcntl(this->fd_, F_SETFL, mode ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK)) != 0)
    {
      ec = detail::errno_error();
      return false;
    }
    return true;
  }

  bool user_non_blocking_ = false;
};

} // namespace posix

} // namespace asio_uring
