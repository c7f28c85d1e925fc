// The ceiling: a hand-written liburing server with no abstraction at all.
//   uring_loop_server echo|http PORT [fixed] [thread]
// echo: every byte read is written back. http: answers every request
// (ended by an empty line) with a fixed keep-alive "Hello, World!".
// fixed: each accepted socket is also registered in the ring's file table
// (slot = its descriptor) and received from / sent to with IOSQE_FIXED_FILE,
// which spares the kernel a file lookup and reference per request.
// thread: one more thread, idle, shares the file table (as Asio's reactor
// thread does in a Beast server), so plain descriptor lookups are no longer
// the single-threaded kind.
// Exits on SIGINT/SIGTERM.
#include <liburing.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

const char http_reply[] =
    "HTTP/1.1 200 OK\r\nServer: uring-loop\r\nContent-Type: text/plain\r\n"
    "Content-Length: 13\r\n\r\nHello, World!";

struct connection
{
  int fd = -1;
  char buf[4096];
  std::size_t used = 0;     // http: bytes of an unfinished request
  std::string out;          // bytes being written
};

enum : unsigned { op_accept = 0, op_recv = 1, op_send = 2, op_close = 3 };

io_uring ring;
bool http_mode = false;
bool fixed_files = false;
std::vector<connection*> conns;

io_uring_sqe* sqe()
{
  io_uring_sqe* s = io_uring_get_sqe(&ring);
  if (!s)
  {
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  return s;
}

std::uint64_t tag(int fd, unsigned op) { return (std::uint64_t(unsigned(fd)) << 2) | op; }

// With fixed files the SQE's fd is the slot in the registered table, which is
// the descriptor's number here.
void use_fixed(io_uring_sqe* s)
{
  if (fixed_files) s->flags |= IOSQE_FIXED_FILE;
}

void queue_recv(connection& c)
{
  io_uring_sqe* s = sqe();
  io_uring_prep_recv(s, c.fd, c.buf + c.used, sizeof c.buf - c.used, 0);
  use_fixed(s);
  io_uring_sqe_set_data64(s, tag(c.fd, op_recv));
}

void queue_send(connection& c)
{
  io_uring_sqe* s = sqe();
  io_uring_prep_send(s, c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
  use_fixed(s);
  io_uring_sqe_set_data64(s, tag(c.fd, op_send));
}

void drop(connection& c)
{
  if (fixed_files)
  {
    int none = -1;
    io_uring_register_files_update(&ring, static_cast<unsigned>(c.fd), &none, 1);
  }
  ::close(c.fd);
  conns[static_cast<std::size_t>(c.fd)] = nullptr;
  delete &c;
}

} // namespace

int main(int argc, char** argv)
{
  if (argc < 3)
  {
    std::fprintf(stderr, "usage: uring_loop_server echo|http PORT [fixed] [thread]\n");
    return 2;
  }
  http_mode = std::string_view(argv[1]) == "http";
  int port = std::atoi(argv[2]);
  bool idle_thread = false;
  for (int i = 3; i < argc; ++i)
  {
    if (std::string_view(argv[i]) == "fixed") fixed_files = true;
    else if (std::string_view(argv[i]) == "thread") idle_thread = true;
    else
    {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (idle_thread)
  {
    // The thread blocks every signal, so SIGTERM reaches the loop.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    std::thread([] { for (;;) ::pause(); }).detach();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  std::signal(SIGTERM, [](int) { stop_requested = 1; });

  io_uring_params p{};
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL;
  if (io_uring_queue_init_params(4096, &ring, &p) < 0) return 1;
  // The table may not exceed RLIMIT_NOFILE; a descriptor is below it too.
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  const unsigned slots = static_cast<unsigned>(nofile.rlim_cur < 65536 ? nofile.rlim_cur : 65536);
  if (fixed_files && io_uring_register_files_sparse(&ring, slots) < 0)
  {
    std::fprintf(stderr, "io_uring_register_files_sparse failed\n");
    return 1;
  }

  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 4096) != 0)
  {
    std::perror("listen");
    return 1;
  }
  conns.resize(65536, nullptr);
  io_uring_sqe* s = sqe();
  io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, 0);
  io_uring_sqe_set_data64(s, tag(lfd, op_accept));
  std::printf("uring loop server (%s%s%s) listening on %d\n", argv[1],
      fixed_files ? ", fixed files" : "", idle_thread ? ", idle thread" : "", port);
  std::fflush(stdout);

  while (!stop_requested)
  {
    io_uring_cqe* cqe;
    if (io_uring_submit_and_wait(&ring, 1) < 0 && !stop_requested) continue;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe)
    {
      ++seen;
      int fd = static_cast<int>(cqe->user_data >> 2);
      unsigned op = cqe->user_data & 3;
      if (op == op_accept)
      {
        if (cqe->res >= 0)
        {
          auto* c = new connection;
          c->fd = cqe->res;
          ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (fixed_files && io_uring_register_files_update(&ring, static_cast<unsigned>(c->fd), &c->fd, 1) != 1)
          {
            std::fprintf(stderr, "io_uring_register_files_update failed\n");
            return 1;
          }
          conns[static_cast<std::size_t>(c->fd)] = c;
          queue_recv(*c);
        }
        continue;
      }
      connection* c = conns[static_cast<std::size_t>(fd)];
      if (!c) continue;
      if (cqe->res <= 0)
      {
        drop(*c);
        continue;
      }
      std::size_t n = static_cast<std::size_t>(cqe->res);
      if (op == op_send)
      {
        c->out.erase(0, n);
        if (!c->out.empty()) queue_send(*c);
        else queue_recv(*c);
        continue;
      }
      if (!http_mode)
      {
        c->out.assign(c->buf, n);
        queue_send(*c);
        continue;
      }
      c->used += n;
      std::string_view data(c->buf, c->used);
      std::size_t end, consumed = 0;
      while ((end = data.find("\r\n\r\n", consumed)) != std::string_view::npos)
      {
        c->out.append(http_reply, sizeof http_reply - 1);
        consumed = end + 4;
      }
      std::memmove(c->buf, c->buf + consumed, c->used - consumed);
      c->used -= consumed;
      if (!c->out.empty()) queue_send(*c);
      else queue_recv(*c);
    }
    io_uring_cq_advance(&ring, seen);
  }
  std::printf("signal: exiting\n");
  io_uring_queue_exit(&ring);
  return 0;
}
