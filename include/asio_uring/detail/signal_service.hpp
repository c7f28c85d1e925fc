// Signals on the ring. A process-wide handler writes each signal number to
// one pipe per context that has signal sets; each context keeps a read of its
// pipe armed on its ring and hands the signal to every set that added it.
// (A signalfd would need the signal blocked in every thread, and a signal is
// consumed by one reader, so several contexts could not all see it.)
#pragma once

#include <asio_uring/detail/scheduler.hpp>

#include <boost/asio/execution_context.hpp>
#include <boost/system/error_code.hpp>

#include <csignal>

namespace asio_uring::detail {

constexpr int max_signal = 65;  // signal numbers are 1..64 on Linux

// The state of one signal_set, kept inside it.
struct signal_set_state
{
  bool registered[max_signal] = {};
  unsigned pending[max_signal] = {};  // arrived while nobody waited
  op_queue waiters;
  signal_set_state* next = nullptr;
};

class signal_service
  : public boost::asio::detail::execution_context_service_base<signal_service>
{
public:
  explicit signal_service(boost::asio::execution_context& ctx);
  ~signal_service() override;
  void shutdown() override {}
  // After fork: the parent re-arms its pipe read (fork_prepare cancelled
  // it); the child gets a pipe of its own, read on its new ring.
  void notify_fork(boost::asio::execution_context::fork_event e) override;

  scheduler& sched() noexcept { return sched_; }

  void add_set(signal_set_state& s);
  void remove_set(signal_set_state& s);
  boost::system::error_code add(signal_set_state& s, int signo);
  boost::system::error_code remove(signal_set_state& s, int signo);
  void clear(signal_set_state& s);
  // Waiting operations complete with operation_aborted (loop owner only).
  void cancel(signal_set_state& s);
  // Completes `op` with a pending signal or queues it (loop owner only).
  void start_wait(signal_set_state& s, operation* op);

private:
  static void on_read(scheduler* owner, operation* op, int res, unsigned flags);
  // The context's single-issuer ring moved to another thread, the read
  // parked when its submitter exited (scheduler::take_over_ring): re-arm.
  // (After fork, notify_fork does it, with a pipe of the child's own.)
  static void on_ring_renewed(void* self, scheduler::renewal why);
  void arm_read();
  void deliver(int signo);

  scheduler& sched_;
  int pipe_[2] = {-1, -1};
  int slot_ = -1;  // our place in the process-wide list of pipes
  unsigned char buf_[64];
  struct read_op : operation
  {
    explicit read_op(signal_service* s) : operation(&on_read), self(s) {}
    signal_service* self;
  } read_op_;
  bool read_armed_ = false;
  signal_set_state* sets_ = nullptr;  // loop owner only
};

} // namespace asio_uring::detail
