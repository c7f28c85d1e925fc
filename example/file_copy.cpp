// Copies a file with asynchronous reads and writes on the ring, several
// blocks in flight, then verifies the copy byte for byte.
//   file_copy SOURCE DESTINATION [BLOCK_KIB] [IN_FLIGHT]
#include <asio_uring.hpp>

#include <boost/asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace net = boost::asio;
using asio_uring::file_base;

// One block moving from source to destination: read at `offset`, write it.
struct block
{
  asio_uring::random_access_file& in;
  asio_uring::random_access_file& out;
  std::uint64_t& next_offset;
  std::uint64_t size;
  std::vector<char> data;
  int& failures;

  void start()
  {
    if (next_offset >= size) return;
    std::uint64_t offset = next_offset;
    next_offset += data.size();
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), size - offset));
    net::async_read_at(in, offset, net::buffer(data.data(), n), [this, offset](boost::system::error_code ec, std::size_t got) {
      if (ec) return fail("read", ec);
      net::async_write_at(out, offset, net::buffer(data.data(), got), [this](boost::system::error_code ec, std::size_t) {
        if (ec) return fail("write", ec);
        start();
      });
    });
  }

  void fail(const char* what, const boost::system::error_code& ec)
  {
    std::fprintf(stderr, "%s: %s\n", what, ec.message().c_str());
    ++failures;
  }
};

bool same_contents(const char* a, const char* b)
{
  std::FILE* fa = std::fopen(a, "rb");
  std::FILE* fb = std::fopen(b, "rb");
  if (!fa || !fb) return false;
  std::vector<char> x(1 << 16), y(1 << 16);
  bool same = true;
  for (;;)
  {
    std::size_t na = std::fread(x.data(), 1, x.size(), fa), nb = std::fread(y.data(), 1, y.size(), fb);
    if (na != nb || std::memcmp(x.data(), y.data(), na) != 0) { same = false; break; }
    if (na == 0) break;
  }
  std::fclose(fa);
  std::fclose(fb);
  return same;
}

int main(int argc, char** argv)
{
  if (argc < 3)
  {
    std::fprintf(stderr, "usage: file_copy SOURCE DESTINATION [BLOCK_KIB] [IN_FLIGHT]\n");
    return 2;
  }
  const std::size_t block_size = (argc > 3 ? std::atoi(argv[3]) : 128) * 1024;
  const int in_flight = argc > 4 ? std::atoi(argv[4]) : 8;
  asio_uring::io_context ctx;
  asio_uring::random_access_file in(ctx, argv[1], file_base::read_only);
  asio_uring::random_access_file out(ctx, argv[2], file_base::write_only | file_base::create | file_base::truncate);
  std::uint64_t size = in.size(), next = 0;
  out.resize(size);
  int failures = 0;
  std::vector<std::unique_ptr<block>> blocks;
  for (int i = 0; i < in_flight; ++i)
  {
    blocks.push_back(std::make_unique<block>(block{in, out, next, size, std::vector<char>(block_size), failures}));
    blocks.back()->start();
  }
  ctx.run();
  out.sync_all();
  if (failures) return 1;
  if (!same_contents(argv[1], argv[2]))
  {
    std::fprintf(stderr, "copy differs from source\n");
    return 1;
  }
  std::printf("copied %llu bytes, verified\n", static_cast<unsigned long long>(size));
  return 0;
}
