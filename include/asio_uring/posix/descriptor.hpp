// asio_uring::posix::descriptor, as Asio's posix/descriptor.hpp.
#pragma once

#include <asio_uring/posix/basic_descriptor.hpp>

namespace asio_uring::posix {
using descriptor = basic_descriptor<>;
} // namespace asio_uring::posix
