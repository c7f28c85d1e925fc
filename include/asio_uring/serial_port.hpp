// asio_uring::serial_port, as Asio's serial_port.hpp.
#pragma once

#include <asio_uring/basic_serial_port.hpp>

namespace asio_uring {
using serial_port = basic_serial_port<>;
} // namespace asio_uring
