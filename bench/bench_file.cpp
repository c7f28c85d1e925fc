// File read benchmark: QD concurrent read chains over one file.
//   bench_file IMPL FILE PATTERN BLOCK QD SECONDS DIRECT
//     IMPL: uring (asio_uring::random_access_file) | pread (a thread per
//           queue slot doing pread) | asio (boost::asio::random_access_file,
//           only in the build with BOOST_ASIO_HAS_IO_URING)
//     PATTERN: rand | seq      DIRECT: 0 | 1 (O_DIRECT)
// Prints: reads_per_second
#ifdef BENCH_ASIO_FILES
#include <boost/asio.hpp>
#else
#include <asio_uring.hpp>
#include <boost/asio.hpp>
#endif

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

struct params
{
  std::string file;
  bool random;
  std::size_t block;
  int qd;
  double seconds;
  bool direct;
  std::uint64_t size;
};

// The offset of the next read of chain `chain` (its `n`-th read).
struct offsets
{
  const params& p;
  std::uint64_t blocks;
  std::mt19937_64 rng;
  std::uint64_t next_seq = 0;
  explicit offsets(const params& pp) : p(pp), blocks(pp.size / pp.block), rng(42) {}
  std::uint64_t next()
  {
    if (p.random) return (rng() % blocks) * p.block;
    std::uint64_t o = next_seq;
    next_seq = (next_seq + p.block) % (blocks * p.block);
    return o;
  }
};

char* aligned_block(std::size_t n)
{
  return static_cast<char*>(std::aligned_alloc(4096, (n + 4095) / 4096 * 4096));
}

template <typename File, typename Context>
long run_async(Context& ctx, File& file, const params& p)
{
  offsets off(p);
  long done = 0;
  auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(p.seconds));
  bool stopping = false;
  struct chain
  {
    File& file;
    offsets& off;
    long& done;
    bool& stopping;
    clock_type::time_point deadline;
    std::size_t block;
    char* buf;
    void start()
    {
      file.async_read_some_at(off.next(), net::buffer(buf, block), [this](boost::system::error_code ec, std::size_t) {
        if (ec)
        {
          std::fprintf(stderr, "read: %s\n", ec.message().c_str());
          std::exit(1);
        }
        ++done;
        if (!stopping && (done & 127) == 0 && clock_type::now() >= deadline) stopping = true;
        if (!stopping) start();
      });
    }
  };
  // One region for all buffers, as fio allocates them.
  char* mem = aligned_block(p.block * static_cast<std::size_t>(p.qd));
  std::vector<chain> chains;
  chains.reserve(static_cast<std::size_t>(p.qd));
  for (int i = 0; i < p.qd; ++i)
    chains.push_back(chain{file, off, done, stopping, deadline, p.block, mem + p.block * static_cast<std::size_t>(i)});
  for (auto& c : chains) c.start();
  ctx.run();
  std::free(mem);
  return done;
}

long run_pread(const params& p)
{
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < p.qd; ++i)
  {
    threads.emplace_back([&, i] {
      int fd = ::open(p.file.c_str(), O_RDONLY | (p.direct ? O_DIRECT : 0));
      char* buf = aligned_block(p.block);
      params mine = p;
      offsets off(mine);
      off.rng.seed(static_cast<unsigned>(i + 1));
      off.next_seq = (off.blocks / static_cast<std::uint64_t>(p.qd)) * static_cast<std::uint64_t>(i) * p.block;
      while (!stop.load(std::memory_order_relaxed))
      {
        if (::pread(fd, buf, p.block, static_cast<off_t>(off.next())) < 0) std::exit(1);
        done.fetch_add(1, std::memory_order_relaxed);
      }
      std::free(buf);
      ::close(fd);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(p.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  return done.load();
}

} // namespace

int main(int argc, char** argv)
{
  if (argc != 8)
  {
    std::fprintf(stderr, "usage: bench_file IMPL FILE rand|seq BLOCK QD SECONDS DIRECT\n");
    return 2;
  }
  std::string impl = argv[1];
  params p{argv[2], std::strcmp(argv[3], "rand") == 0, std::size_t(std::atol(argv[4])),
      std::atoi(argv[5]), std::atof(argv[6]), std::atoi(argv[7]) != 0, 0};
  {
    int fd = ::open(p.file.c_str(), O_RDONLY);
    p.size = static_cast<std::uint64_t>(::lseek(fd, 0, SEEK_END));
    ::close(fd);
  }
  auto t0 = clock_type::now();
  long done = 0;
  if (impl == "pread")
    done = run_pread(p);
#ifdef BENCH_ASIO_FILES
  else if (impl == "asio")
  {
    net::io_context ctx(1);
    net::random_access_file f(ctx);
    int fd = ::open(p.file.c_str(), O_RDONLY | (p.direct ? O_DIRECT : 0));
    f.assign(fd);
    done = run_async(ctx, f, p);
  }
#else
  else if (impl == "uring")
  {
    asio_uring::io_context ctx(1);
    asio_uring::random_access_file f(ctx, p.file,
        p.direct ? asio_uring::file_base::read_only | asio_uring::file_base::direct : asio_uring::file_base::read_only);
    done = run_async(ctx, f, p);
  }
#endif
  else
  {
    std::fprintf(stderr, "unknown implementation %s\n", impl.c_str());
    return 2;
  }
  double s = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf("%.0f\n", done / s);
  return 0;
}
