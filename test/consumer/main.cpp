#include <asio_uring.hpp>
#include <boost/asio/post.hpp>
int main()
{
  asio_uring::io_context ctx;
  int n = 0;
  boost::asio::post(ctx, [&] { n = 42; });
  ctx.run();
  return n == 42 ? 0 : 1;
}
