// Construction options of asio_uring::io_context.
#pragma once

namespace asio_uring {

// What performs the context's requests.
enum class engine_kind
{
  // The kernel's io_uring; the emulated ring only when the kernel refuses
  // io_uring (EPERM, EACCES, ENOSYS, EOPNOTSUPP from io_uring_setup,
  // io_uring_enter or io_uring_register: seccomp, the
  // kernel.io_uring_disabled sysctl, gVisor), never for other errors.
  automatic,
  // The kernel's io_uring, or a system_error saying why it is unavailable.
  io_uring,
  // The same requests performed in user space with epoll and non-blocking
  // system calls (see doc/design.md, "The engine seam").
  emulated,
};

constexpr const char* to_string(engine_kind e) noexcept
{
  switch (e)
  {
  case engine_kind::io_uring: return "io_uring";
  case engine_kind::emulated: return "emulated";
  default: return "automatic";
  }
}

struct io_context_options
{
  // The environment variable ASIO_URING_ENGINE (io_uring, emulated or
  // automatic) overrides this for the whole process.
  engine_kind engine = engine_kind::automatic;
  // Submission queue size (rounded up to a power of two by the kernel).
  unsigned entries = 256;
  // Completion queue size; 0 means 8 * entries. In-flight operations may
  // exceed it: the kernel keeps overflowed completions (IORING_FEAT_NODROP)
  // and the context flushes them.
  unsigned cq_entries = 0;
  // Let a kernel thread poll the submission queue (IORING_SETUP_SQPOLL):
  // no io_uring_enter for submissions, at the price of a busy kernel thread.
  bool sqpoll = false;
  unsigned sqpoll_idle_ms = 1000;
  // Ask the kernel to run completion work only when we enter it
  // (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG).
  bool coop_taskrun = true;
};

} // namespace asio_uring
