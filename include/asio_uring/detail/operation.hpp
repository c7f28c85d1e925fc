// The intrusive base of every queued or in-flight operation.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>

namespace asio_uring::detail {

class scheduler;

// One function pointer does everything: complete (owner != nullptr),
// destroy without invoking (owner == nullptr), or, when `res` is
// `start_marker`, start the operation on the thread that drives the ring.
// An SQE's user_data is the address of its operation.
class operation
{
public:
  using func_type = void (*)(scheduler* owner, operation* op, int res, unsigned flags);

  // No CQE ever carries INT_MIN: results are byte counts or -errno.
  static constexpr int start_marker = INT_MIN;

  explicit operation(func_type f) noexcept : func_(f) {}

  // An internal operation is called straight from the reaping loop with each
  // CQE and counts no outstanding work (wake-ups, signal pipe reads).
  bool internal() const noexcept { return internal_; }
  void set_internal() noexcept { internal_ = true; }
  void complete_with(scheduler& s, int res, unsigned flags) { func_(&s, this, res, flags); }
  bool runs(func_type f) const noexcept { return func_ == f; }

  void complete(scheduler& s) { func_(&s, this, res_, flags_); }
  // The last result is passed on so an operation can release what a CQE
  // gave it (an accepted descriptor) when it is destroyed instead of run.
  void destroy() { func_(nullptr, this, res_, flags_); }
  void set_result(int res, unsigned flags) noexcept { res_ = res; flags_ = flags; }
  void mark_start() noexcept { res_ = start_marker; flags_ = 0; }

  std::uint64_t user_data() noexcept { return reinterpret_cast<std::uintptr_t>(this); }
  static operation* from_user_data(std::uint64_t u) noexcept
  { return reinterpret_cast<operation*>(static_cast<std::uintptr_t>(u)); }

private:
  friend class op_queue;
  operation* next_ = nullptr;
  func_type func_;
  int res_ = start_marker;
  unsigned flags_ = 0;
  bool internal_ = false;
};

// Intrusive FIFO; owns nothing, destroys nothing by itself.
class op_queue
{
public:
  op_queue() = default;
  op_queue(const op_queue&) = delete;
  op_queue& operator=(const op_queue&) = delete;
  op_queue(op_queue&& o) noexcept : head_(o.head_), tail_(o.tail_), size_(o.size_)
  { o.head_ = o.tail_ = nullptr; o.size_ = 0; }

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  operation* front() const noexcept { return head_; }

  void push(operation* op) noexcept
  {
    op->next_ = nullptr;
    if (tail_) tail_->next_ = op; else head_ = op;
    tail_ = op;
    ++size_;
  }

  // Moves all of `other` to the back of this queue.
  void splice(op_queue& other) noexcept
  {
    if (!other.head_) return;
    if (tail_) tail_->next_ = other.head_; else head_ = other.head_;
    tail_ = other.tail_;
    size_ += other.size_;
    other.head_ = other.tail_ = nullptr;
    other.size_ = 0;
  }

  operation* pop() noexcept
  {
    operation* op = head_;
    if (op)
    {
      head_ = op->next_;
      if (!head_) tail_ = nullptr;
      op->next_ = nullptr;
      --size_;
    }
    return op;
  }

  // Removes `op` if present; O(n), used only by cancellation.
  bool erase(operation* op) noexcept
  {
    operation* prev = nullptr;
    for (operation* p = head_; p; prev = p, p = p->next_)
    {
      if (p != op) continue;
      if (prev) prev->next_ = p->next_; else head_ = p->next_;
      if (tail_ == p) tail_ = prev;
      p->next_ = nullptr;
      --size_;
      return true;
    }
    return false;
  }

  void destroy_all() noexcept
  {
    while (operation* op = pop()) op->destroy();
  }

private:
  operation* head_ = nullptr;
  operation* tail_ = nullptr;
  std::size_t size_ = 0;
};

} // namespace asio_uring::detail
