// asio_uring::signal_set: Asio's basic_signal_set interface, delivered on the ring.
#pragma once

#include <asio_uring/detail/handler_work.hpp>
#include <asio_uring/detail/io_object.hpp>
#include <asio_uring/detail/signal_service.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/error.hpp>

namespace asio_uring {

namespace detail {

template <typename Handler, typename IoExecutor>
class signal_wait_op : public operation
{
public:
  signal_wait_op(Handler&& h, const IoExecutor& ex, signal_service& svc, signal_set_state& st)
    : operation(&do_complete), handler_(std::move(h)), work_(handler_, ex, svc.sched()),
      svc_(&svc), state_(&st)
  {
  }

  struct cancel_handler
  {
    signal_wait_op* op;
    void operator()(boost::asio::cancellation_type_t type)
    {
      using ct = boost::asio::cancellation_type;
      if ((type & (ct::terminal | ct::partial | ct::total)) == ct::none) return;
      signal_wait_op* o = op;
      scheduler& s = o->svc_->sched();
      s.with_loop([o, &s] {
        if (o->state_->waiters.erase(o))
        {
          o->set_result(-ECANCELED, 0);
          s.push_ready(o);
        }
      });
    }
  };

  static void do_complete(scheduler* owner, operation* base, int res, unsigned)
  {
    auto* o = static_cast<signal_wait_op*>(base);
    if (owner && res == start_marker)
    {
      o->svc_->start_wait(*o->state_, o);
      return;
    }
    clear_slot(o->handler_);
    auto alloc = op_allocator<Handler>::get(o->handler_);
    Handler h(std::move(o->handler_));
    handler_work<Handler, IoExecutor> w(std::move(o->work_));
    op_allocator<Handler>::destroy(o, alloc);
    if (!owner) return;
    auto f = boost::asio::detail::bind_handler(std::move(h),
        res < 0 ? result_error(res) : boost::system::error_code(), res < 0 ? 0 : res);
    w.complete(f, f.handler_);
  }

private:
  Handler handler_;
  handler_work<Handler, IoExecutor> work_;
  signal_service* svc_;
  signal_set_state* state_;
};

} // namespace detail

template <typename Executor = boost::asio::any_io_executor>
class basic_signal_set
{
public:
  using executor_type = Executor;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_signal_set<OtherExecutor>;
  };

  explicit basic_signal_set(const executor_type& ex)
    : ex_(ex), svc_(&boost::asio::use_service<detail::signal_service>(detail::context_of(ex)))
  {
    svc_->add_set(state_);
  }
  basic_signal_set(const executor_type& ex, int s1) : basic_signal_set(ex) { add(s1); }
  basic_signal_set(const executor_type& ex, int s1, int s2) : basic_signal_set(ex) { add(s1); add(s2); }
  basic_signal_set(const executor_type& ex, int s1, int s2, int s3)
    : basic_signal_set(ex) { add(s1); add(s2); add(s3); }

  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  explicit basic_signal_set(ExecutionContext& ctx) : basic_signal_set(executor_type(ctx.get_executor())) {}
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  basic_signal_set(ExecutionContext& ctx, int s1) : basic_signal_set(ctx) { add(s1); }
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  basic_signal_set(ExecutionContext& ctx, int s1, int s2) : basic_signal_set(ctx) { add(s1); add(s2); }
  template <typename ExecutionContext, typename = std::enable_if_t<
      std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>>>
  basic_signal_set(ExecutionContext& ctx, int s1, int s2, int s3)
    : basic_signal_set(ctx) { add(s1); add(s2); add(s3); }

  basic_signal_set(const basic_signal_set&) = delete;
  basic_signal_set& operator=(const basic_signal_set&) = delete;

  // Removes every signal; pending waits complete with operation_aborted.
  ~basic_signal_set() { svc_->remove_set(state_); }

  executor_type get_executor() noexcept { return ex_; }

  void add(int signal_number)
  {
    boost::system::error_code ec = svc_->add(state_, signal_number);
    boost::asio::detail::throw_error(ec, "add");
  }
  void add(int signal_number, boost::system::error_code& ec) { ec = svc_->add(state_, signal_number); }

  void remove(int signal_number)
  {
    boost::system::error_code ec = svc_->remove(state_, signal_number);
    boost::asio::detail::throw_error(ec, "remove");
  }
  void remove(int signal_number, boost::system::error_code& ec) { ec = svc_->remove(state_, signal_number); }

  void clear() { svc_->clear(state_); }
  void clear(boost::system::error_code& ec) { svc_->clear(state_); ec.clear(); }

  void cancel()
  {
    detail::signal_service* svc = svc_;
    svc->sched().with_loop([&] { svc->cancel(state_); });
  }
  void cancel(boost::system::error_code& ec) { cancel(); ec.clear(); }

  // Completes with (error_code, int signal_number).
  template <typename SignalToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(SignalToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<SignalToken, void(boost::system::error_code, int)>(
        initiate_wait{this}, token);
  }

private:
  struct initiate_wait
  {
    basic_signal_set* self;
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return self->ex_; }

    template <typename Handler>
    void operator()(Handler&& handler) const
    {
      using handler_type = std::decay_t<Handler>;
      using op = detail::signal_wait_op<handler_type, Executor>;
      handler_type h(std::forward<Handler>(handler));
      detail::scheduler& s = self->svc_->sched();
      auto slot = boost::asio::get_associated_cancellation_slot(h);
      op* o = detail::op_allocator<handler_type>::template create<op>(h, self->ex_, *self->svc_, self->state_);
      if (slot.is_connected())
        slot.template emplace<typename op::cancel_handler>(typename op::cancel_handler{o});
      s.work_started();
      s.start(o);
    }
  };

  Executor ex_;
  detail::signal_service* svc_;
  detail::signal_set_state state_;
};

using signal_set = basic_signal_set<>;

} // namespace asio_uring
