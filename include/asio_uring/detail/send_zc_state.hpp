// What one context knows about zero-copy sends (used by detail/send_zc.hpp):
// when to try IORING_OP_SEND_ZC, what the kernel refused, and counters.
#pragma once

#include <asio_uring/detail/ring.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace asio_uring::detail {

// From the kernel ABI (6.2); liburing 2.3's header predates them.
// IORING_SEND_ZC_REPORT_USAGE: the notification's res says whether the
// kernel copied after all (IORING_NOTIF_USAGE_ZC_COPIED).
inline constexpr unsigned send_zc_report_usage = 1U << 3;
inline constexpr unsigned notif_usage_zc_copied = 1U << 31;

class send_zc_state
{
public:
  static constexpr std::size_t never = std::numeric_limits<std::size_t>::max();

  // Diagnostics (tests, benchmarks): written by the loop owner only, so a
  // relaxed load and store is enough; read them when the context is idle.
  struct counters
  {
    std::atomic<std::uint64_t> requests{0};       // SEND_ZC / SENDMSG_ZC SQEs
    std::atomic<std::uint64_t> notifications{0};  // IORING_CQE_F_NOTIF CQEs
    std::atomic<std::uint64_t> copied{0};         // ... with IORING_NOTIF_USAGE_ZC_COPIED
    std::atomic<std::uint64_t> fallbacks{0};      // copying sends after a refusal
  };

  explicit send_zc_state(const ring& r) noexcept
    : threshold_(r.engine() == engine_kind::io_uring && r.supports(IORING_OP_SEND_ZC)
            && r.options().send_zc_threshold != 0 ? r.options().send_zc_threshold : never),
      sendmsg_(r.supports(IORING_OP_SENDMSG_ZC)), local_(r.options().send_zc_local)
  {
  }

  // A send of `bytes` in `buffers` buffers is worth zero copy.
  bool wanted(std::size_t bytes, std::size_t buffers) const noexcept
  {
    return bytes >= threshold_.load(std::memory_order_relaxed) && (buffers == 1 || sendmsg_);
  }
  // Sockets of address family `family` cannot send without copying.
  bool refused(int family) const noexcept
  {
    return refused_families_.load(std::memory_order_relaxed) & family_bit(family);
  }

  // Zero copy even when the peer is on this host (send_zc_local).
  bool local_peers() const noexcept { return local_; }

  // The kernel answered EOPNOTSUPP: sockets of this family cannot send
  // without copying (SOCK_SUPPORT_ZC is per protocol, e.g. none for AF_UNIX).
  void refuse_family(int family) noexcept
  {
    refused_families_.fetch_or(family_bit(family), std::memory_order_relaxed);
  }
  // The kernel answered EINVAL without IORING_SEND_ZC_REPORT_USAGE: no zero
  // copy in this context at all.
  void refuse_all() noexcept { threshold_.store(never, std::memory_order_relaxed); }

  // IORING_SEND_ZC_REPORT_USAGE (kernel 6.2+) is asked for until the kernel
  // rejects it with EINVAL.
  unsigned zc_flags() const noexcept
  { return usage_report_.load(std::memory_order_relaxed) ? send_zc_report_usage : 0u; }
  void refuse_usage_report() noexcept { usage_report_.store(false, std::memory_order_relaxed); }

  static void bump(std::atomic<std::uint64_t>& c) noexcept
  { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

  counters stats;

private:
  static std::uint64_t family_bit(int family) noexcept
  { return family >= 0 && family < 64 ? std::uint64_t(1) << family : 0; }

  std::atomic<std::size_t> threshold_;
  std::atomic<std::uint64_t> refused_families_{0};
  std::atomic<bool> usage_report_{true};
  const bool sendmsg_;
  const bool local_;
};

} // namespace asio_uring::detail
