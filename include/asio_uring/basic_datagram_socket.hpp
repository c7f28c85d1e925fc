// asio_uring::basic_datagram_socket: Asio's datagram socket interface; the
// members it shares with basic_raw_socket live in detail::message_socket.
#pragma once

#include <asio_uring/basic_stream_socket.hpp>

namespace asio_uring {

namespace detail {

// recvmsg/sendmsg with an address: the peer's endpoint travels in the op.
template <typename Endpoint>
struct msg_kind : kind_base
{
  template <typename Buffers>
  msg_kind(int f, const Buffers& b, int fl, bool is_send, Endpoint* from, const Endpoint* to)
    : fd(f), flags(is_send ? (fl | MSG_NOSIGNAL) : fl), send(is_send), bufs(b), sender(from)
  {
    if (to)
    {
      std::memcpy(&addr, to->data(), to->size());
      addr_len = static_cast<socklen_t>(to->size());
    }
  }
  void prep(io_uring_sqe* sqe)
  {
    msg = {};
    msg.msg_iov = bufs.iov;
    msg.msg_iovlen = bufs.count;
    msg.msg_name = &addr;
    msg.msg_namelen = send ? addr_len : sizeof addr;
    if (send) io_uring_prep_sendmsg(sqe, fd, &msg, static_cast<unsigned>(flags));
    else io_uring_prep_recvmsg(sqe, fd, &msg, static_cast<unsigned>(flags));
  }
  std::tuple<boost::system::error_code, std::size_t> result(int res)
  {
    if (res >= 0 && sender)
    {
      std::memcpy(sender->data(), &addr, msg.msg_namelen);
      sender->resize(msg.msg_namelen);
    }
    return transfer_result(res);
  }
  int fd;
  int flags;
  bool send;
  iov_buffers<> bufs;
  Endpoint* sender;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  ::msghdr msg{};
};

// Whole messages, connected (send/receive) or addressed (send_to/receive_from):
// the interface Asio's datagram and raw sockets have in common.
template <typename Protocol, typename Executor>
class message_socket : public basic_socket<Protocol, Executor>
{
  using base = basic_socket<Protocol, Executor>;
  using msg_kind = detail::msg_kind<typename Protocol::endpoint>;
  using flags_type = boost::asio::socket_base::message_flags;

public:
  using typename base::executor_type;
  using typename base::endpoint_type;
  using typename base::protocol_type;

  using base::base;
  message_socket(message_socket&&) noexcept = default;
  message_socket& operator=(message_socket&&) = default;

  // --- connected ------------------------------------------------------------
  template <typename ConstBufferSequence>
  std::size_t send(const ConstBufferSequence& b, flags_type f = 0)
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
  std::size_t receive(const MutableBufferSequence& b, flags_type f = 0)
  {
    boost::system::error_code ec;
    std::size_t n = receive(b, f, ec);
    boost::asio::detail::throw_error(ec, "receive");
    return n;
  }
  template <typename MutableBufferSequence>
  std::size_t receive(const MutableBufferSequence& b, flags_type f, boost::system::error_code& ec)
  {
    return detail::sync_transfer<false>(this->fd_, b, f, false, ec);
  }

  // Completes with (error_code, bytes); an empty message is sent too.
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_send(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send(b, 0, std::forward<WriteToken>(token));
  }
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
  auto async_receive(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive(b, 0, std::forward<ReadToken>(token));
  }
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive(const MutableBufferSequence& b, flags_type f,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs, int flags) {
          this->template launch<detail::recv_kind>(handler, this->early_check(),
              detail::recv_kind(this->fd_, bufs, flags, false));
        }, token, b, static_cast<int>(f));
  }

  // --- addressed ------------------------------------------------------------
  template <typename ConstBufferSequence>
  std::size_t send_to(const ConstBufferSequence& b, const endpoint_type& to, flags_type f = 0)
  {
    boost::system::error_code ec;
    std::size_t n = send_to(b, to, f, ec);
    boost::asio::detail::throw_error(ec, "send_to");
    return n;
  }
  template <typename ConstBufferSequence>
  std::size_t send_to(const ConstBufferSequence& b, const endpoint_type& to, flags_type f,
      boost::system::error_code& ec)
  {
    detail::iov_buffers<64> bufs(b);
    ::msghdr msg{};
    msg.msg_iov = bufs.iov;
    msg.msg_iovlen = bufs.count;
    msg.msg_name = const_cast<sockaddr*>(to.data());
    msg.msg_namelen = static_cast<socklen_t>(to.size());
    ssize_t n;
    do n = ::sendmsg(this->fd_, &msg, f | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
    {
      ec = detail::last_error();
      return 0;
    }
    ec.clear();
    return static_cast<std::size_t>(n);
  }

  template <typename MutableBufferSequence>
  std::size_t receive_from(const MutableBufferSequence& b, endpoint_type& from, flags_type f = 0)
  {
    boost::system::error_code ec;
    std::size_t n = receive_from(b, from, f, ec);
    boost::asio::detail::throw_error(ec, "receive_from");
    return n;
  }
  template <typename MutableBufferSequence>
  std::size_t receive_from(const MutableBufferSequence& b, endpoint_type& from, flags_type f,
      boost::system::error_code& ec)
  {
    detail::iov_buffers<64> bufs(b);
    ::msghdr msg{};
    msg.msg_iov = bufs.iov;
    msg.msg_iovlen = bufs.count;
    msg.msg_name = from.data();
    msg.msg_namelen = static_cast<socklen_t>(from.capacity());
    ssize_t n;
    do n = ::recvmsg(this->fd_, &msg, f);
    while (n < 0 && errno == EINTR);
    if (n < 0)
    {
      ec = detail::last_error();
      return 0;
    }
    from.resize(msg.msg_namelen);
    ec.clear();
    return static_cast<std::size_t>(n);
  }

  // Completes with (error_code, bytes).
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_send_to(const ConstBufferSequence& b, const endpoint_type& to,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_send_to(b, to, 0, std::forward<WriteToken>(token));
  }
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_send_to(const ConstBufferSequence& b, const endpoint_type& to, flags_type f,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs, const endpoint_type& dest, int flags) {
          this->template launch<msg_kind>(handler, this->early_check(),
              msg_kind(this->fd_, bufs, flags, true, nullptr, &dest));
        }, token, b, to, static_cast<int>(f));
  }

  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive_from(const MutableBufferSequence& b, endpoint_type& from,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_receive_from(b, from, 0, std::forward<ReadToken>(token));
  }
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_receive_from(const MutableBufferSequence& b, endpoint_type& from, flags_type f,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this, &from](auto handler, const MutableBufferSequence& bufs, int flags) {
          this->template launch<msg_kind>(handler, this->early_check(),
              msg_kind(this->fd_, bufs, flags, false, &from, nullptr));
        }, token, b, static_cast<int>(f));
  }
};

} // namespace detail

template <typename Protocol, typename Executor = boost::asio::any_io_executor>
class basic_datagram_socket : public detail::message_socket<Protocol, Executor>
{
  using base = detail::message_socket<Protocol, Executor>;

public:
  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_datagram_socket<Protocol, OtherExecutor>;
  };

  using base::base;
  basic_datagram_socket(basic_datagram_socket&&) noexcept = default;
  basic_datagram_socket& operator=(basic_datagram_socket&&) = default;
  template <typename P1, typename E1, typename = std::enable_if_t<
      std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>>>
  basic_datagram_socket(basic_datagram_socket<P1, E1>&& o) : base(std::move(o)) {}
  template <typename P1, typename E1>
  std::enable_if_t<std::is_convertible_v<P1, Protocol> && std::is_convertible_v<E1, Executor>,
      basic_datagram_socket&> operator=(basic_datagram_socket<P1, E1>&& o)
  {
    base::operator=(std::move(o));
    return *this;
  }
};

} // namespace asio_uring
