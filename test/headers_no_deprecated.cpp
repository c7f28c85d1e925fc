// Compiled with -DBOOST_ASIO_NO_DEPRECATED (test/CMakeLists.txt): every public
// header must build when Asio's deprecated names (execution::execute, ...)
// are gone, as many code bases configure it.
#include <asio_uring.hpp>
#include <asio_uring/beast.hpp>
#include <asio_uring/net.hpp>
