// Echo ping-pong load generator on a hand-written liburing loop (so the
// client costs as little CPU as possible on the shared machine).
//   echo_client PORT CONNECTIONS MESSAGE_BYTES SECONDS [ROUND_TRIPS]
// With ROUND_TRIPS it stops after that many instead (for callgrind runs).
// Each connection sends one message, reads the whole echo, and repeats.
// Prints: round_trips seconds round_trips_per_second
//
// For bench/ablation.sh (thousands of connections):
//   ECHO_CLIENT_WAIT=1   once every connection is open, print
//                        "connected N" and wait for a line on stdin before
//                        sending, and after printing the result wait for
//                        another line (or the end of stdin) before closing
//                        (so the caller can leave connection set-up and
//                        tear-down out of what it measures)
//   MESSAGE_BYTES 0      idle connections: open them, print "connected N",
//                        send nothing, close them when stdin has a line or
//                        ends (SECONDS is ignored)
//   ECHO_CLIENT_SOURCES=n  spread the connections over the source addresses
//                        127.0.0.1 .. 127.0.0.n (more than one address's
//                        ephemeral ports)
// Connections are opened one after another with blocking connect(); raise
// RLIMIT_NOFILE (ulimit -n) above CONNECTIONS first.
#include <liburing.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct connection
{
  int fd = -1;
  std::vector<char> out, in;
  std::size_t received = 0;
};

enum : unsigned { op_send = 0, op_recv = 1 };

void queue(io_uring& ring, connection& c, unsigned index, unsigned op)
{
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (!sqe)
  {
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  if (op == op_send)
    io_uring_prep_send(sqe, c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
  else
    io_uring_prep_recv(sqe, c.fd, c.in.data() + c.received, c.in.size() - c.received, 0);
  io_uring_sqe_set_data64(sqe, (std::uint64_t(index) << 1) | op);
}

// Waits for a line on stdin (or its end).
void wait_for_go()
{
  for (int c; (c = std::getchar()) != EOF && c != '\n';) {}
}

} // namespace

int main(int argc, char** argv)
{
  if (argc != 5 && argc != 6)
  {
    std::fprintf(stderr, "usage: echo_client PORT CONNECTIONS MESSAGE_BYTES SECONDS [ROUND_TRIPS]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const unsigned conns = static_cast<unsigned>(std::atoi(argv[2]));
  const std::size_t size = static_cast<std::size_t>(std::atol(argv[3]));
  const double seconds = std::atof(argv[4]);
  const long max_round_trips = argc == 6 ? std::atol(argv[5]) : -1;

  const char* wait_env = std::getenv("ECHO_CLIENT_WAIT");
  const bool wait = size == 0 || (wait_env && *wait_env && *wait_env != '0');
  const char* sources_env = std::getenv("ECHO_CLIENT_SOURCES");
  const unsigned sources = std::clamp(sources_env ? std::atoi(sources_env) : 1, 1, 254);

  io_uring ring;
  io_uring_params p{};
  // Every connection has one request in flight: room for all completions.
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  p.cq_entries = std::max(8192u, 2 * conns);
  if (io_uring_queue_init_params(4096, &ring, &p) < 0)
  {
    p.flags = IORING_SETUP_CQSIZE;
    if (io_uring_queue_init_params(4096, &ring, &p) < 0) return 1;
  }

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  std::vector<connection> cs(conns);
  for (unsigned i = 0; i < conns; ++i)
  {
    connection& c = cs[i];
    c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (c.fd < 0)
    {
      std::perror("socket (ulimit -n too low?)");
      return 1;
    }
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (sources > 1)
    {
      // The port is chosen by connect(), per destination, not by bind().
      ::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + i % sources);
      if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
      {
        std::perror("bind");
        return 1;
      }
    }
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    {
      std::fprintf(stderr, "connection %u: ", i);
      std::perror("connect");
      return 1;
    }
    c.out.assign(size, static_cast<char>('a' + i % 26));
    c.in.assign(size, 0);
  }
  if (wait)
  {
    std::printf("connected %u\n", conns);
    std::fflush(stdout);
    wait_for_go();
  }
  if (size == 0)
  {
    for (auto& c : cs) ::close(c.fd);
    io_uring_queue_exit(&ring);
    return 0;
  }

  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  long round_trips = 0;
  for (unsigned i = 0; i < conns; ++i) queue(ring, cs[i], i, op_send);
  bool stopping = false;
  unsigned in_flight = conns;
  while (in_flight > 0)
  {
    io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe)
    {
      ++seen;
      unsigned index = static_cast<unsigned>(cqe->user_data >> 1);
      unsigned op = cqe->user_data & 1;
      connection& c = cs[index];
      if (cqe->res <= 0)
      {
        std::fprintf(stderr, "connection %u: %s\n", index, cqe->res == 0 ? "closed" : std::strerror(-cqe->res));
        return 1;
      }
      if (op == op_send)
      {
        queue(ring, c, index, op_recv);
        continue;
      }
      c.received += static_cast<std::size_t>(cqe->res);
      if (c.received < size)
      {
        queue(ring, c, index, op_recv);
        continue;
      }
      c.received = 0;
      ++round_trips;
      if (!stopping && max_round_trips > 0 && round_trips + long(conns) > max_round_trips)
        stopping = true;
      if (!stopping && (round_trips & 255) == 0 && std::chrono::steady_clock::now() >= deadline) stopping = true;
      if (stopping) --in_flight;
      else queue(ring, c, index, op_send);
    }
    io_uring_cq_advance(&ring, seen);
  }
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%ld %.3f %.0f\n", round_trips, took, round_trips / took);
  if (wait)
  {
    std::fflush(stdout);
    wait_for_go();
  }
  for (auto& c : cs) ::close(c.fd);
  io_uring_queue_exit(&ring);
  return 0;
}
