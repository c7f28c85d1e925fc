// asio_uring_info: what a default asio_uring::io_context runs on here: the
// kernel, the engine, the ring's setup flags and features, and which of the
// opcodes the library uses the kernel has. Exits 0 when a context could be
// built, 1 (with the context's explanation) when it could not.
#include <asio_uring/io_context.hpp>

#include <boost/system/system_error.hpp>

#include <sys/utsname.h>

#include <cstdio>
#include <string>

namespace {

struct named
{
  unsigned long long bit;
  const char* name;
};

// Setup flags the library may ask for (src/ring.cpp), and the ones other
// engines or options may add later.
constexpr named setup_flags[] = {
  {IORING_SETUP_IOPOLL, "IOPOLL"},
  {IORING_SETUP_SQPOLL, "SQPOLL"},
  {IORING_SETUP_SQ_AFF, "SQ_AFF"},
  {IORING_SETUP_CQSIZE, "CQSIZE"},
  {IORING_SETUP_CLAMP, "CLAMP"},
  {IORING_SETUP_ATTACH_WQ, "ATTACH_WQ"},
  {IORING_SETUP_R_DISABLED, "R_DISABLED"},
  {IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL"},
  {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
  {IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG"},
  {IORING_SETUP_SQE128, "SQE128"},
  {IORING_SETUP_CQE32, "CQE32"},
  {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"},
  {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
};

constexpr named features[] = {
  {IORING_FEAT_SINGLE_MMAP, "SINGLE_MMAP"},
  {IORING_FEAT_NODROP, "NODROP"},
  {IORING_FEAT_SUBMIT_STABLE, "SUBMIT_STABLE"},
  {IORING_FEAT_RW_CUR_POS, "RW_CUR_POS"},
  {IORING_FEAT_CUR_PERSONALITY, "CUR_PERSONALITY"},
  {IORING_FEAT_FAST_POLL, "FAST_POLL"},
  {IORING_FEAT_POLL_32BITS, "POLL_32BITS"},
  {IORING_FEAT_SQPOLL_NONFIXED, "SQPOLL_NONFIXED"},
  {IORING_FEAT_EXT_ARG, "EXT_ARG"},
  {IORING_FEAT_NATIVE_WORKERS, "NATIVE_WORKERS"},
  {IORING_FEAT_RSRC_TAGS, "RSRC_TAGS"},
  {IORING_FEAT_CQE_SKIP, "CQE_SKIP"},
  {IORING_FEAT_LINKED_FILE, "LINKED_FILE"},
  // Newer than liburing 2.3's header: the kernel's uapi values.
  {1u << 13, "REG_REG_RING"},
  {1u << 14, "RECVSEND_BUNDLE"},
  {1u << 15, "MIN_TIMEOUT"},
  {1u << 16, "RW_ATTR"},
  {1u << 17, "NO_IOWAIT"},
};

// The opcodes the library submits (include/asio_uring/detail/uring_op.hpp,
// the I/O objects, src/scheduler.cpp), then the ones the design plans to use
// (multishot receive into provided buffers, zero-copy send).
constexpr named opcodes[] = {
  {IORING_OP_RECV, "RECV"},
  {IORING_OP_SEND, "SEND"},
  {IORING_OP_RECVMSG, "RECVMSG"},
  {IORING_OP_SENDMSG, "SENDMSG"},
  {IORING_OP_ACCEPT, "ACCEPT"},
  {IORING_OP_CONNECT, "CONNECT"},
  {IORING_OP_READ, "READ"},
  {IORING_OP_WRITE, "WRITE"},
  {IORING_OP_READV, "READV"},
  {IORING_OP_WRITEV, "WRITEV"},
  {IORING_OP_READ_FIXED, "READ_FIXED"},
  {IORING_OP_WRITE_FIXED, "WRITE_FIXED"},
  {IORING_OP_FSYNC, "FSYNC"},
  {IORING_OP_POLL_ADD, "POLL_ADD"},
  {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT"},
  {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
  {IORING_OP_TIMEOUT, "TIMEOUT"},
  {IORING_OP_PROVIDE_BUFFERS, "PROVIDE_BUFFERS"},
  {IORING_OP_SEND_ZC, "SEND_ZC"},
  {IORING_OP_SENDMSG_ZC, "SENDMSG_ZC"},
};

template <typename Table>
std::string names(const Table& table, unsigned long long bits)
{
  std::string out;
  for (const named& n : table)
    if (bits & n.bit)
    {
      if (!out.empty()) out += ' ';
      out += n.name;
      bits &= ~n.bit;
    }
  if (bits != 0)
  {
    char rest[32];
    std::snprintf(rest, sizeof rest, "%s0x%llx", out.empty() ? "" : " ", bits);
    out += rest;
  }
  return out.empty() ? "(none)" : out;
}

} // namespace

int main()
{
  utsname u{};
  if (::uname(&u) == 0) std::printf("kernel: %s %s %s\n", u.sysname, u.release, u.machine);
  try
  {
    asio_uring::io_context ctx;
    asio_uring::detail::ring& ring = ctx.impl().get_ring();
    std::printf("engine: %s%s\n", asio_uring::to_string(ctx.engine()),
        ctx.engine() == asio_uring::engine_kind::emulated
            ? " (the kernel refused io_uring, or ASIO_URING_ENGINE=emulated: epoll and non-blocking calls)" : "");
    const io_uring* r = ring.get();
    std::printf("entries: sq %u, cq %u\n", r->sq.ring_entries, r->cq.ring_entries);
    std::printf("setup flags: %s\n", names(setup_flags, ring.setup_flags()).c_str());
    std::printf("features: %s\n", names(features, ring.features()).c_str());
    std::string have, missing;
    for (const named& op : opcodes)
      (ring.supports(static_cast<int>(op.bit)) ? have : missing) += std::string(" ") + op.name;
    std::printf("opcodes:%s\n", have.empty() ? " (none)" : have.c_str());
    std::printf("opcodes missing:%s\n", missing.empty() ? " (none)" : missing.c_str());
    return 0;
  }
  catch (const boost::system::system_error& e)
  {
    std::printf("engine: none\n%s\n", e.what());
    return 1;
  }
}
