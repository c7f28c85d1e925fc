// Single issuer (doc/design.md, "Single issuer"): a context with concurrency
// hint 1 gets an IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN ring, created
// disabled and enabled by the thread that first enters it; every threading
// pattern Asio allows still works or fails with a clear error. Also the
// registered ring fd, which is per thread.
#define BOOST_TEST_MODULE single_issuer
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include "support.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using stream = asio_uring::local::stream_protocol::socket;
namespace detail = asio_uring::detail;

namespace {

constexpr unsigned si_flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;

detail::ring& ring_of(asio_uring::io_context& ctx) { return ctx.impl().get_ring(); }
bool kernel(asio_uring::io_context& ctx) { return ctx.engine() == asio_uring::engine_kind::io_uring; }
bool single_issuer(asio_uring::io_context& ctx) { return (ring_of(ctx).setup_flags() & si_flags) == si_flags; }
pid_t tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

unsigned flags_with(int hint, bool option, const char* features)
{
  if (features) ::setenv("ASIO_URING_FEATURES", features, 1);
  asio_uring::io_context_options o;
  o.concurrency_hint = hint;
  o.single_issuer = option;
  asio_uring::io_context ctx(o);
  if (features) ::unsetenv("ASIO_URING_FEATURES");
  if (!kernel(ctx)) return ~0u;
  return ring_of(ctx).setup_flags();
}

// A pending read on one end of a socket pair, its result recorded.
struct pending_read
{
  explicit pending_read(asio_uring::io_context& ctx) : a(ctx), b(ctx) { asio_uring::local::connect_pair(a, b); }
  void start(std::vector<std::string>& log)
  {
    boost::asio::async_read(a, boost::asio::buffer(buf), [this, &log](boost::system::error_code e, std::size_t n) {
      log.push_back("read " + (e ? e.message() : std::string(buf, n)));
    });
  }
  stream a, b;
  char buf[3] = {};
};

} // namespace

BOOST_AUTO_TEST_CASE(ring_flags_follow_the_hint_the_option_and_the_environment)
{
  const char* forced = std::getenv("ASIO_URING_FEATURES");
  if (forced) return;  // the process-wide override decides instead
  const unsigned h1 = flags_with(1, true, nullptr);
  if (h1 == ~0u)
  {
    // The emulated engine has no setup flags to choose.
    BOOST_TEST(flags_with(0, true, nullptr) == ~0u);
    return;
  }
  BOOST_TEST((h1 & si_flags) == si_flags);
  BOOST_TEST((h1 & IORING_SETUP_R_DISABLED) != 0u);
  const unsigned base = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
  BOOST_TEST((h1 & base) == base);
  for (int hint : {0, -1, 2, 4})
  {
    const unsigned f = flags_with(hint, true, nullptr);
    BOOST_TEST((f & (si_flags | IORING_SETUP_R_DISABLED)) == 0u, "hint " << hint);
    BOOST_TEST((f & base) == base);
  }
  BOOST_TEST((flags_with(1, false, nullptr) & (si_flags | IORING_SETUP_R_DISABLED)) == 0u);
  BOOST_TEST((flags_with(1, true, "-single_issuer") & (si_flags | IORING_SETUP_R_DISABLED)) == 0u);
  BOOST_TEST((flags_with(0, true, "+single_issuer_always") & si_flags) == si_flags);
  BOOST_TEST((flags_with(4, true, "+single_issuer_always,-single_issuer") & si_flags) == 0u);

  // io_context{1} is the hint.
  asio_uring::io_context ctx{1};
  BOOST_TEST(single_issuer(ctx));
  BOOST_TEST(!ring_of(ctx).enabled());
  BOOST_TEST(ring_of(ctx).submitter() == 0);
}

BOOST_AUTO_TEST_CASE(constructed_on_one_thread_run_on_another)
{
  asio_uring::io_context ctx{1};
  std::vector<std::string> log;
  pending_read r(ctx);
  r.start(log);
  asio_uring::steady_timer t(ctx, 20ms);
  t.async_wait([&](boost::system::error_code e) {
    log.push_back("timer " + std::to_string(e.value()));
    boost::asio::write(r.b, boost::asio::buffer("abc", 3));
  });
  boost::asio::post(ctx, [&] { log.push_back("post"); });
  if (kernel(ctx) && single_issuer(ctx)) BOOST_TEST(!ring_of(ctx).enabled());

  pid_t runner = 0;
  std::size_t ran = 0;
  std::thread th([&] {
    runner = tid();
    ran = ctx.run();
  });
  th.join();
  BOOST_TEST(ran == 3u);
  BOOST_TEST((log == std::vector<std::string>{"post", "timer 0", "read abc"}));
  if (kernel(ctx) && single_issuer(ctx)) BOOST_TEST(ring_of(ctx).submitter() == runner);
}

BOOST_AUTO_TEST_CASE(other_threads_post_dispatch_cancel_and_close_while_the_owner_blocks)
{
  asio_uring::io_context ctx{1};
  auto guard = boost::asio::make_work_guard(ctx);
  std::vector<std::string> log;
  pending_read r(ctx);
  r.start(log);
  asio_uring::steady_timer t(ctx, 10s);
  t.async_wait([&](boost::system::error_code e) { log.push_back(e == boost::asio::error::operation_aborted ? "timer aborted" : "timer fired"); });
  std::atomic<bool> returned{false};
  std::thread th([&] {
    ctx.run();
    returned = true;
  });
  std::atomic<int> step{0};
  std::this_thread::sleep_for(30ms);  // run() blocks in the kernel
  boost::asio::post(ctx, [&] { log.push_back("post"); step = 1; });
  while (step != 1) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  boost::asio::dispatch(ctx, [&] { log.push_back("dispatch"); step = 2; });
  while (step != 2) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  t.cancel();   // from this thread, on the blocked owner's loop
  std::this_thread::sleep_for(20ms);
  r.a.close();  // likewise: the read ends with operation_aborted
  std::this_thread::sleep_for(20ms);
  BOOST_TEST(!returned);
  guard.reset();
  th.join();
  BOOST_TEST(returned);
  BOOST_TEST((log == std::vector<std::string>{"post", "dispatch", "timer aborted", "read Operation canceled"}));
}

BOOST_AUTO_TEST_CASE(run_again_on_the_same_thread_and_on_another)
{
  asio_uring::io_context ctx{1};
  std::vector<std::string> log;
  // A timer makes run() wait in the kernel, which enables the ring.
  asio_uring::steady_timer t1(ctx, 1ms);
  t1.async_wait([&](boost::system::error_code) { log.push_back("main 1"); });
  BOOST_TEST(ctx.run() == 1u);
  const pid_t first = kernel(ctx) && single_issuer(ctx) ? ring_of(ctx).submitter() : 0;
  if (kernel(ctx) && single_issuer(ctx)) BOOST_TEST(first == tid());

  ctx.restart();
  boost::asio::post(ctx, [&] { log.push_back("main 2"); });
  BOOST_TEST(ctx.run() == 1u);

  // run() returned (out of work) on this live thread; another thread runs
  // the context now: it gets a ring of its own.
  ctx.restart();
  pending_read r(ctx);
  r.start(log);
  boost::asio::post(ctx, [&] { boost::asio::write(r.b, boost::asio::buffer("xyz", 3)); log.push_back("thread"); });
  pid_t runner = 0;
  std::size_t ran = 0;
  std::thread th([&] {
    runner = tid();
    ran = ctx.run();
  });
  th.join();
  BOOST_TEST(ran == 2u);
  if (kernel(ctx) && single_issuer(ctx)) BOOST_TEST(ring_of(ctx).submitter() == runner);

  // And back on this thread (the other one has exited).
  ctx.restart();
  t1.expires_after(1ms);
  t1.async_wait([&](boost::system::error_code) { log.push_back("main 3"); });
  BOOST_TEST(ctx.run() == 1u);
  if (kernel(ctx) && single_issuer(ctx)) BOOST_TEST(ring_of(ctx).submitter() == tid());
  BOOST_TEST((log == std::vector<std::string>{"main 1", "main 2", "thread", "read xyz", "main 3"}));
}

BOOST_AUTO_TEST_CASE(requests_of_an_exited_runner_move_to_the_next_one)
{
  // The runner stops with a read in the kernel and exits: its exit parks
  // the read, and the next thread to run the context starts it again on a
  // ring of its own.
  asio_uring::io_context ctx{1};
  if (kernel(ctx) && !single_issuer(ctx))
  {
    // Not on a shared kernel ring: the kernel itself ends an exited
    // thread's requests there (with ECANCELED, when they next have an
    // event, or never when cancelled from another thread); see the report
    // of issue 10.
    return;
  }
  std::vector<std::string> log;
  pending_read r(ctx);
  r.start(log);
  asio_uring::steady_timer t(ctx, 10ms);
  t.async_wait([&](boost::system::error_code) { log.push_back("timer"); ctx.stop(); });
  std::thread th([&] { ctx.run(); });
  th.join();
  BOOST_TEST((log == std::vector<std::string>{"timer"}));
  if (kernel(ctx) && single_issuer(ctx)) BOOST_TEST(ctx.impl().in_flight() == 0u);  // parked

  boost::asio::write(r.b, boost::asio::buffer("def", 3));
  ctx.restart();
  BOOST_TEST(ctx.run() == 1u);
  BOOST_TEST((log == std::vector<std::string>{"timer", "read def"}));
  if (kernel(ctx) && single_issuer(ctx)) BOOST_TEST(ring_of(ctx).submitter() == tid());
}

BOOST_AUTO_TEST_CASE(another_thread_cannot_take_requests_of_a_live_submitter)
{
  asio_uring::io_context ctx{1};
  std::vector<std::string> log;
  pending_read r(ctx);
  r.start(log);
  asio_uring::steady_timer t(ctx, 5ms);  // run() waits in the kernel: the read is submitted
  t.async_wait([&](boost::system::error_code) { ctx.stop(); });
  ctx.run();  // returns with the read in the kernel, on this live thread
  ctx.restart();

  if (!kernel(ctx) || !single_issuer(ctx))
  {
    // Any thread may take over other rings: nothing to refuse.
    boost::asio::write(r.b, boost::asio::buffer("ghi", 3));
    std::thread th([&] { ctx.run(); });
    th.join();
    BOOST_TEST((log == std::vector<std::string>{"read ghi"}));
    return;
  }
  std::string error;
  int code = 0;
  std::thread th([&] {
    try { ctx.run(); }
    catch (const boost::system::system_error& e) { error = e.what(); code = e.code().value(); }
  });
  th.join();
  BOOST_TEST(code == EEXIST);
  BOOST_TEST(error.find("single-issuer (concurrency hint 1)") != std::string::npos, error);
  BOOST_TEST(error.find("ASIO_URING_FEATURES=-single_issuer") != std::string::npos, error);
  // The submitter still runs it.
  boost::asio::write(r.b, boost::asio::buffer("ghi", 3));
  ctx.restart();
  BOOST_TEST(ctx.run() == 1u);
  BOOST_TEST((log == std::vector<std::string>{"read ghi"}));
}

BOOST_AUTO_TEST_CASE(destroyed_on_another_thread_with_operations_in_flight)
{
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> watch = token;
  std::vector<std::string> log;
  {
    auto ctx = std::make_unique<asio_uring::io_context>(1);
    if (kernel(*ctx) && !single_issuer(*ctx)) return;  // as in the test above
    auto r = std::make_unique<pending_read>(*ctx);
    boost::asio::async_read(r->a, boost::asio::buffer(r->buf), [token, &log](boost::system::error_code, std::size_t) { log.push_back("read"); });
    auto t = std::make_unique<asio_uring::steady_timer>(*ctx, 10s);
    t->async_wait([token, &log](boost::system::error_code) { log.push_back("timer"); });
    token.reset();
    auto stopper = std::make_unique<asio_uring::steady_timer>(*ctx, 10ms);
    stopper->async_wait([&](boost::system::error_code) { ctx->stop(); });
    std::thread th([&] { ctx->run(); });
    th.join();
    // The runner has exited; this thread destroys everything.
    stopper.reset();
    t.reset();
    r.reset();
    ctx.reset();
  }
  BOOST_TEST(log.empty());
  BOOST_TEST(watch.expired(), "holders left: " << watch.use_count());  // both handlers destroyed, not leaked
}

BOOST_AUTO_TEST_CASE(two_threads_run_a_hint_1_context_at_once)
{
  asio_uring::io_context ctx{1};
  std::mutex m;
  std::vector<pid_t> ran_on;
  std::atomic<int> count{0};
  constexpr int posts = 2000;
  // Socket round trips too: only the leader may submit them.
  pending_read r(ctx);
  std::vector<std::string> log;
  r.start(log);
  auto strand = boost::asio::make_strand(ctx);
  int in_strand = 0;
  int strand_runs = 0;
  bool overlap = false;
  pid_t t1 = 0, t2 = 0;
  std::size_t n1 = 0, n2 = 0;
  std::thread a([&] { t1 = tid(); n1 = ctx.run(); });
  std::thread b([&] { t2 = tid(); n2 = ctx.run(); });
  for (int i = 0; i < posts; ++i)
  {
    boost::asio::post(ctx, [&] {
      {
        std::lock_guard g(m);
        ran_on.push_back(tid());
      }
      if (++count == posts) boost::asio::write(r.b, boost::asio::buffer("end", 3));
    });
    boost::asio::post(strand, [&] {
      if (in_strand++ != 0) overlap = true;
      ++strand_runs;
      std::this_thread::yield();
      --in_strand;
    });
  }
  a.join();
  b.join();
  BOOST_TEST(count == posts);
  BOOST_TEST(!overlap);
  BOOST_TEST(strand_runs == posts);
  BOOST_TEST(n1 + n2 >= static_cast<std::size_t>(posts + 1));
  BOOST_TEST((log == std::vector<std::string>{"read end"}));
  if (kernel(ctx) && single_issuer(ctx))
  {
    const pid_t s = ring_of(ctx).submitter();
    BOOST_TEST((s == t1 || s == t2));
  }
}

BOOST_AUTO_TEST_CASE(ring_fd_registered_per_thread_for_the_run_call)
{
  for (int hint : {0, 1})
  {
    asio_uring::io_context ctx{hint};
    std::mutex m;
    std::vector<std::pair<pid_t, int>> seen;  // thread, its registered index
    std::atomic<int> trips{0};
    std::atomic<int> first_error{0};
    std::atomic<int> returned{0};
    constexpr int rounds = 200;
    stream a(ctx), b(ctx);
    asio_uring::local::connect_pair(a, b);
    char ab[1], bb[1];
    // Ping-pong across the pair: every round trip enters the kernel, from
    // whichever thread owns the loop at the time.
    std::function<void()> ping = [&] {
      boost::asio::async_write(a, boost::asio::buffer("p", 1), [&](boost::system::error_code e, std::size_t) {
        if (e) { first_error = e.value(); return; }
        boost::asio::async_read(a, boost::asio::buffer(ab), [&](boost::system::error_code e2, std::size_t) {
          if (e2) first_error = e2.value();
          else if (++trips < rounds) ping();
        });
      });
    };
    std::function<void()> pong = [&] {
      boost::asio::async_read(b, boost::asio::buffer(bb), [&](boost::system::error_code e, std::size_t) {
        if (e) { if (trips < rounds) first_error = e.value(); return; }
        {
          std::lock_guard g(m);
          seen.emplace_back(tid(), detail::tl_thread_ctx->ring_index);
        }
        boost::asio::async_write(b, boost::asio::buffer("q", 1), [&](boost::system::error_code e2, std::size_t) {
          if (!e2) pong();
        });
      });
    };
    ping();
    pong();
    std::thread t1([&] { ctx.run_for(5s); ++returned; });
    std::thread t2([&] { ctx.run_for(5s); ++returned; });
    while (trips < rounds && returned < 2) std::this_thread::sleep_for(1ms);
    const int returned_early = returned;
    a.close();
    b.close();
    t1.join();
    t2.join();
    BOOST_TEST(trips == rounds, "hint " << hint);
    BOOST_TEST(first_error == 0, "hint " << hint);
    BOOST_TEST(returned_early == 0, "hint " << hint);
    // Outside run() no thread's index is in use.
    if (kernel(ctx)) BOOST_TEST((ring_of(ctx).get()->int_flags & 1) == 0);
    bool any_registered = false;
    for (auto& [who, index] : seen) any_registered |= index >= 0;
    if (kernel(ctx) && !std::getenv("ASIO_URING_FEATURES")) BOOST_TEST(any_registered, "hint " << hint);
    if (!kernel(ctx)) BOOST_TEST(!any_registered);
  }

  // Switched off: nothing registered.
  asio_uring::io_context_options o;
  o.register_ring_fd = false;
  asio_uring::io_context ctx(o);
  int index = 7;
  boost::asio::post(ctx, [&] { index = detail::tl_thread_ctx->ring_index; });
  ctx.run();
  BOOST_TEST(index == -1);
}

BOOST_AUTO_TEST_CASE(cancel_while_the_runner_thread_exits)
{
  // The runner starts a read and returns with it in the kernel; when its
  // thread exits, its exit hook borrows the loop to park the read. The main
  // thread cancels the read meanwhile, so some cancels find the loop
  // borrowed and are queued for the borrower, and some borrow it first
  // (then the exit hook must wait for the loop, and the cancel, an SQE the
  // main thread cannot submit to the runner's ring, must not be mistaken for
  // the park's own). Before the fixes, in 2,000 rounds: a cancel() that
  // waited for ever, run() throwing EEXIST (the read left in a dead
  // submitter's ring), or the read parked and restarted (the cancel lost).
  test_support::watchdog dog(60s, "cancel_while_the_runner_thread_exits");
  int failed_rounds = 0;
  for (int round = 0; round < 2000 && failed_rounds < 3; ++round)
  {
    asio_uring::io_context ctx{1};
    pending_read r(ctx);
    std::vector<std::string> log;
    boost::asio::post(ctx, [&] { r.start(log); });
    std::atomic<bool> returned{false};
    std::thread th([&] {
      ctx.poll();  // starts the read on this thread: it becomes the submitter
      returned = true;
    });
    while (!returned) std::this_thread::yield();
    // The exit hook runs now: race it with calls that need the loop.
    for (int i = 0; i < 100; ++i) r.a.cancel();
    th.join();
    ctx.restart();
    const std::size_t ran = ctx.run_for(5s);
    BOOST_TEST(ran == 1u, "round " << round);
    BOOST_TEST((log == std::vector<std::string>{"read Operation canceled"}), "round " << round);
    if (ran != 1u)
    {
      ++failed_rounds;
      r.a.close();
      ctx.restart();
      ctx.run();
    }
  }
}

BOOST_AUTO_TEST_CASE(cancel_just_before_a_fork_is_not_lost)
{
  // A read in the kernel is cancelled by the user, then fork_prepare parks
  // what is in flight. The cancel's completion is still the kernel's
  // (deferred task work on a hint-1 ring, cooperative task work otherwise):
  // the park must deliver it as the read's result, not take the read's
  // -ECANCELED for its own cancel-any, park the read and start it again in
  // both processes (the cancel lost: run_for would then time out with no
  // handler run). Both processes run the handler once, with
  // operation_aborted.
  for (int hint : {1, 0})
  {
    asio_uring::io_context ctx{hint};
    pending_read r(ctx);
    std::vector<std::string> log;
    boost::asio::post(ctx, [&] { r.start(log); });
    BOOST_TEST(ctx.poll() == 1u);  // the read is in the kernel now
    r.a.cancel();
    test_support::run_forked(ctx, 2, [&](int& status) {
      status = 3;
      ctx.restart();
      if (ctx.run_for(2s) != 1u) return;
      status = log == std::vector<std::string>{"read Operation canceled"} ? 0 : 4;
    });
    ctx.restart();
    BOOST_TEST(ctx.run_for(2s) == 1u, "hint " << hint);
    BOOST_TEST((log == std::vector<std::string>{"read Operation canceled"}), "hint " << hint);
  }
}

BOOST_AUTO_TEST_CASE(registered_buffers_survive_a_move_to_another_thread)
{
  asio_uring::io_context ctx{1};
  char path[] = "/tmp/asio_uring_si_XXXXXX";
  int fd = ::mkstemp(path);
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST_REQUIRE(::write(fd, "registered", 10) == 10);
  ::close(fd);
  std::vector<char> mem(4096);
  asio_uring::registered_buffers regs(ctx, {boost::asio::buffer(mem)});
  asio_uring::random_access_file f(ctx, path, asio_uring::random_access_file::read_only);
  ::unlink(path);
  std::vector<std::string> log;
  auto read = [&] {
    f.async_read_some_at(0, regs[0].slice(0, 10), [&](boost::system::error_code e, std::size_t n) {
      log.push_back(e ? e.message() : std::string(mem.data(), n));
    });
  };
  std::thread th([&] { read(); ctx.run(); });
  th.join();
  ctx.restart();
  std::fill(mem.begin(), mem.end(), 0);
  read();
  ctx.run();  // this thread now: a new ring, the buffers registered again
  BOOST_TEST((log == std::vector<std::string>{"registered", "registered"}));
}

BOOST_AUTO_TEST_CASE(signal_set_keeps_working_after_its_runner_exited)
{
  // The runner's exit parks the signal pipe read with the rest; the next
  // thread's ring re-arms it (a ring-renewed hook).
  asio_uring::io_context ctx{1};
  if (kernel(ctx) && !single_issuer(ctx)) return;  // as above
  asio_uring::signal_set signals(ctx, SIGUSR2);
  asio_uring::steady_timer t(ctx, 5ms);
  t.async_wait([&](boost::system::error_code) { ctx.stop(); });
  std::thread th([&] { ctx.run(); });
  th.join();
  ctx.restart();
  int got = 0;
  signals.async_wait([&](boost::system::error_code e, int signo) { got = e ? -1 : signo; });
  asio_uring::steady_timer later(ctx, 5ms);
  later.async_wait([&](boost::system::error_code) { ::raise(SIGUSR2); });
  asio_uring::steady_timer guard(ctx, 5s);
  guard.async_wait([&](boost::system::error_code e) { if (!e) ctx.stop(); });
  std::size_t ran = 0;
  while (got == 0 && !ctx.stopped()) ran += ctx.run_one();
  guard.cancel();
  ctx.run();
  BOOST_TEST(got == SIGUSR2);
  BOOST_TEST(ran >= 2u);
}
