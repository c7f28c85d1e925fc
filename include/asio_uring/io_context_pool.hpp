// asio_uring::io_context_pool: thread per core. N contexts, each created
// with the concurrency hint 1 (so each ring may use SINGLE_ISSUER) and run
// by its own thread, optionally pinned to one CPU; one acceptor per context
// on the same port with SO_REUSEPORT lets the kernel spread connections
// over them (doc/design.md, "Thread-per-core pool").
//
// A template on the context type so the same program can be built on
// boost::asio::io_context for comparison (the examples' EXAMPLE_USE_ASIO).
#pragma once

#include <boost/asio/socket_base.hpp>

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace asio_uring {

class io_context;

// SO_REUSEPORT, as a socket option for set_option/get_option.
using reuse_port = boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

template <typename Context>
class basic_io_context_pool
{
public:
  // `threads` contexts (0: one per CPU this process may run on); with
  // `pin`, thread i runs only on the i-th of those CPUs (modulo their count).
  explicit basic_io_context_pool(std::size_t threads = 0, bool pin = false) : pin_(pin)
  {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0)
      for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &allowed)) cpus_.push_back(c);
    if (cpus_.empty()) cpus_.push_back(0);
    if (threads == 0) threads = cpus_.size();
    contexts_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) contexts_.push_back(std::make_unique<Context>(1));
  }
  basic_io_context_pool(const basic_io_context_pool&) = delete;
  basic_io_context_pool& operator=(const basic_io_context_pool&) = delete;

  // Stops the contexts; pending handlers are destroyed unrun with them, as
  // when an io_context is destroyed. run() must have returned: from another
  // thread, stop() and join that thread first.
  ~basic_io_context_pool()
  {
    stop();
    join();
  }

  std::size_t size() const noexcept { return contexts_.size(); }
  Context& context(std::size_t i) { return *contexts_.at(i); }
  // Round-robin over the contexts (any thread).
  Context& get_io_context() noexcept
  {
    return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
  }
  // The CPU that thread `i` is pinned to (when pinning).
  int cpu_of(std::size_t i) const noexcept { return cpus_[i % cpus_.size()]; }

  // Runs context i on thread i and waits for all of them: returns when each
  // context ran out of work or stop() was called. An exception that escapes
  // a handler ends its thread's run() and stops the whole pool (the other
  // threads return from run() after their current handler; their pending
  // handlers stay, for restart() and run() again); run() rethrows the first
  // such exception once every thread is joined.
  void run()
  {
    {
      std::lock_guard lk(mutex_);
      if (!threads_.empty()) throw std::logic_error("asio_uring::io_context_pool: run() is already running");
      error_ = nullptr;
      for (std::size_t i = 0; i < contexts_.size(); ++i)
        threads_.emplace_back([this, i] { run_one_context(i); });
    }
    join();
    std::lock_guard lk(mutex_);
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

  // Stops every context (any thread).
  void stop()
  {
    for (auto& c : contexts_) c->stop();
  }
  // Makes run() possible again after stop() (or after an exception).
  void restart()
  {
    for (auto& c : contexts_) c->restart();
  }

private:
  void run_one_context(std::size_t i)
  {
    if (pin_)
    {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu_of(i), &one);
      ::pthread_setaffinity_np(::pthread_self(), sizeof one, &one);
    }
    try
    {
      contexts_[i]->run();
    }
    catch (...)
    {
      {
        std::lock_guard lk(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      stop();
    }
  }

  void join()
  {
    std::vector<std::thread> threads;
    {
      std::lock_guard lk(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  bool pin_;
  std::vector<int> cpus_;
  std::vector<std::unique_ptr<Context>> contexts_;
  std::atomic<std::size_t> next_{0};
  std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::exception_ptr error_;
};

using io_context_pool = basic_io_context_pool<io_context>;

// An acceptor on `ex` listening on `ep` with SO_REUSEPORT (and
// SO_REUSEADDR): several of them, one per context, share the port and the
// kernel spreads incoming connections over them.
template <typename Acceptor, typename Executor>
Acceptor reuse_port_acceptor(const Executor& ex, const typename Acceptor::endpoint_type& ep)
{
  Acceptor a(ex);
  a.open(ep.protocol());
  a.set_option(boost::asio::socket_base::reuse_address(true));
  a.set_option(reuse_port(true));
  a.bind(ep);
  a.listen();
  return a;
}

// One such acceptor per context of `pool`, all on `ep`'s port (port 0: the
// port the first one got).
template <typename Acceptor, typename Pool>
std::vector<Acceptor> reuse_port_acceptors(Pool& pool, typename Acceptor::endpoint_type ep)
{
  std::vector<Acceptor> out;
  out.reserve(pool.size());
  for (std::size_t i = 0; i < pool.size(); ++i)
  {
    out.push_back(reuse_port_acceptor<Acceptor>(pool.context(i).get_executor(), ep));
    if (i == 0) ep = out.front().local_endpoint();
  }
  return out;
}

} // namespace asio_uring
