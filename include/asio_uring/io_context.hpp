// asio_uring::io_context: boost::asio::io_context's interface, run on io_uring.
#pragma once

#include <asio_uring/detail/scheduler.hpp>
#include <asio_uring/io_context_options.hpp>

#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/detail/recycling_allocator.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

namespace asio_uring {

namespace detail {

// A posted function with its allocator.
template <typename Function, typename Alloc>
class executor_op : public operation
{
public:
  template <typename F>
  executor_op(F&& f, const Alloc& a) : operation(&do_complete), f_(std::forward<F>(f)), alloc_(a) {}

  static void do_complete(scheduler* owner, operation* base, int, unsigned)
  {
    auto* o = static_cast<executor_op*>(base);
    Alloc alloc(o->alloc_);
    Function f(std::move(o->f_));
    destroy(o, alloc);
    if (owner) std::move(f)();
  }

  // Allocation through the recycling form of `a` (a per-thread cache when
  // `a` is std::allocator): steady state allocates nothing.
  template <typename F>
  static executor_op* create(F&& f, const Alloc& a)
  {
    op_alloc oa(rebound(a));
    executor_op* p = oa.allocate(1);
    try { return new (p) executor_op(std::forward<F>(f), a); }
    catch (...) { oa.deallocate(p, 1); throw; }
  }

private:
  using recycling = typename boost::asio::detail::get_recycling_allocator<
      Alloc, boost::asio::detail::thread_info_base::default_tag>::type;
  using op_alloc = typename std::allocator_traits<recycling>::template rebind_alloc<executor_op>;
  static recycling rebound(const Alloc& a)
  {
    return boost::asio::detail::get_recycling_allocator<
        Alloc, boost::asio::detail::thread_info_base::default_tag>::get(a);
  }
  static void destroy(executor_op* o, const Alloc& a)
  {
    op_alloc oa(rebound(a));
    o->~executor_op();
    oa.deallocate(o, 1);
  }

  Function f_;
  Alloc alloc_;
};

} // namespace detail

class io_context;

namespace detail {

// Marks an execution_context as an asio_uring::io_context (Asio's
// execution_context is not polymorphic, so dynamic_cast cannot tell).
class context_marker
  : public boost::asio::detail::execution_context_service_base<context_marker>
{
public:
  context_marker(boost::asio::execution_context& ctx, io_context* owner = nullptr)
    : boost::asio::detail::execution_context_service_base<context_marker>(ctx), owner_(owner) {}
  void shutdown() override {}
  io_context* owner() const noexcept { return owner_; }

private:
  io_context* owner_;
};

} // namespace detail

class io_context : public boost::asio::execution_context
{
public:
  template <typename Allocator, unsigned Bits>
  class basic_executor_type;
  using executor_type = basic_executor_type<std::allocator<void>, 0>;
  using count_type = std::size_t;

  io_context() : io_context(io_context_options{}) {}
  // As boost::asio::io_context's: 1 says one thread runs the context, which
  // lets the ring use single_issuer (io_context_options).
  explicit io_context(int concurrency_hint) : io_context(hinted(concurrency_hint)) {}
  explicit io_context(const io_context_options& opts)
    : impl_(std::make_unique<detail::scheduler>(opts))
  {
    boost::asio::make_service<detail::context_marker>(*this, this);
  }

  ~io_context()
  {
    // Our handlers first (they may own Asio objects), then Asio's services.
    impl_->shutdown();
    boost::asio::execution_context::shutdown();
    boost::asio::execution_context::destroy();
  }

  io_context(const io_context&) = delete;
private:
  static io_context_options hinted(int hint) noexcept
  {
    io_context_options o;
    o.concurrency_hint = hint;
    return o;
  }
public:
  io_context& operator=(const io_context&) = delete;

  executor_type get_executor() noexcept;

  // As Asio's (execution_context::notify_fork), for the ring: call it with
  // fork_prepare before fork(), then fork_parent in the parent and
  // fork_child in the child. Pending operations stay pending in both
  // processes; the child gets a ring of its own (src/fork.cpp).
  void notify_fork(fork_event event)
  {
    switch (event)
    {
    case fork_prepare:
      boost::asio::execution_context::notify_fork(event);
      impl_->fork_prepare();
      break;
    case fork_parent:
      impl_->fork_parent();
      boost::asio::execution_context::notify_fork(event);
      break;
    case fork_child:
      if (std::size_t lost = impl_->fork_child(); lost != 0)
      {
        boost::asio::execution_context::notify_fork(event);
        throw boost::system::system_error(boost::asio::error::operation_not_supported,
            "asio_uring::io_context::notify_fork(fork_child): requests were in the kernel "
            "at fork() without notify_fork(fork_prepare) before it; they stay with the "
            "parent and never complete here");
      }
      boost::asio::execution_context::notify_fork(event);
      break;
    }
  }

  count_type run() { return impl_->run(max_count, true, nullptr); }
  count_type run_one() { return impl_->run(1, true, nullptr); }
  count_type poll() { return impl_->run(max_count, false, nullptr); }
  count_type poll_one() { return impl_->run(1, false, nullptr); }

  template <typename Rep, typename Period>
  count_type run_for(const std::chrono::duration<Rep, Period>& d)
  { return run_until(std::chrono::steady_clock::now() + d); }

  template <typename Clock, typename Duration>
  count_type run_until(const std::chrono::time_point<Clock, Duration>& t)
  {
    auto deadline = to_steady(t);
    return impl_->run(max_count, true, &deadline);
  }

  template <typename Rep, typename Period>
  count_type run_one_for(const std::chrono::duration<Rep, Period>& d)
  { return run_one_until(std::chrono::steady_clock::now() + d); }

  template <typename Clock, typename Duration>
  count_type run_one_until(const std::chrono::time_point<Clock, Duration>& t)
  {
    auto deadline = to_steady(t);
    return impl_->run(1, true, &deadline);
  }

  void stop() { impl_->stop(); }
  bool stopped() const noexcept { return impl_->stopped(); }
  void restart() noexcept { impl_->restart(); }

  // Which engine performs the requests: engine_kind::io_uring or
  // engine_kind::emulated (never automatic); to_string() names it.
  engine_kind engine() const noexcept { return impl_->get_ring().engine(); }

  // The loop itself, for I/O objects.
  detail::scheduler& impl() noexcept { return *impl_; }

private:
  static constexpr count_type max_count = ~count_type(0);

  template <typename Clock, typename Duration>
  static std::chrono::steady_clock::time_point to_steady(const std::chrono::time_point<Clock, Duration>& t)
  {
    if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>)
      return std::chrono::time_point_cast<std::chrono::steady_clock::duration>(t);
    else
      return std::chrono::steady_clock::now()
          + std::chrono::duration_cast<std::chrono::steady_clock::duration>(t - Clock::now());
  }

  std::unique_ptr<detail::scheduler> impl_;
};

// The executor: Asio's standard executor concept (with its properties) and
// the Networking TS executor requirements, as io_context::executor_type.
template <typename Allocator, unsigned Bits>
class io_context::basic_executor_type : private Allocator
{
  enum : unsigned
  {
    blocking_never = 1,
    relationship_continuation = 2,
    outstanding_work_tracked = 4
  };

public:
  basic_executor_type(const basic_executor_type& o) noexcept
    : Allocator(static_cast<const Allocator&>(o)), ctx_(o.ctx_)
  {
    if (Bits & outstanding_work_tracked) ctx_->impl().work_started();
  }
  basic_executor_type(basic_executor_type&& o) noexcept
    : Allocator(static_cast<Allocator&&>(o)), ctx_(o.ctx_)
  {
    if (Bits & outstanding_work_tracked) o.ctx_ = nullptr;
  }
  ~basic_executor_type()
  {
    if ((Bits & outstanding_work_tracked) && ctx_) ctx_->impl().work_finished();
  }
  basic_executor_type& operator=(const basic_executor_type& o) noexcept
  {
    if (this != &o)
    {
      basic_executor_type tmp(o);
      swap(tmp);
    }
    return *this;
  }
  basic_executor_type& operator=(basic_executor_type&& o) noexcept
  {
    if (this != &o)
    {
      basic_executor_type tmp(std::move(o));
      swap(tmp);
    }
    return *this;
  }

  // --- properties ----------------------------------------------------------
  basic_executor_type<Allocator, Bits & ~blocking_never>
  require(boost::asio::execution::blocking_t::possibly_t) const
  { return {ctx_, *this}; }
  basic_executor_type<Allocator, Bits | blocking_never>
  require(boost::asio::execution::blocking_t::never_t) const
  { return {ctx_, *this}; }
  basic_executor_type<Allocator, Bits & ~relationship_continuation>
  require(boost::asio::execution::relationship_t::fork_t) const
  { return {ctx_, *this}; }
  basic_executor_type<Allocator, Bits | relationship_continuation>
  require(boost::asio::execution::relationship_t::continuation_t) const
  { return {ctx_, *this}; }
  basic_executor_type<Allocator, Bits | outstanding_work_tracked>
  require(boost::asio::execution::outstanding_work_t::tracked_t) const
  { return {ctx_, *this}; }
  basic_executor_type<Allocator, Bits & ~outstanding_work_tracked>
  require(boost::asio::execution::outstanding_work_t::untracked_t) const
  { return {ctx_, *this}; }
  template <typename OtherAllocator>
  basic_executor_type<OtherAllocator, Bits>
  require(boost::asio::execution::allocator_t<OtherAllocator> a) const
  { return {ctx_, a.value()}; }
  basic_executor_type<std::allocator<void>, Bits>
  require(boost::asio::execution::allocator_t<void>) const
  { return {ctx_, std::allocator<void>()}; }

  static constexpr boost::asio::execution::mapping_t query(boost::asio::execution::mapping_t) noexcept
  { return boost::asio::execution::mapping.thread; }
  io_context& query(boost::asio::execution::context_t) const noexcept { return *ctx_; }
  constexpr boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) const noexcept
  {
    return (Bits & blocking_never) ? boost::asio::execution::blocking_t(boost::asio::execution::blocking.never)
                                   : boost::asio::execution::blocking_t(boost::asio::execution::blocking.possibly);
  }
  constexpr boost::asio::execution::relationship_t query(boost::asio::execution::relationship_t) const noexcept
  {
    return (Bits & relationship_continuation)
        ? boost::asio::execution::relationship_t(boost::asio::execution::relationship.continuation)
        : boost::asio::execution::relationship_t(boost::asio::execution::relationship.fork);
  }
  static constexpr boost::asio::execution::outstanding_work_t query(boost::asio::execution::outstanding_work_t) noexcept
  {
    return (Bits & outstanding_work_tracked)
        ? boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.tracked)
        : boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.untracked);
  }
  template <typename ProtoAllocator>
  constexpr Allocator query(boost::asio::execution::allocator_t<ProtoAllocator>) const noexcept
  { return static_cast<const Allocator&>(*this); }
  constexpr Allocator query(boost::asio::execution::allocator_t<void>) const noexcept
  { return static_cast<const Allocator&>(*this); }

  // Runs `f` now when this thread is inside run() and blocking.never was not
  // asked for; otherwise queues it.
  template <typename Function>
  void execute(Function&& f) const
  {
    using function_type = std::decay_t<Function>;
    detail::scheduler& s = ctx_->impl();
    if (!(Bits & blocking_never) && s.running_in_this_thread())
    {
      function_type tmp(std::forward<Function>(f));
      try
      {
        std::move(tmp)();
      }
      catch (...)
      {
        // Rethrown by run() once the enclosing handler returns, as in Asio.
        detail::tl_thread_ctx->capture_current_exception();
      }
      return;
    }
    s.post_immediate(detail::executor_op<function_type, Allocator>::create(
        std::forward<Function>(f), static_cast<const Allocator&>(*this)));
  }

  // --- Networking TS ---------------------------------------------------------
  io_context& context() const noexcept { return *ctx_; }
  void on_work_started() const noexcept { ctx_->impl().work_started(); }
  void on_work_finished() const noexcept { ctx_->impl().work_finished(); }

  template <typename Function, typename OtherAllocator>
  void dispatch(Function&& f, const OtherAllocator& a) const
  {
    using function_type = std::decay_t<Function>;
    if (running_in_this_thread())
    {
      function_type tmp(std::forward<Function>(f));
      std::move(tmp)();
      return;
    }
    post(std::forward<Function>(f), a);
  }
  template <typename Function, typename OtherAllocator>
  void post(Function&& f, const OtherAllocator& a) const
  {
    ctx_->impl().post_immediate(detail::executor_op<std::decay_t<Function>, OtherAllocator>::create(
        std::forward<Function>(f), a));
  }
  template <typename Function, typename OtherAllocator>
  void defer(Function&& f, const OtherAllocator& a) const
  {
    post(std::forward<Function>(f), a);
  }

  bool running_in_this_thread() const noexcept { return ctx_->impl().running_in_this_thread(); }

  friend bool operator==(const basic_executor_type& a, const basic_executor_type& b) noexcept
  {
    return a.ctx_ == b.ctx_
        && static_cast<const Allocator&>(a) == static_cast<const Allocator&>(b);
  }
  friend bool operator!=(const basic_executor_type& a, const basic_executor_type& b) noexcept
  { return !(a == b); }

  void swap(basic_executor_type& o) noexcept
  {
    std::swap(ctx_, o.ctx_);
    std::swap(static_cast<Allocator&>(*this), static_cast<Allocator&>(o));
  }

private:
  friend class io_context;
  template <typename, unsigned> friend class basic_executor_type;

  basic_executor_type(io_context* ctx, const Allocator& a) noexcept
    : Allocator(a), ctx_(ctx)
  {
    if (Bits & outstanding_work_tracked) ctx_->impl().work_started();
  }

  io_context* ctx_;
};

inline io_context::executor_type io_context::get_executor() noexcept
{
  return executor_type(this, std::allocator<void>());
}

} // namespace asio_uring
