// Pipes on the ring: asio_uring::readable_pipe, writable_pipe, connect_pipe,
// with Asio's interfaces. (posix::stream_descriptor, once here, is in
// <asio_uring/posix/stream_descriptor.hpp>, still included from this header.)
#pragma once

#include <asio_uring/detail/stream_ops.hpp>
#include <asio_uring/posix/stream_descriptor.hpp>

namespace asio_uring {

namespace detail {

// One end of a pipe: Asio's basic_readable_pipe / basic_writable_pipe.
template <template <typename> class Pipe, typename Executor, bool Readable>
class pipe_end
  : public descriptor_object<Executor>,
    public stream_ops<Pipe<Executor>, Executor, Readable, !Readable>
{
  using base = descriptor_object<Executor>;

public:
  using executor_type = Executor;
  using native_handle_type = int;
  using lowest_layer_type = Pipe<Executor>;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = Pipe<OtherExecutor>;
  };

  explicit pipe_end(const executor_type& ex) : base(ex) {}
  template <typename ExecutionContext, if_context<ExecutionContext> = 0>
  explicit pipe_end(ExecutionContext& ctx) : base(executor_type(ctx.get_executor())) {}
  pipe_end(const executor_type& ex, const native_handle_type& fd) : base(ex, fd) {}
  template <typename ExecutionContext, if_context<ExecutionContext> = 0>
  pipe_end(ExecutionContext& ctx, const native_handle_type& fd) : base(executor_type(ctx.get_executor()), fd) {}
  pipe_end(pipe_end&&) noexcept = default;
  // From the same pipe on another executor type (what as_default_on needs).
  template <typename E1, typename = std::enable_if_t<std::is_convertible_v<E1, Executor>>>
  pipe_end(pipe_end<Pipe, E1, Readable>&& o) : base(static_cast<descriptor_object<E1>&&>(o)) {}
  pipe_end& operator=(pipe_end&&) = default;
  template <typename E1>
  std::enable_if_t<std::is_convertible_v<E1, Executor>, pipe_end&>
  operator=(pipe_end<Pipe, E1, Readable>&& o)
  {
    base::operator=(static_cast<descriptor_object<E1>&&>(o));
    return *this;
  }

  lowest_layer_type& lowest_layer() noexcept { return static_cast<lowest_layer_type&>(*this); }
  const lowest_layer_type& lowest_layer() const noexcept { return static_cast<const lowest_layer_type&>(*this); }
};

} // namespace detail

template <typename Executor = boost::asio::any_io_executor>
class basic_readable_pipe : public detail::pipe_end<basic_readable_pipe, Executor, true>
{
public:
  using detail::pipe_end<basic_readable_pipe, Executor, true>::pipe_end;
  using detail::pipe_end<basic_readable_pipe, Executor, true>::operator=;
};

template <typename Executor = boost::asio::any_io_executor>
class basic_writable_pipe : public detail::pipe_end<basic_writable_pipe, Executor, false>
{
public:
  using detail::pipe_end<basic_writable_pipe, Executor, false>::pipe_end;
  using detail::pipe_end<basic_writable_pipe, Executor, false>::operator=;
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

} // namespace asio_uring
