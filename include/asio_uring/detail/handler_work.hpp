// How an operation holds its handler's executor and delivers the result.
#pragma once

#include <asio_uring/io_context.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/prefer.hpp>

#include <optional>
#include <type_traits>

namespace asio_uring::detail {

template <typename T>
struct is_our_executor : std::false_type {};
template <typename A, unsigned B>
struct is_our_executor<io_context::basic_executor_type<A, B>> : std::true_type {};

// True when completing on `ex` is a plain call: it is our executor on the
// scheduler that reaps the completion (possibly inside a type-erased one).
template <typename Executor>
bool is_native_executor(const Executor& ex, const scheduler& s) noexcept
{
  if constexpr (is_our_executor<Executor>::value)
    return &ex.context().impl() == &s;
  else if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>
      || std::is_same_v<Executor, boost::asio::any_completion_executor>)
  {
    if (auto* p = ex.template target<io_context::executor_type>())
      return &p->context().impl() == &s;
    return false;
  }
  else
    return false;
}

// The outstanding work an operation keeps on its handler's associated
// executor, and the dispatch of the handler through that executor. When the
// executor is ours (the common case) it holds nothing and completion is a
// direct call: the scheduler already counts the operation's work.
template <typename Handler, typename IoExecutor>
class handler_work
{
  using assoc_type = boost::asio::associated_executor_t<Handler, IoExecutor>;
  static constexpr bool standard = boost::asio::execution::is_executor<assoc_type>::value;

  template <bool Std, typename = void>
  struct work_of { using type = boost::asio::executor_work_guard<assoc_type>; };
  template <typename D>
  struct work_of<true, D>
  {
    using type = std::decay_t<typename boost::asio::prefer_result<assoc_type,
        boost::asio::execution::outstanding_work_t::tracked_t>::type>;
  };
  using work_type = typename work_of<standard>::type;

public:
  [[gnu::always_inline]] handler_work(Handler& h, const IoExecutor& io_ex, const scheduler& s)
  {
    assoc_type ex = boost::asio::get_associated_executor(h, io_ex);
    if (is_native_executor(ex, s)) return;
    if constexpr (standard)
      work_.emplace(boost::asio::prefer(ex, boost::asio::execution::outstanding_work.tracked));
    else
      work_.emplace(ex);
  }

  handler_work(handler_work&&) = default;

  // Completion is a plain call: the handler's executor is ours.
  bool native() const noexcept { return !work_; }

  // Runs `f` (the handler bound to its arguments) as the handler's executor
  // requires.
  template <typename Function>
  void complete(Function& f, Handler& h)
  {
    if (!work_)
    {
      std::move(f)();
      return;
    }
    if constexpr (standard)
    {
      // The member form: execution::execute() is gone under
      // BOOST_ASIO_NO_DEPRECATED, as in Asio's own handler_work.
      boost::asio::prefer(*work_, boost::asio::execution::blocking.possibly,
          boost::asio::execution::allocator(boost::asio::get_associated_allocator(h)))
        .execute(std::move(f));
    }
    else
    {
      work_->get_executor().dispatch(std::move(f), boost::asio::get_associated_allocator(h));
      work_.reset();
    }
  }

private:
  std::optional<work_type> work_;
};

// The default allocator for operations: ::operator new, with the memory of
// finished operations kept per thread in the running thread_ctx
// (op_memory_cache) for the next ones. Asio's recycling allocator does the
// same through its call stack (twice the instructions); ours needs no lookup
// but tl_thread_ctx, and is inlined.
template <typename T>
struct op_recycling_allocator
{
  using value_type = T;
  op_recycling_allocator() noexcept = default;
  template <typename U>
  op_recycling_allocator(const op_recycling_allocator<U>&) noexcept {}
  template <typename U>
  bool operator==(const op_recycling_allocator<U>&) const noexcept { return true; }

  [[gnu::always_inline]] T* allocate(std::size_t n)
  {
    static_assert(alignof(T) <= op_memory_cache::header, "operations are at most 16-byte aligned");
    const std::size_t bytes = n * sizeof(T);
    if (thread_ctx* t = tl_thread_ctx)
    {
      if (void* p = t->op_memory.take(bytes)) [[likely]] return static_cast<T*>(p);
      t->op_memory.drop_one();
    }
    char* m = static_cast<char*>(::operator new(bytes + op_memory_cache::header));
    *reinterpret_cast<std::size_t*>(m) = bytes;
    return reinterpret_cast<T*>(m + op_memory_cache::header);
  }
  [[gnu::always_inline]] void deallocate(T* p, std::size_t) noexcept
  {
    if (thread_ctx* t = tl_thread_ctx)
      if (t->op_memory.keep(p)) return;
    ::operator delete(reinterpret_cast<char*>(p) - op_memory_cache::header);
  }
};

// Allocates operations through the handler's associated allocator; the
// default one is op_recycling_allocator.
template <typename Handler>
struct op_allocator
{
  using assoc_type = boost::asio::associated_allocator_t<Handler>;
  using type = std::conditional_t<std::is_same_v<assoc_type, std::allocator<void>>,
      op_recycling_allocator<void>, assoc_type>;

  static type get(const Handler& h)
  {
    if constexpr (std::is_same_v<type, assoc_type>) return boost::asio::get_associated_allocator(h);
    else return type();
  }

  template <typename Op, typename... Args>
  [[gnu::always_inline]] static Op* create(Handler& h, Args&&... args)
  {
    typename std::allocator_traits<type>::template rebind_alloc<Op> a(get(h));
    Op* p = a.allocate(1);
    try { return new (p) Op(std::move(h), std::forward<Args>(args)...); }
    catch (...) { a.deallocate(p, 1); throw; }
  }

  template <typename Op>
  [[gnu::always_inline]] static void destroy(Op* op, const type& alloc) noexcept
  {
    typename std::allocator_traits<type>::template rebind_alloc<Op> a(alloc);
    op->~Op();
    a.deallocate(op, 1);
  }
};

// Destroys operation `o`, allocated for `h`, its handler (a member of `o`).
template <typename Op, typename Handler>
[[gnu::always_inline]] inline void destroy_op(Op* o, const Handler& h) noexcept
{
  auto alloc = op_allocator<Handler>::get(h);
  op_allocator<Handler>::destroy(o, alloc);
}

} // namespace asio_uring::detail
