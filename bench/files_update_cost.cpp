// What registering a socket costs the kernel when the update rides on a
// submission the program makes anyway (as the library queues it): 32 pairs
// of IORING_OP_FILES_UPDATE (put a descriptor in a slot, empty the slot) per
// io_uring_enter, against 32 pairs of IORING_OP_NOP (what any request costs
// to submit and reap). Thread CPU time per pair, min and median of batches
// that alternate between the two (doc/design.md, "Registered files").
//   files_update_cost [BATCHES]     (300)
#include <liburing.h>

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace {

double thread_cpu_ns()
{
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

} // namespace

int main(int argc, char** argv)
{
  const int batches = argc > 1 ? std::atoi(argv[1]) : 300;
  constexpr int pairs = 32, enters = 50;
  io_uring ring;
  if (io_uring_queue_init(256, &ring, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER
          | IORING_SETUP_DEFER_TASKRUN) < 0
      || io_uring_register_files_sparse(&ring, pairs) < 0)
  {
    std::fprintf(stderr, "files_update_cost: no ring or no sparse file table\n");
    return 1;
  }
  io_uring_register_ring_fd(&ring);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  int fds[pairs];
  std::fill_n(fds, pairs, sv[0]);
  int none = -1;
  std::vector<double> t[2];
  for (int b = 0; b < batches; ++b)
  {
    for (int update = 0; update < 2; ++update)
    {
      const double t0 = thread_cpu_ns();
      for (int e = 0; e < enters; ++e)
      {
        for (int i = 0; i < pairs; ++i)
        {
          io_uring_sqe* s = io_uring_get_sqe(&ring);
          if (update) io_uring_prep_files_update(s, &fds[i], 1, i);
          else io_uring_prep_nop(s);
          s = io_uring_get_sqe(&ring);
          if (update) io_uring_prep_files_update(s, &none, 1, i);
          else io_uring_prep_nop(s);
        }
        io_uring_submit_and_wait(&ring, 2 * pairs);
        io_uring_cqe* cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
          if (update && cqe->res != 1)
          {
            std::fprintf(stderr, "files_update_cost: update failed: %d\n", cqe->res);
            return 1;
          }
          ++n;
        }
        io_uring_cq_advance(&ring, n);
      }
      t[update].push_back((thread_cpu_ns() - t0) / (enters * pairs));
    }
  }
  for (int update = 0; update < 2; ++update)
  {
    std::sort(t[update].begin(), t[update].end());
    std::printf("%-28s min %.0f ns  median %.0f ns  per pair\n",
        update ? "files_update fd, then -1:" : "two nops:", t[update].front(),
        t[update][t[update].size() / 2]);
  }
  return 0;
}
