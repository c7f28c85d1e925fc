// Construction options of asio_uring::io_context.
#pragma once

namespace asio_uring {

struct io_context_options
{
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
