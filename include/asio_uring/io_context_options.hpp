// Construction options of asio_uring::io_context.
#pragma once

#include <cstddef>

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

  // --- the fast path (doc/design.md, "The fast path") -----------------------
  // Each feature is probed at run time and used only where the engine has it
  // (the emulated engine has none of them); these switch them off, for
  // ablation or for a kernel that misbehaves. The environment variable
  // ASIO_URING_FEATURES, a comma-separated list of "-name" / "+name" with the
  // names below (e.g. "-single_issuer,-multishot_recv"), overrides them for
  // the whole process (see apply_feature_env).

  // Asio's concurrency hint, as passed to io_context(int). 1 (one thread
  // runs the context) enables single_issuer.
  int concurrency_hint = 0;
  // With concurrency_hint 1: IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN.
  bool single_issuer = true;
  // io_uring_register_ring_fd: io_uring_enter without an fd lookup.
  bool register_ring_fd = true;
  // One IORING_ACCEPT_MULTISHOT request for an acceptor that keeps
  // accepting; up to accept_backlog connections accepted while no
  // async_accept is pending are kept for the next one.
  bool multishot_accept = true;
  unsigned accept_backlog = 64;
  // Multishot receive into a provided buffer ring for stream sockets that
  // read repeatedly: recv_buffers buffers of recv_buffer_size bytes per
  // context (recv_buffers a power of two).
  bool multishot_recv = true;
  unsigned recv_buffer_size = 4096;
  unsigned recv_buffers = 1024;
  // Sends of at least this many bytes use IORING_OP_SEND_ZC; 0: never.
  std::size_t send_zc_threshold = 64 * 1024;
  // Registered files: a stream socket that has initiated
  // registered_files_after operations gets a slot in the ring's sparse file
  // table of registered_files_table slots (at most RLIMIT_NOFILE), and its
  // sends, receives (the multishot too), zero-copy sends and waits then name
  // the slot (IOSQE_FIXED_FILE: no file reference taken per request).
  // native_handle() stays the real descriptor; the slot is emptied before
  // close() closes it or release() hands it back. A full table leaves a
  // socket on its descriptor. Off by default: measured at 0.3-2.5% of a
  // round trip's CPU time with single-shot reads, within noise with the
  // default multishot receive, and a table that holds a reference to the
  // socket means a ::close(native_handle()) behind the object's back no
  // longer ends the connection (doc/design.md, "Registered files").
  bool registered_files = false;
  unsigned registered_files_table = 1024;
  unsigned registered_files_after = 32;
  // Zero copy also for TCP peers on this host (loopback, or the socket's own
  // address). The kernel copies such sends anyway (it cannot hand user pages
  // to a local receiver), so zero copy only adds the page pinning and the
  // notification: 15-50% more CPU per byte, measured (doc/design.md,
  // "Zero-copy send"). For tests and measurements; ASIO_URING_FEATURES
  // name: send_zc_local.
  bool send_zc_local = false;
  // Batch wait (opt-in; IORING_FEAT_MIN_TIMEOUT, Linux 6.12): a loop turn
  // that has run out of work waits up to batch_wait_usec for
  // batch_wait_count completions, and after that takes whatever has arrived
  // (or sleeps on until the first one). Fewer, fuller turns: fewer
  // io_uring_enter calls and wake-ups per request, for up to batch_wait_usec
  // of added latency on a completion that arrives alone. That includes the
  // wake-up of a call from another thread: a post, stop(), and the calls
  // that need the loop (close(), cancel(), a timer armed there, fork_prepare)
  // may wait that long. The loop's own deadlines (a timer set on its thread,
  // run_for) are kept. 0: off; at most 1,000,000 (1 s), batch_wait_count 2
  // to 65536 (else the constructor throws std::invalid_argument). Not with
  // sqpoll; the emulated engine ignores it.
  // ASIO_URING_FEATURES: "+batch_wait" (50 us where batch_wait_usec is 0),
  // "batch_wait=USEC" or "batch_wait=USEC:COUNT", "-batch_wait" (off).
  unsigned batch_wait_usec = 0;
  unsigned batch_wait_count = 32;
};

// Applies ASIO_URING_FEATURES to `o`. Throws std::invalid_argument naming an
// unknown feature.
void apply_feature_env(io_context_options& o);

} // namespace asio_uring
