// The Networking TS face: the names of the Networking TS (N4771), mapped
// onto asio_uring's I/O objects and Asio's vocabulary, so TS-style code
// compiles by changing one namespace alias:
//   namespace net = asio_uring::net;   // was std::experimental::net or boost::asio
#pragma once

#include <asio_uring.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/basic_socket_iostream.hpp>
#include <boost/asio/basic_socket_streambuf.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/address_v4_range.hpp>
#include <boost/asio/ip/address_v6_range.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/ip/basic_resolver.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

namespace asio_uring::net {

// Execution contexts, executors, work.
using asio_uring::io_context;
using boost::asio::execution_context;
using boost::asio::executor_work_guard;
using boost::asio::make_work_guard;
using boost::asio::system_executor;
using boost::asio::system_context;
using boost::asio::strand;
using boost::asio::executor;
using boost::asio::bad_executor;
using boost::asio::is_executor;
using boost::asio::use_service;
using boost::asio::make_service;
using boost::asio::has_service;
using boost::asio::post;
using boost::asio::dispatch;
using boost::asio::defer;
using boost::asio::bind_executor;
using boost::asio::executor_binder;
using boost::asio::associated_executor;
using boost::asio::get_associated_executor;
using boost::asio::associated_allocator;
using boost::asio::get_associated_allocator;
using boost::asio::async_result;
using boost::asio::async_completion;
using boost::asio::use_future;
using boost::asio::use_future_t;

// Timers.
using asio_uring::basic_waitable_timer;
using asio_uring::steady_timer;
using asio_uring::system_timer;
using asio_uring::high_resolution_timer;
using boost::asio::wait_traits;

// Buffers and buffer-oriented operations.
using boost::asio::mutable_buffer;
using boost::asio::const_buffer;
using boost::asio::buffer;
using boost::asio::buffer_size;
using boost::asio::buffer_copy;
using boost::asio::dynamic_buffer;
using boost::asio::dynamic_string_buffer;
using boost::asio::dynamic_vector_buffer;
using boost::asio::transfer_all;
using boost::asio::transfer_at_least;
using boost::asio::transfer_exactly;
using boost::asio::read;
using boost::asio::write;
using boost::asio::read_until;
using boost::asio::async_read;
using boost::asio::async_write;
using boost::asio::async_read_until;
using boost::asio::is_mutable_buffer_sequence;
using boost::asio::is_const_buffer_sequence;

// Sockets.
using boost::asio::socket_base;
using asio_uring::basic_socket;
using asio_uring::basic_stream_socket;
using asio_uring::basic_datagram_socket;
using asio_uring::basic_socket_acceptor;
using asio_uring::connect;
using asio_uring::async_connect;
// The socket iostreams are Asio's: synchronous, on Asio's own reactor.
using boost::asio::basic_socket_streambuf;
using boost::asio::basic_socket_iostream;
namespace error = boost::asio::error;

namespace ip {
using asio_uring::ip::tcp;
using asio_uring::ip::udp;
using boost::asio::ip::address;
using boost::asio::ip::address_v4;
using boost::asio::ip::address_v6;
using boost::asio::ip::make_address;
using boost::asio::ip::make_address_v4;
using boost::asio::ip::make_address_v6;
using boost::asio::ip::basic_endpoint;
using boost::asio::ip::basic_resolver;
using boost::asio::ip::basic_resolver_results;
using boost::asio::ip::basic_resolver_entry;
using boost::asio::ip::resolver_base;
using boost::asio::ip::host_name;
using boost::asio::ip::bad_address_cast;
using boost::asio::ip::v4_mapped_t;
using boost::asio::ip::make_network_v4;
using boost::asio::ip::make_network_v6;
using boost::asio::ip::network_v4;
using boost::asio::ip::network_v6;
using boost::asio::ip::basic_address_iterator;
using boost::asio::ip::basic_address_range;
using boost::asio::ip::address_v4_iterator;
using boost::asio::ip::address_v4_range;
using boost::asio::ip::address_v6_iterator;
using boost::asio::ip::address_v6_range;
} // namespace ip

} // namespace asio_uring::net
