// A binary min-heap of timers on one clock. Many timers cost one kernel
// timeout: the loop waits in io_uring_enter until the earliest deadline.
#pragma once

#include <asio_uring/detail/scheduler.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <limits>
#include <vector>

namespace asio_uring::detail {

// Lives inside each timer object: its waiting operations and heap slot.
struct per_timer_data
{
  op_queue ops;
  std::size_t heap_index = npos;
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
};

template <typename Clock, typename WaitTraits>
class timer_queue final : public timer_queue_base
{
public:
  using time_type = typename Clock::time_point;

  // Adds `op` to the timer's waiters, putting the timer in the heap.
  void enqueue(const time_type& t, per_timer_data& data, operation* op)
  {
    if (data.heap_index == per_timer_data::npos)
    {
      data.heap_index = heap_.size();
      heap_.push_back({t, &data});
      up(data.heap_index);
    }
    data.ops.push(op);
  }

  // Moves up to `max` waiters of the timer to `out` with operation_aborted.
  std::size_t cancel(per_timer_data& data, op_queue& out,
      std::size_t max = std::numeric_limits<std::size_t>::max())
  {
    std::size_t n = 0;
    while (n < max && !data.ops.empty())
    {
      operation* op = data.ops.pop();
      op->set_result(-ECANCELED, 0);
      out.push(op);
      ++n;
    }
    if (data.ops.empty()) remove(data);
    return n;
  }

  // Per-operation cancellation; false when `op` is no longer waiting.
  bool cancel_op(per_timer_data& data, operation* op, op_queue& out)
  {
    if (!data.ops.erase(op)) return false;
    op->set_result(-ECANCELED, 0);
    out.push(op);
    if (data.ops.empty()) remove(data);
    return true;
  }

  // The timer object moved: `to` takes over the waiters of `from`.
  void move_timer(per_timer_data& to, per_timer_data& from) noexcept
  {
    to.ops.splice(from.ops);
    to.heap_index = from.heap_index;
    from.heap_index = per_timer_data::npos;
    if (to.heap_index != per_timer_data::npos) heap_[to.heap_index].data = &to;
  }

  long wait_duration_usec(long max_us) const override
  {
    if (heap_.empty()) return max_us;
    const time_type now = Clock::now();
    if (!(now < heap_[0].time)) return 0;
    // Subtract in the clock's own type (no overflow: expiry > now), then let
    // the traits adjust; round up so a sub-microsecond rest does not spin.
    auto rest = WaitTraits::to_wait_duration(heap_[0].time - now);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(rest);
    if (us < rest) ++us;
    long d = us.count() < max_us ? static_cast<long>(us.count()) : max_us;
    return d > 0 ? d : 0;
  }

  void get_ready_timers(op_queue& out) override
  {
    if (heap_.empty()) return;
    const time_type now = Clock::now();
    while (!heap_.empty() && !(now < heap_[0].time))
    {
      per_timer_data* data = heap_[0].data;
      while (operation* op = data->ops.pop())
      {
        op->set_result(0, 0);
        out.push(op);
      }
      remove(*data);
    }
  }

  void destroy_all() noexcept override
  {
    while (!heap_.empty())
    {
      per_timer_data* data = heap_.back().data;
      heap_.pop_back();
      data->heap_index = per_timer_data::npos;
      data->ops.destroy_all();
    }
  }

private:
  struct entry
  {
    time_type time;
    per_timer_data* data;
  };

  void remove(per_timer_data& data)
  {
    std::size_t i = data.heap_index;
    if (i == per_timer_data::npos) return;
    data.heap_index = per_timer_data::npos;
    std::size_t last = heap_.size() - 1;
    if (i != last)
    {
      heap_[i] = heap_[last];
      heap_[i].data->heap_index = i;
      heap_.pop_back();
      if (i > 0 && heap_[i].time < heap_[(i - 1) / 2].time) up(i);
      else down(i);
    }
    else
    {
      heap_.pop_back();
    }
  }

  void swap_entries(std::size_t a, std::size_t b)
  {
    std::swap(heap_[a], heap_[b]);
    heap_[a].data->heap_index = a;
    heap_[b].data->heap_index = b;
  }

  void up(std::size_t i)
  {
    while (i > 0)
    {
      std::size_t parent = (i - 1) / 2;
      if (!(heap_[i].time < heap_[parent].time)) break;
      swap_entries(i, parent);
      i = parent;
    }
  }

  void down(std::size_t i)
  {
    for (;;)
    {
      std::size_t l = 2 * i + 1, best = i;
      if (l < heap_.size() && heap_[l].time < heap_[best].time) best = l;
      if (l + 1 < heap_.size() && heap_[l + 1].time < heap_[best].time) best = l + 1;
      if (best == i) break;
      swap_entries(i, best);
      i = best;
    }
  }

  std::vector<entry> heap_;
};

} // namespace asio_uring::detail
