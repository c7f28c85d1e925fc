// A stream send as IORING_OP_SEND_ZC (one buffer) or IORING_OP_SENDMSG_ZC
// (several): the kernel sends from the caller's pages instead of copying
// them, and says with a second CQE (IORING_CQE_F_NOTIF) when it no longer
// needs them. The handler may free or reuse the buffer, so it runs only after
// both CQEs. Two CQEs for one operation cannot go through the ready queue,
// so this operation is internal: reap() hands it every CQE and it queues
// itself (push_ready) once the last one arrived.
//
// A kernel or socket that refuses zero copy (EOPNOTSUPP: the protocol lacks
// it, e.g. AF_UNIX; EINVAL: the kernel rejects the request) gets the same
// bytes sent by a copying send instead, and the context remembers the
// refusal (send_zc_state), so the caller never sees it.
#pragma once

#include <asio_uring/detail/send_zc_state.hpp>
#include <asio_uring/detail/uring_op.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace asio_uring::detail {

// The connected IPv4/IPv6 peer of `fd` is on this host (a loopback address
// or the socket's own address): the kernel would copy a zero-copy send to it.
// False for other families (AF_UNIX refuses zero copy outright: EOPNOTSUPP).
inline bool peer_on_this_host(int fd) noexcept
{
  sockaddr_storage peer{}, self{};
  socklen_t plen = sizeof peer, slen = sizeof self;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &slen) != 0)
    return false;
  if (peer.ss_family == AF_INET)
  {
    const auto& p = reinterpret_cast<const sockaddr_in&>(peer).sin_addr;
    const auto& s = reinterpret_cast<const sockaddr_in&>(self).sin_addr;
    return (ntohl(p.s_addr) >> 24) == 127 || p.s_addr == s.s_addr;
  }
  if (peer.ss_family == AF_INET6)
  {
    const auto& p = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
    const auto& s = reinterpret_cast<const sockaddr_in6&>(self).sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&p) || (IN6_IS_ADDR_V4MAPPED(&p) && p.s6_addr[12] == 127)
        || std::memcmp(&p, &s, sizeof p) == 0;
  }
  return false;
}

// `Kind` is the copying send (send_kind): its fd, flags, bufs and msg, and
// its prep() for the fallback.
template <typename Handler, typename IoExecutor, typename Kind>
class send_zc_op : public operation
{
public:
  send_zc_op(Handler&& h, const IoExecutor& ex, scheduler& s, Kind&& k, int family)
    : operation(&do_complete), kind_(std::move(k)), handler_(std::move(h)),
      work_(handler_, ex, s), family_(family)
  {
    set_internal();
  }

  // `kind` has an open descriptor and at least one byte to send.
  static void launch(Handler& h, const IoExecutor& ex, scheduler& s, Kind&& kind, int family)
  {
    auto* o = op_allocator<Handler>::template create<send_zc_op>(h, ex, s, std::move(kind), family);
    s.work_started();
    auto slot = boost::asio::get_associated_cancellation_slot(o->handler_);
    if (slot.is_connected())
      slot.template emplace<request_cancel>(request_cancel{&s, o});
    if (s.loop_owner_here()) o->queue_zero_copy(s);
    else s.defer_start(o);
  }

private:
  enum class phase : unsigned char
  {
    idle,       // not started (waits for the loop owner)
    zero_copy,  // SEND_ZC in the kernel: waiting for its result and notification
    copy,       // the copying send after a refusal
    ready,      // in the ready queue: res_ is the handler's result
  };

  void queue_zero_copy(scheduler& s)
  {
    send_zc_state& zc = s.send_zc();
    zc_flags_ = zc.zc_flags();
    io_uring_sqe* sqe = s.get_sqe();
    if (kind_.bufs.count == 1)
      io_uring_prep_send_zc(sqe, kind_.fd, kind_.bufs.iov[0].iov_base, kind_.bufs.iov[0].iov_len,
          kind_.flags, zc_flags_);
    else
    {
      kind_.msg = {};
      kind_.msg.msg_iov = kind_.bufs.iov;
      kind_.msg.msg_iovlen = kind_.bufs.count;
      io_uring_prep_sendmsg_zc(sqe, kind_.fd, &kind_.msg, static_cast<unsigned>(kind_.flags));
      sqe->ioprio = static_cast<std::uint16_t>(zc_flags_);
    }
    if (kind_.slot >= 0) s.get_ring().files().apply(sqe, kind_.slot);
    io_uring_sqe_set_data64(sqe, user_data());
    s.op_submitted();
    send_zc_state::bump(zc.stats.requests);
    phase_ = phase::zero_copy;
    result_seen_ = notif_seen_ = notif_due_ = false;
  }

  void queue_copy(scheduler& s)
  {
    io_uring_sqe* sqe = s.get_sqe();
    kind_.prep(sqe);
    if (kind_.slot >= 0) s.get_ring().files().apply(sqe, kind_.slot);
    io_uring_sqe_set_data64(sqe, user_data());
    s.op_submitted();
    send_zc_state::bump(s.send_zc().stats.fallbacks);
    phase_ = phase::copy;
  }

  void finish(scheduler& s, int res)
  {
    phase_ = phase::ready;
    set_result(res, 0);
    s.push_ready(this);
  }

  // A CQE of the zero-copy request (result or notification, either order).
  void on_zero_copy_cqe(scheduler& s, int res, unsigned flags)
  {
    send_zc_state& zc = s.send_zc();
    if (flags & IORING_CQE_F_NOTIF)
    {
      notif_seen_ = true;
      send_zc_state::bump(zc.stats.notifications);
      // res is a flag word here (the copied flag is bit 31).
      if (static_cast<unsigned>(res) & notif_usage_zc_copied)
        send_zc_state::bump(zc.stats.copied);
    }
    else
    {
      result_seen_ = true;
      result_ = res;
      // Without F_MORE no notification follows (the request failed early).
      notif_due_ = (flags & IORING_CQE_F_MORE) != 0;
    }
    if (!result_seen_ || (notif_due_ && !notif_seen_)) return;

    if (result_ == -EINVAL && zc_flags_)
    {
      zc.refuse_usage_report();  // kernel before 6.2
      queue_zero_copy(s);
    }
    else if (result_ == -EINVAL)
    {
      zc.refuse_all();
      queue_copy(s);
    }
    else if (result_ == -EOPNOTSUPP)
    {
      zc.refuse_family(family_);
      queue_copy(s);
    }
    else
      finish(s, result_);
  }

  static void do_complete(scheduler* owner, operation* base, int res, unsigned flags)
  {
    auto* o = static_cast<send_zc_op*>(base);
    if (!owner)
    {
      clear_slot(o->handler_);
      destroy_op(o, o->handler_);
      return;
    }
    switch (o->phase_)
    {
    case phase::idle: o->queue_zero_copy(*owner); return;
    case phase::zero_copy: o->on_zero_copy_cqe(*owner, res, flags); return;
    case phase::copy: o->finish(*owner, res); return;
    case phase::ready: break;
    }

    clear_slot(o->handler_);
    finish_op(o, o->handler_, o->work_, o->kind_.result(res));
  }

  Kind kind_;
  Handler handler_;
  handler_work<Handler, IoExecutor> work_;
  int family_;
  int result_ = 0;
  unsigned zc_flags_ = 0;
  phase phase_ = phase::idle;
  bool result_seen_ = false;
  bool notif_seen_ = false;
  bool notif_due_ = false;
};

} // namespace asio_uring::detail
