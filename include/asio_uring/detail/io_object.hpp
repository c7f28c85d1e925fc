// What every I/O object needs: the scheduler behind its executor.
#pragma once

#include <asio_uring/io_context.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/system/error_code.hpp>

#include <stdexcept>

namespace asio_uring::detail {

// The io_context an executor belongs to; throws std::invalid_argument when it
// is not an asio_uring::io_context.
template <typename Executor>
io_context& context_of(const Executor& ex)
{
  if constexpr (requires { ex.template target<io_context::executor_type>(); })
  {
    if (auto* p = ex.template target<io_context::executor_type>()) return p->context();
  }
  boost::asio::execution_context& ctx = boost::asio::query(ex, boost::asio::execution::context);
  if (boost::asio::has_service<context_marker>(ctx))
    return *boost::asio::use_service<context_marker>(ctx).owner();
  throw std::invalid_argument(
      "asio_uring: I/O objects need an executor of an asio_uring::io_context");
}

// A CQE result as an error_code (ECANCELED is boost::asio::error::operation_aborted).
inline boost::system::error_code result_error(int res) noexcept
{
  return res < 0 ? boost::system::error_code(-res, boost::system::system_category())
                 : boost::system::error_code();
}

// Clears the handler's cancellation slot before the operation goes away.
template <typename Handler>
void clear_slot(Handler& h) noexcept
{
  auto slot = boost::asio::get_associated_cancellation_slot(h);
  if (slot.is_connected()) slot.clear();
}

} // namespace asio_uring::detail
