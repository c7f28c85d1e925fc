#pragma once
#include <asio_uring/basic_waitable_timer.hpp>
#include <chrono>
namespace asio_uring {
using high_resolution_timer = basic_waitable_timer<std::chrono::high_resolution_clock>;
} // namespace asio_uring
