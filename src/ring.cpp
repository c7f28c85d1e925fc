#include <asio_uring/detail/ring.hpp>

#include <boost/system/system_error.hpp>

#include <cerrno>
#include <cstdio>
#include <string>

namespace asio_uring::detail {

namespace {

int read_io_uring_disabled() noexcept
{
  int value = 0;
  if (std::FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "r"))
  {
    if (std::fscanf(f, "%d", &value) != 1) value = 0;
    std::fclose(f);
  }
  return value;
}

[[noreturn]] void throw_setup_error(int err)
{
  std::string what = "asio_uring::io_context: io_uring is unavailable: ";
  what += ring_setup_hint(err);
  throw boost::system::system_error(
      boost::system::error_code(err, boost::system::system_category()), what);
}

} // namespace

const char* ring_setup_hint(int err) noexcept
{
  switch (err)
  {
  case EPERM:
  case EACCES:
    if (read_io_uring_disabled() != 0)
      return "the kernel.io_uring_disabled sysctl forbids it for this process; "
             "set it to 0 (or to 1 and add the user to kernel.io_uring_group)";
    return "the kernel refused io_uring_setup (EPERM) although kernel.io_uring_disabled "
           "is 0: a seccomp profile (e.g. a container runtime's default) or an LSM "
           "blocks it; allow io_uring_setup, io_uring_enter and io_uring_register";
  case ENOSYS:
    return "io_uring_setup is not implemented (ENOSYS): the kernel is older than 5.1 or "
           "built without CONFIG_IO_URING, or a seccomp profile answers ENOSYS; "
           "use Linux 5.19+ with io_uring enabled, or allow the io_uring system calls";
  case ENOMEM:
    return "not enough memory for the ring (ENOMEM): raise RLIMIT_MEMLOCK (ulimit -l; "
           "kernels before 5.12 charge rings to it) or the address-space limit, "
           "or ask for fewer entries in io_context_options";
  case EMFILE:
  case ENFILE:
    return "out of file descriptors for the ring fd; raise RLIMIT_NOFILE (ulimit -n)";
  case EINVAL:
    return "the kernel rejected every ring configuration tried (EINVAL); "
           "check io_context_options (entries must be 1..32768)";
  default:
    return "io_uring_queue_init_params failed";
  }
}

ring::ring(const io_context_options& opts) : opts_(opts)
{
  // Best first; each step drops a flag an older kernel may not know.
  const unsigned coop = opts.coop_taskrun ? (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG) : 0u;
  const unsigned base = IORING_SETUP_CQSIZE | (opts.sqpoll ? IORING_SETUP_SQPOLL : 0u);
  const unsigned candidates[] = {
    base | IORING_SETUP_SUBMIT_ALL | coop,
    base | IORING_SETUP_SUBMIT_ALL,
    base,
  };
  int err = EINVAL;
  for (unsigned flags : candidates)
  {
    io_uring_params p{};
    p.flags = flags;
    p.cq_entries = opts.cq_entries ? opts.cq_entries : opts.entries * 8;
    p.sq_thread_idle = opts.sqpoll_idle_ms;
    int r = io_uring_queue_init_params(opts.entries, &ring_, &p);
    if (r == 0)
    {
      flags_ = flags;
      err = 0;
      break;
    }
    err = -r;
    if (err != EINVAL) break;
  }
  if (err) throw_setup_error(err);

  if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_))
  {
    for (int op = 0; op < probe->ops_len && op < 256; ++op)
      if (io_uring_opcode_supported(probe, op)) ops_.set(static_cast<unsigned>(op));
    io_uring_free_probe(probe);
  }
}

ring::~ring()
{
  io_uring_queue_exit(&ring_);
}

} // namespace asio_uring::detail
