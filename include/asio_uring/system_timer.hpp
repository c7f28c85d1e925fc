#pragma once
#include <asio_uring/basic_waitable_timer.hpp>
#include <chrono>
namespace asio_uring {
using system_timer = basic_waitable_timer<std::chrono::system_clock>;
} // namespace asio_uring
