// When the kernel refuses io_uring, an automatic context runs on the
// emulated engine and a context forced to io_uring throws system_error
// naming the cause and the fix; other setup errors throw in every mode.
// Each case really forces the failure in a child process: a seccomp filter
// (as a container runtime installs) or a resource limit.
#define BOOST_TEST_MODULE setup_failure
#include <boost/test/unit_test.hpp>

#include <asio_uring.hpp>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>
#include <string>

#include "support.hpp"

namespace {

// Makes the three io_uring system calls fail with `err` for this process,
// as Docker's default seccomp profile does; with `setup_too` false,
// io_uring_setup is still allowed (a filter that only blocks the others).
bool deny_io_uring(int err, bool setup_too = true)
{
  const unsigned ret_err = SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA);
  const unsigned first = setup_too ? __NR_io_uring_setup : __NR_io_uring_enter;
  sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, first, 3, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_RET | BPF_K, ret_err),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
      && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

using asio_uring::engine_kind;

asio_uring::io_context_options with_engine(engine_kind e)
{
  asio_uring::io_context_options o;
  o.engine = e;
  return o;
}

// Runs `setup` then constructs a context with `opts` in a child (whose
// ASIO_URING_ENGINE is `env`, unset when null); the child reports the errno
// of the system_error and whether the message contains `needle`, or the
// engine it runs. Returns "errno:found", "constructed: engine" or a
// description of what went wrong.
std::string child_result(std::function<bool()> setup, const char* needle,
    const asio_uring::io_context_options& opts = {}, const char* env = nullptr)
{
  return test_support::child_output([&]() -> std::string {
    if (env) ::setenv("ASIO_URING_ENGINE", env, 1);
    else ::unsetenv("ASIO_URING_ENGINE");
    if (!setup()) return "setup failed";
    try
    {
      asio_uring::io_context ctx(opts);
      return std::string("constructed: ") + to_string(ctx.engine());
    }
    catch (const boost::system::system_error& e)
    {
      return std::to_string(e.code().value()) + ":"
          + (std::strstr(e.what(), needle) ? "found" : std::string("missing in: ") + e.what());
    }
    catch (const std::exception& e)
    {
      return std::string("other exception: ") + e.what();
    }
  });
}

} // namespace

BOOST_AUTO_TEST_CASE(seccomp_eperm_forced_io_uring_throws)
{
  BOOST_TEST(child_result([] { return deny_io_uring(EPERM); }, "seccomp", with_engine(engine_kind::io_uring))
      == std::to_string(EPERM) + ":found");
}

BOOST_AUTO_TEST_CASE(seccomp_enosys_forced_io_uring_throws)
{
  BOOST_TEST(child_result([] { return deny_io_uring(ENOSYS); }, "allow the io_uring system calls",
                 with_engine(engine_kind::io_uring))
      == std::to_string(ENOSYS) + ":found");
}

BOOST_AUTO_TEST_CASE(refused_io_uring_falls_back_when_automatic)
{
  // Docker and the sysctl (EPERM), an LSM (EACCES), Podman and gVisor
  // (ENOSYS), managed platforms (EOPNOTSUPP).
  for (int err : {EPERM, EACCES, ENOSYS, EOPNOTSUPP})
  {
    BOOST_TEST_CONTEXT("errno " << err)
    {
      BOOST_TEST(child_result([err] { return deny_io_uring(err); }, "") == "constructed: emulated");
    }
  }
}

BOOST_AUTO_TEST_CASE(refused_enter_and_register_are_found_at_setup)
{
  // io_uring_setup works, io_uring_enter and io_uring_register do not.
  auto deny_rest = [] { return deny_io_uring(EPERM, false); };
  BOOST_TEST(child_result(deny_rest, "") == "constructed: emulated");
  BOOST_TEST(child_result(deny_rest, "seccomp", with_engine(engine_kind::io_uring))
      == std::to_string(EPERM) + ":found");
}

BOOST_AUTO_TEST_CASE(every_engine_is_chosen_as_asked)
{
  auto nothing = [] { return true; };
  BOOST_TEST(child_result(nothing, "") == "constructed: io_uring");
  BOOST_TEST(child_result(nothing, "", with_engine(engine_kind::io_uring)) == "constructed: io_uring");
  BOOST_TEST(child_result(nothing, "", with_engine(engine_kind::emulated)) == "constructed: emulated");
  // The environment variable overrides the option, both ways.
  BOOST_TEST(child_result(nothing, "", with_engine(engine_kind::io_uring), "emulated") == "constructed: emulated");
  BOOST_TEST(child_result(nothing, "", with_engine(engine_kind::emulated), "io_uring") == "constructed: io_uring");
  BOOST_TEST(child_result(nothing, "", with_engine(engine_kind::emulated), "automatic") == "constructed: io_uring");
  BOOST_TEST(child_result(nothing, "", {}, "epoll") == "other exception: asio_uring::io_context: "
      "ASIO_URING_ENGINE=epoll is not one of io_uring, emulated, automatic");
  // Under the filter, the variable still forces the kernel ring.
  BOOST_TEST(child_result([] { return deny_io_uring(EPERM); }, "seccomp", {}, "io_uring")
      == std::to_string(EPERM) + ":found");
}

BOOST_AUTO_TEST_CASE(configuration_errors_never_fall_back)
{
  auto nothing = [] { return true; };
  for (engine_kind e : {engine_kind::automatic, engine_kind::io_uring, engine_kind::emulated})
  {
    BOOST_TEST_CONTEXT(to_string(e))
    {
      auto opts = with_engine(e);
      opts.entries = 0;
      BOOST_TEST(child_result(nothing, "io_context_options", opts) == std::to_string(EINVAL) + ":found");
    }
  }
}

BOOST_AUTO_TEST_CASE(out_of_file_descriptors)
{
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer runtimes need descriptors of their own to report anything.
  BOOST_TEST_MESSAGE("skipped under AddressSanitizer");
  return;
#endif
  auto lower = [] {
    // Room for nothing new: the ring's descriptor cannot be created.
    int lowest_free = ::dup(0);
    if (lowest_free < 0) return false;
    ::close(lowest_free);
    rlimit r{static_cast<rlim_t>(lowest_free), static_cast<rlim_t>(lowest_free)};
    return ::setrlimit(RLIMIT_NOFILE, &r) == 0;
  };
  // Not a refusal: automatic does not fall back, and the emulated ring
  // needs a descriptor as well.
  BOOST_TEST(child_result(lower, "RLIMIT_NOFILE") == std::to_string(EMFILE) + ":found");
  BOOST_TEST(child_result(lower, "RLIMIT_NOFILE", with_engine(engine_kind::emulated))
      == std::to_string(EMFILE) + ":found");
}

BOOST_AUTO_TEST_CASE(hint_names_the_sysctl_and_memlock)
{
  // The texts the checks above cannot reach on this kernel.
  BOOST_TEST(std::strstr(asio_uring::detail::ring_setup_hint(ENOMEM), "RLIMIT_MEMLOCK") != nullptr);
  BOOST_TEST(std::strstr(asio_uring::detail::ring_setup_hint(EPERM), "io_uring_disabled") != nullptr);
}

BOOST_AUTO_TEST_CASE(feature_environment_variable)
{
  struct env_guard
  {
    env_guard(const char* v) { ::setenv("ASIO_URING_FEATURES", v, 1); }
    ~env_guard() { ::unsetenv("ASIO_URING_FEATURES"); }
  };
  {
    env_guard g("-single_issuer,-multishot_accept,+registered_files,-send_zc,,-multishot_recv");
    asio_uring::io_context_options o;
    asio_uring::apply_feature_env(o);
    BOOST_TEST(!o.single_issuer);
    BOOST_TEST(!o.multishot_accept);
    BOOST_TEST(!o.multishot_recv);
    BOOST_TEST(o.registered_files);
    BOOST_TEST(o.send_zc_threshold == 0u);
    BOOST_TEST(o.register_ring_fd);
  }
  {
    env_guard g("-multishot");
    asio_uring::io_context_options o;
    try
    {
      asio_uring::apply_feature_env(o);
      BOOST_FAIL("no exception");
    }
    catch (const std::invalid_argument& e)
    {
      BOOST_TEST(std::string(e.what()).find("unknown feature \"multishot\"") != std::string::npos);
    }
    BOOST_CHECK_THROW(asio_uring::io_context{}, std::invalid_argument);
  }
}
