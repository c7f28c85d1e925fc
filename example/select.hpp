// The examples are Asio programs. Compiled as-is they use asio_uring; with
// -DEXAMPLE_USE_ASIO the very same source uses boost::asio's own types (the
// benchmarks compare the two builds of one source). These aliases are the
// only lines that differ.
#pragma once

#include <boost/asio.hpp>

#ifdef EXAMPLE_USE_ASIO
namespace example {
using io_context = boost::asio::io_context;
using tcp = boost::asio::ip::tcp;
using signal_set = boost::asio::signal_set;
using steady_timer = boost::asio::steady_timer;
} // namespace example
#else
#include <asio_uring.hpp>
namespace example {
using io_context = asio_uring::io_context;
using tcp = asio_uring::ip::tcp;
using signal_set = asio_uring::signal_set;
using steady_timer = asio_uring::steady_timer;
} // namespace example
#endif
