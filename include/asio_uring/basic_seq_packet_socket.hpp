// asio_uring::basic_seq_packet_socket: Asio's sequenced-packet socket
// interface (local::seq_packet_protocol, generic::seq_packet_protocol):
// reliable, connected, message boundaries kept, flags reported on receive.
#pragma once

#include <asio_uring/basic_stream_socket.hpp>

namespace asio_uring {

namespace detail {

// recvmsg that reports the message's flags (MSG_EOR, MSG_TRUNC...). A
// message of 0 bytes is a message, not end of file.
struct recvmsg_flags_kind : kind_base
{
  template <typename Buffers>
  recvmsg_flags_kind(int f, const Buffers& b, int in, boost::asio::socket_base::message_flags* out)
    : fd(f), in_flags(in), out_flags(out), bufs(b) {}
  void prep(io_uring_sqe* sqe)
  {
    msg = {};
    msg.msg_iov = bufs.iov;
    msg.msg_iovlen = bufs.count;
    io_uring_prep_recvmsg(sqe, fd, &msg, static_cast<unsigned>(in_flags));
  }
  std::tuple<boost::system::error_code, std::size_t> result(int res)
  {
    *out_flags = res >= 0 ? msg.msg_flags : 0;
    return transfer_result(res);
  }
  int fd;
  int in_flags;
  boost::asio::socket_base::message_flags* out_flags;
  iov_buffers<> bufs;
  ::msghdr msg{};
};

} // namespace detail

template <typename Protocol, typename Executor = boost::asio::any_io_executor>
class basic_seq_packet_socket : public basic_socket<Protocol, Executor>
{
  using base = basic_socket<Protocol, Executor>;
  using flags_type = boost::asio::socket_base::message_flags;

public:
  using typename base::executor_type;
  using typename base::endpoint_type;
  using typename base::protocol_type;
  using typename base::native_handle_type;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_seq_packet_socket<Protocol, OtherExecutor>;
  };

  using base::base;
  basic_seq_packet_socket(basic_seq_packet_socket&&) noexcept = default;
  basic_seq_packet_socket& operator=(basic_seq_packet_socket&&) = default;
  template <typename P1, typename E1, typename = std::enable_if_t<
      std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>>>
  basic_seq_packet_socket(basic_seq_packet_socket<P1, E1>&& o) : base(std::move(o)) {}
  template <typename P1, typename E1>
  std::enable_if_t<std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>,
      basic_seq_packet_socket&> operator=(basic_seq_packet_socket<P1, E1>&& o)
  {
    base::operator=(std::move(o));
    return *this;
  }

  // --- synchronous ----------------------------------------------------------
  template <typename ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& b, flags_type f)
  {
    boost::system::error_code ec;
    std::size_t n = send(b, f, ec);
    boost::asio::detail::throw_error(ec, "send");
    return n;
  }
  template <typename ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& b, flags_type f, boost::system::error_code& ec)
  {
    return detail::sync_transfer<true>(this->fd_, b, f, false, ec);
  }

  template <typename MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& b, flags_type& out_flags)
  {
    return receive(b, 0, out_flags);
  }
  template <typename MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& b, flags_type in_flags, flags_type& out_flags)
  {
    boost::system::error_code ec;
    std::size_t n = receive(b, in_flags, out_flags, ec);
    boost::asio::detail::throw_error(ec, "receive");
    return n;
  }
  template <typename MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& b, flags_type in_flags, flags_type& out_flags,
      boost::system::error_code& ec)
  {
    detail::iov_buffers<64> bufs(b);
    ::msghdr msg{};
    msg.msg_iov = bufs.iov;
    msg.msg_iovlen = bufs.count;
    ssize_t n;
    do n = ::recvmsg(this->fd_, &msg, in_flags);
    while (n < 0 && errno == EINTR);
    if (n < 0)
    {
      out_flags = 0;
      ec = detail::last_error();
      return 0;
    }
    out_flags = msg.msg_flags;
    ec.clear();
    return static_cast<std::size_t>(n);
  }

  // --- asynchronous -----------------------------------------------------------
  // Completes with (error_code, bytes); `out_flags` must outlive the operation.
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& b, flags_type f,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs, int flags) {
          this->template launch<detail::send_kind>(handler, this->early_check(),
              detail::send_kind(this->fd_, bufs, flags));
        }, token, b, static_cast<int>(f));
  }

  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& b, flags_type& out_flags,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(b, 0, out_flags, std::forward<ReadToken>(token));
  }
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& b, flags_type in_flags, flags_type& out_flags,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this, &out_flags](auto handler, const MutableBufferSequence& bufs, int flags) {
          this->template launch<detail::recvmsg_flags_kind>(handler, this->early_check(),
              detail::recvmsg_flags_kind(this->fd_, bufs, flags, &out_flags));
        }, token, b, static_cast<int>(in_flags));
  }
};

} // namespace asio_uring
