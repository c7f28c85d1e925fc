// asio_uring::posix::stream_descriptor, as Asio's posix/stream_descriptor.hpp.
#pragma once

#include <asio_uring/posix/basic_stream_descriptor.hpp>

namespace asio_uring::posix {
using stream_descriptor = basic_stream_descriptor<>;
} // namespace asio_uring::posix
