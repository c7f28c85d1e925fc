// asio_uring::basic_stream_socket: models Asio's AsyncReadStream and
// AsyncWriteStream, so async_read/async_write, ssl::stream and Beast work.
#pragma once

#include <asio_uring/basic_socket.hpp>
#include <asio_uring/detail/send_zc.hpp>

#include <sys/socket.h>

namespace asio_uring {

namespace detail {

// recv for one buffer, recvmsg for several. A stream read of 0 bytes into a
// non-empty buffer is end of file.
struct recv_kind : kind_base
{
  template <typename Buffers>
  recv_kind(int f, const Buffers& b, int fl, bool s) : fd(f), flags(fl), stream(s), bufs(b) {}
  void prep(io_uring_sqe* sqe)
  {
    if (bufs.count == 1)
      io_uring_prep_recv(sqe, fd, bufs.iov[0].iov_base, bufs.iov[0].iov_len, flags);
    else
    {
      msg = {};
      msg.msg_iov = bufs.iov;
      msg.msg_iovlen = bufs.count;
      io_uring_prep_recvmsg(sqe, fd, &msg, static_cast<unsigned>(flags));
    }
  }
  std::tuple<boost::system::error_code, std::size_t> result(int res)
  {
    if (res == 0 && stream && bufs.total > 0) return {boost::asio::error::eof, 0};
    return transfer_result(res);
  }
  int fd;
  int flags;
  bool stream;
  iov_buffers<> bufs;
  ::msghdr msg;
};

// send for one buffer, sendmsg for several; MSG_NOSIGNAL: a closed peer is
// broken_pipe, never SIGPIPE.
struct send_kind : kind_base
{
  template <typename Buffers>
  send_kind(int f, const Buffers& b, int fl) : fd(f), flags(fl | MSG_NOSIGNAL), bufs(b) {}
  void prep(io_uring_sqe* sqe)
  {
    if (bufs.count == 1)
      io_uring_prep_send(sqe, fd, bufs.iov[0].iov_base, bufs.iov[0].iov_len, flags);
    else
    {
      msg = {};
      msg.msg_iov = bufs.iov;
      msg.msg_iovlen = bufs.count;
      io_uring_prep_sendmsg(sqe, fd, &msg, static_cast<unsigned>(flags));
    }
  }
  std::tuple<boost::system::error_code, std::size_t> result(int res) { return transfer_result(res); }
  int fd;
  int flags;
  iov_buffers<> bufs;
  ::msghdr msg;
};

// Synchronous transfer with recvmsg/sendmsg.
template <bool Send, typename Buffers>
std::size_t sync_transfer(int fd, const Buffers& buffers, int flags, bool stream,
    boost::system::error_code& ec)
{
  iov_buffers<64> bufs(buffers);
  if (bufs.total == 0 && stream)
  {
    ec.clear();
    return 0;
  }
  ::msghdr msg{};
  msg.msg_iov = bufs.iov;
  msg.msg_iovlen = bufs.count;
  ssize_t n;
  do n = Send ? ::sendmsg(fd, &msg, flags | MSG_NOSIGNAL) : ::recvmsg(fd, &msg, flags);
  while (n < 0 && errno == EINTR);
  if (n < 0)
  {
    ec = errno == EAGAIN ? boost::system::error_code(boost::asio::error::would_block) : last_error();
    return 0;
  }
  if (!Send && n == 0 && stream)
  {
    ec = boost::asio::error::eof;
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(n);
}

} // namespace detail

template <typename Protocol, typename Executor = boost::asio::any_io_executor>
class basic_stream_socket : public basic_socket<Protocol, Executor>
{
  using base = basic_socket<Protocol, Executor>;

public:
  using typename base::executor_type;
  using typename base::endpoint_type;
  using typename base::protocol_type;
  using typename base::native_handle_type;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_stream_socket<Protocol, OtherExecutor>;
  };

  using base::base;

  basic_stream_socket(basic_stream_socket&&) noexcept = default;
  basic_stream_socket& operator=(basic_stream_socket&&) = default;
  template <typename P1, typename E1, typename = std::enable_if_t<
      std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>>>
  basic_stream_socket(basic_stream_socket<P1, E1>&& o) : base(std::move(o)) {}
  template <typename P1, typename E1>
  std::enable_if_t<std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>,
      basic_stream_socket&> operator=(basic_stream_socket<P1, E1>&& o)
  {
    base::operator=(std::move(o));
    zc_fd_ = -1;
    return *this;
  }

  // --- synchronous ----------------------------------------------------------
  template <typename ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& b, boost::asio::socket_base::message_flags f = 0)
  {
    boost::system::error_code ec;
    std::size_t n = send(b, f, ec);
    boost::asio::detail::throw_error(ec, "send");
    return n;
  }
  template <typename ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& b, boost::asio::socket_base::message_flags f,
      boost::system::error_code& ec)
  {
    return detail::sync_transfer<true>(this->fd_, b, f, true, ec);
  }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b) { return send(b, 0); }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b, boost::system::error_code& ec)
  { return send(b, 0, ec); }

  template <typename MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& b, boost::asio::socket_base::message_flags f = 0)
  {
    boost::system::error_code ec;
    std::size_t n = receive(b, f, ec);
    boost::asio::detail::throw_error(ec, "receive");
    return n;
  }
  template <typename MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& b, boost::asio::socket_base::message_flags f,
      boost::system::error_code& ec)
  {
    return detail::sync_transfer<false>(this->fd_, b, f, true, ec);
  }
  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b) { return receive(b, 0); }
  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b, boost::system::error_code& ec)
  { return receive(b, 0, ec); }

  // --- asynchronous -----------------------------------------------------------
  // Completes with (error_code, bytes). Zero-length buffers complete with 0
  // at once (through the executor, never inside this call).
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& b, boost::asio::socket_base::message_flags f,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs, int flags) {
          detail::recv_kind k(this->fd_, bufs, flags, true);
          std::size_t bytes = k.bufs.total;
          this->template launch_transfer<detail::recv_kind>(handler, bytes, std::move(k));
        }, token, b, static_cast<int>(f));
  }
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(b, 0, std::forward<ReadToken>(token));
  }
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(b, 0, std::forward<ReadToken>(token));
  }

  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& b, boost::asio::socket_base::message_flags f,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs, int flags) {
          detail::send_kind k(this->fd_, bufs, flags);
          std::size_t bytes = k.bufs.total;
          // Large plain sends try zero copy (detail/send_zc.hpp).
          detail::send_zc_state& zc = this->sched_->send_zc();
          if (flags == 0 && this->fd_ >= 0 && zc.wanted(bytes, k.bufs.count)
              && !zc.refused(this->protocol_.family()) && zc_peer_remote(zc))
          {
            using op = detail::send_zc_op<decltype(handler), Executor, detail::send_kind>;
            this->async_used_ = true;
            op::launch(handler, this->ex_, *this->sched_, std::move(k), this->protocol_.family());
            return;
          }
          this->template launch_transfer<detail::send_kind>(handler, bytes, std::move(k));
        }, token, b, static_cast<int>(f));
  }
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send(b, 0, std::forward<WriteToken>(token));
  }
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send(b, 0, std::forward<WriteToken>(token));
  }

private:
  // Zero copy only pays when the kernel can hand our pages to a device, not
  // to a receiver on this host: asked once per descriptor (two system calls
  // at its first large send). A descriptor number reused by this object
  // (close, then open/connect) keeps the old answer: a cost, never an error.
  bool zc_peer_remote(const detail::send_zc_state& zc)
  {
    if (zc.local_peers()) return true;
    if (zc_fd_ != this->fd_)
    {
      zc_fd_ = this->fd_;
      zc_remote_ = !detail::peer_on_this_host(this->fd_);
    }
    return zc_remote_;
  }

  int zc_fd_ = -1;
  bool zc_remote_ = false;
};

} // namespace asio_uring

// Beast's customisation points (teardown, beast_close_socket) for these sockets.
#include <asio_uring/detail/beast_hooks.hpp>
