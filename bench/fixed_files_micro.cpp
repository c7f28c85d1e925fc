// Registered files (IOSQE_FIXED_FILE) measured in one process, as free of the
// shared machine's noise as a kernel-side cost can be: a loopback TCP pair,
// each iteration one 64-byte send on one end and one recv on the other (two
// requests, one io_uring_enter), in short batches that alternate between
// plain descriptors and registered slots. Per variant it prints the minimum
// and the median of the batches' thread CPU time (user + kernel) per
// iteration: other jobs only ever add time, so the minimum is the cleanest.
//   fixed_files_micro [BATCHES] [ITERATIONS] [thread]     (200 2000)
// thread: an idle second thread shares the file table, as Asio's reactor
// thread does in a Beast server.
#include <liburing.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>
#include <thread>
#include <vector>

namespace {

double thread_cpu_ns()
{
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

void die(const char* what)
{
  std::perror(what);
  std::exit(1);
}

// Runs `n` send+recv iterations; `fixed`: the SQE fds are slots 0 and 1.
void batch(io_uring& ring, int a, int b, bool fixed, int n)
{
  char out[64] = {}, in[64];
  for (int i = 0; i < n; ++i)
  {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    io_uring_prep_send(s, fixed ? 0 : a, out, sizeof out, MSG_NOSIGNAL);
    if (fixed) s->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe* r = io_uring_get_sqe(&ring);
    io_uring_prep_recv(r, fixed ? 1 : b, in, sizeof in, MSG_WAITALL);
    if (fixed) r->flags |= IOSQE_FIXED_FILE;
    io_uring_submit_and_wait(&ring, 2);
    for (int got = 0; got < 2; ++got)
    {
      io_uring_cqe* cqe;
      io_uring_wait_cqe(&ring, &cqe);
      if (cqe->res != 64)
      {
        std::fprintf(stderr, "res %d\n", cqe->res);
        std::exit(1);
      }
      io_uring_cqe_seen(&ring, cqe);
    }
  }
}

} // namespace

int main(int argc, char** argv)
{
  const int batches = argc > 1 ? std::atoi(argv[1]) : 200;
  const int iters = argc > 2 ? std::atoi(argv[2]) : 2000;
  const bool shared = argc > 3 && std::string_view(argv[3]) == "thread";
  if (shared)
  {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    std::thread([] { for (;;) ::pause(); }).detach();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(l, reinterpret_cast<sockaddr*>(&addr), len) || ::listen(l, 1)
      || ::getsockname(l, reinterpret_cast<sockaddr*>(&addr), &len))
    die("listen");
  int a = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(a, reinterpret_cast<sockaddr*>(&addr), len)) die("connect");
  int b = ::accept(l, nullptr, nullptr);
  int one = 1;
  ::setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  io_uring ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL;
  if (io_uring_queue_init_params(64, &ring, &p) < 0) die("io_uring_queue_init_params");
  // As our library does: io_uring_enter without an fd lookup either way.
  io_uring_register_ring_fd(&ring);
  int fds[2] = {a, b};
  if (io_uring_register_files(&ring, fds, 2) < 0) die("io_uring_register_files");

  batch(ring, a, b, false, iters);  // warm up
  batch(ring, a, b, true, iters);
  std::vector<double> plain, fixed;
  for (int i = 0; i < batches; ++i)
  {
    for (bool f : {false, true})
    {
      double t0 = thread_cpu_ns();
      batch(ring, a, b, f, iters);
      (f ? fixed : plain).push_back((thread_cpu_ns() - t0) / iters);
    }
  }
  for (auto* v : {&plain, &fixed})
  {
    std::sort(v->begin(), v->end());
    std::printf("%-6s min %.0f ns  median %.0f ns  per send+recv (%s)\n", v == &plain ? "plain" : "fixed",
        v->front(), (*v)[v->size() / 2], shared ? "file table shared" : "single thread");
  }
  return 0;
}
