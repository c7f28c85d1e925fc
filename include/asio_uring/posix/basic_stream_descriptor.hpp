// asio_uring::posix::basic_stream_descriptor: any descriptor read and written
// as a stream (a tty, an eventfd, a pipe end), with Asio's interface.
#pragma once

#include <asio_uring/detail/stream_ops.hpp>
#include <asio_uring/posix/basic_descriptor.hpp>

namespace asio_uring::posix {

template <typename Executor = boost::asio::any_io_executor>
class basic_stream_descriptor
  : public basic_descriptor<Executor>,
    public detail::stream_ops<basic_stream_descriptor<Executor>, Executor, true, true>
{
  using base = basic_descriptor<Executor>;

public:
  using typename base::executor_type;
  using typename base::native_handle_type;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_stream_descriptor<OtherExecutor>;
  };

  explicit basic_stream_descriptor(const executor_type& ex) : base(ex) {}
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  explicit basic_stream_descriptor(ExecutionContext& ctx) : base(ctx) {}
  basic_stream_descriptor(const executor_type& ex, const native_handle_type& fd) : base(ex, fd) {}
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_stream_descriptor(ExecutionContext& ctx, const native_handle_type& fd) : base(ctx, fd) {}
  basic_stream_descriptor(basic_stream_descriptor&&) noexcept = default;
  template <typename E1, typename = std::enable_if_t<std::is_convertible_v<E1, Executor>>>
  basic_stream_descriptor(basic_stream_descriptor<E1>&& o)
    : base(static_cast<basic_descriptor<E1>&&>(o)) {}
  basic_stream_descriptor& operator=(basic_stream_descriptor&&) = default;
  template <typename E1>
  std::enable_if_t<std::is_convertible_v<E1, Executor>, basic_stream_descriptor&>
  operator=(basic_stream_descriptor<E1>&& o)
  {
    base::operator=(static_cast<basic_descriptor<E1>&&>(o));
    return *this;
  }
  ~basic_stream_descriptor() = default;
};

} // namespace asio_uring::posix
