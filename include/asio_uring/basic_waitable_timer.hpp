// asio_uring::basic_waitable_timer: Asio's timer interface on the io_uring loop.
#pragma once

#include <asio_uring/detail/handler_work.hpp>
#include <asio_uring/detail/io_object.hpp>
#include <asio_uring/detail/timer_queue.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/wait_traits.hpp>
#include <boost/asio/error.hpp>

#include <thread>

namespace asio_uring {

namespace detail {

// One timer queue per (context, clock, traits), owned by an Asio service of
// the context and registered with its scheduler.
template <typename Clock, typename WaitTraits>
class timer_service
  : public boost::asio::detail::execution_context_service_base<timer_service<Clock, WaitTraits>>
{
public:
  explicit timer_service(boost::asio::execution_context& ctx)
    : boost::asio::detail::execution_context_service_base<timer_service>(ctx),
      sched_(static_cast<io_context&>(ctx).impl())
  {
    sched_.with_loop([this] { sched_.add_timer_queue(queue_); });
  }
  ~timer_service() override
  {
    sched_.with_loop([this] { sched_.remove_timer_queue(queue_); });
  }
  void shutdown() override {}

  scheduler& sched() noexcept { return sched_; }
  timer_queue<Clock, WaitTraits>& queue() noexcept { return queue_; }

private:
  scheduler& sched_;
  timer_queue<Clock, WaitTraits> queue_;
};

template <typename Handler, typename IoExecutor, typename Queue>
class timer_wait_op : public operation
{
public:
  timer_wait_op(Handler&& h, const IoExecutor& ex, scheduler& s, Queue& q,
      per_timer_data& data, typename Queue::time_type expiry)
    : operation(&do_complete), handler_(std::move(h)), work_(handler_, ex, s),
      queue_(&q), data_(&data), expiry_(expiry)
  {
  }

  // The per-operation cancellation handler kept in the handler's slot.
  struct cancel_handler
  {
    scheduler* sched;
    timer_wait_op* op;
    void operator()(boost::asio::cancellation_type_t type)
    {
      using ct = boost::asio::cancellation_type;
      if ((type & (ct::terminal | ct::partial | ct::total)) == ct::none) return;
      scheduler* s = sched;
      timer_wait_op* o = op;
      s->with_loop([s, o] {
        op_queue out;
        o->queue_->cancel_op(*o->data_, o, out);
        while (operation* done = out.pop()) s->push_ready(done);
      });
    }
  };

  static void do_complete(scheduler* owner, operation* base, int res, unsigned)
  {
    auto* o = static_cast<timer_wait_op*>(base);
    if (owner && res == start_marker)
    {
      o->queue_->enqueue(o->expiry_, *o->data_, o);
      return;
    }
    clear_slot(o->handler_);
    auto alloc = op_allocator<Handler>::get(o->handler_);
    Handler h(std::move(o->handler_));
    handler_work<Handler, IoExecutor> w(std::move(o->work_));
    op_allocator<Handler>::destroy(o, alloc);
    if (!owner) return;
    auto f = boost::asio::detail::bind_handler(std::move(h), result_error(res));
    w.complete(f, f.handler_);
  }

private:
  Handler handler_;
  handler_work<Handler, IoExecutor> work_;
  Queue* queue_;
  per_timer_data* data_;
  typename Queue::time_type expiry_;
};

} // namespace detail

template <typename Clock, typename WaitTraits = boost::asio::wait_traits<Clock>,
    typename Executor = boost::asio::any_io_executor>
class basic_waitable_timer
{
  using service_type = detail::timer_service<Clock, WaitTraits>;
  using queue_type = detail::timer_queue<Clock, WaitTraits>;

public:
  using executor_type = Executor;
  using clock_type = Clock;
  using duration = typename Clock::duration;
  using time_point = typename Clock::time_point;
  using traits_type = WaitTraits;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_waitable_timer<Clock, WaitTraits, OtherExecutor>;
  };

  explicit basic_waitable_timer(const executor_type& ex)
    : ex_(ex), svc_(&boost::asio::use_service<service_type>(detail::context_of(ex)))
  {
  }

  template <typename ExecutionContext>
  explicit basic_waitable_timer(ExecutionContext& ctx,
      std::enable_if_t<std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>, int> = 0)
    : basic_waitable_timer(executor_type(ctx.get_executor()))
  {
  }

  basic_waitable_timer(const executor_type& ex, const time_point& t)
    : basic_waitable_timer(ex) { expiry_ = t; }
  basic_waitable_timer(const executor_type& ex, const duration& d)
    : basic_waitable_timer(ex) { expiry_ = Clock::now() + d; }

  template <typename ExecutionContext>
  basic_waitable_timer(ExecutionContext& ctx, const time_point& t,
      std::enable_if_t<std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>, int> = 0)
    : basic_waitable_timer(ctx) { expiry_ = t; }
  template <typename ExecutionContext>
  basic_waitable_timer(ExecutionContext& ctx, const duration& d,
      std::enable_if_t<std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>, int> = 0)
    : basic_waitable_timer(ctx) { expiry_ = Clock::now() + d; }

  basic_waitable_timer(basic_waitable_timer&& o)
    : ex_(o.ex_), svc_(o.svc_), expiry_(o.expiry_), pending_(o.pending_)
  {
    take_waits(o);
  }

  template <typename OtherExecutor>
  basic_waitable_timer(basic_waitable_timer<Clock, WaitTraits, OtherExecutor>&& o,
      std::enable_if_t<std::is_convertible_v<OtherExecutor, Executor>, int> = 0)
    : ex_(o.ex_), svc_(o.svc_), expiry_(o.expiry_), pending_(o.pending_)
  {
    take_waits(o);
  }

  basic_waitable_timer& operator=(basic_waitable_timer&& o) { return assign_from(o); }
  template <typename OtherExecutor>
  std::enable_if_t<std::is_convertible_v<OtherExecutor, Executor>, basic_waitable_timer&>
  operator=(basic_waitable_timer<Clock, WaitTraits, OtherExecutor>&& o) { return assign_from(o); }

  basic_waitable_timer(const basic_waitable_timer&) = delete;
  basic_waitable_timer& operator=(const basic_waitable_timer&) = delete;

  // Pending waits complete with operation_aborted.
  ~basic_waitable_timer() { cancel(); }

  executor_type get_executor() noexcept { return ex_; }

  // Cancels every pending wait; returns how many.
  std::size_t cancel()
  {
    if (!pending_) return 0;
    pending_ = false;
    return cancel_waits(~std::size_t(0));
  }

  // Cancels the oldest pending wait; returns 0 or 1.
  std::size_t cancel_one()
  {
    if (!pending_) return 0;
    return cancel_waits(1);
  }

  time_point expiry() const { return expiry_; }

  std::size_t expires_at(const time_point& t)
  {
    std::size_t n = cancel();
    expiry_ = t;
    return n;
  }

  std::size_t expires_after(const duration& d) { return expires_at(Clock::now() + d); }

#if !defined(BOOST_ASIO_NO_DEPRECATED)
  // Asio's deprecated forms, gone with BOOST_ASIO_NO_DEPRECATED as in Asio.
  std::size_t cancel(boost::system::error_code& ec) { ec.clear(); return cancel(); }
  std::size_t cancel_one(boost::system::error_code& ec) { ec.clear(); return cancel_one(); }
  time_point expires_at() const { return expiry_; }
  std::size_t expires_at(const time_point& t, boost::system::error_code& ec)
  { ec.clear(); return expires_at(t); }
  duration expires_from_now() const { return expiry_ - Clock::now(); }
  std::size_t expires_from_now(const duration& d) { return expires_after(d); }
  std::size_t expires_from_now(const duration& d, boost::system::error_code& ec)
  { ec.clear(); return expires_after(d); }
#endif

  void wait()
  {
    boost::system::error_code ec;
    wait(ec);
    boost::asio::detail::throw_error(ec, "wait");
  }

  void wait(boost::system::error_code& ec)
  {
    for (;;)
    {
      const time_point now = Clock::now();
      if (!(now < expiry_)) break;
      std::this_thread::sleep_for(WaitTraits::to_wait_duration(expiry_ - now));
    }
    ec.clear();
  }

  template <typename WaitToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(WaitToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WaitToken, void(boost::system::error_code)>(
        initiate_wait{this}, token);
  }

private:
  template <typename, typename, typename> friend class basic_waitable_timer;

  struct initiate_wait
  {
    basic_waitable_timer* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->ex_; }

    template <typename Handler>
    void operator()(Handler&& handler) const
    {
      using handler_type = std::decay_t<Handler>;
      using op = detail::timer_wait_op<handler_type, Executor, queue_type>;
      handler_type h(std::forward<Handler>(handler));
      detail::scheduler& s = self->svc_->sched();
      auto slot = boost::asio::get_associated_cancellation_slot(h);
      op* o = detail::op_allocator<handler_type>::template create<op>(
          h, self->ex_, s, self->svc_->queue(), self->data_, self->expiry_);
      if (slot.is_connected())
        slot.template emplace<typename op::cancel_handler>(typename op::cancel_handler{&s, o});
      self->pending_ = true;
      s.work_started();
      s.start(o);
    }
  };

  std::size_t cancel_waits(std::size_t max)
  {
    detail::scheduler& s = svc_->sched();
    std::size_t n = 0;
    s.with_loop([&] {
      detail::op_queue out;
      n = svc_->queue().cancel(data_, out, max);
      while (detail::operation* op = out.pop()) s.push_ready(op);
    });
    return n;
  }

  template <typename Other>
  basic_waitable_timer& assign_from(Other& o)
  {
    if (static_cast<void*>(this) != static_cast<void*>(&o))
    {
      cancel();
      ex_ = o.ex_;
      svc_ = o.svc_;
      expiry_ = o.expiry_;
      pending_ = o.pending_;
      take_waits(o);
    }
    return *this;
  }

  template <typename Other>
  void take_waits(Other& o)
  {
    if (!o.pending_) return;
    o.pending_ = false;
    svc_->sched().with_loop([&] { svc_->queue().move_timer(data_, o.data_); });
  }

  Executor ex_;
  service_type* svc_;
  time_point expiry_{};
  bool pending_ = false;  // a wait may be pending: cancel() must look
  detail::per_timer_data data_;
};

} // namespace asio_uring
