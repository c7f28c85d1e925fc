// When the kernel refuses io_uring, the constructor throws system_error
// naming the cause and the fix. Each case really forces the failure in a
// child process: a seccomp filter (as a container runtime installs) or a
// resource limit.
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

namespace {

// Makes io_uring_setup fail with `err` for this process, as Docker's default
// seccomp profile does.
bool deny_io_uring_setup(int err)
{
  sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
      && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// Runs `setup` then constructs a context in a child; the child reports the
// errno of the system_error and whether the message contains `needle`.
// Returns "errno:found" or a description of what went wrong.
std::string child_result(std::function<bool()> setup, const char* needle)
{
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0)
  {
    ::close(fds[0]);
    std::string out;
    if (!setup())
      out = "setup failed";
    else
    {
      try
      {
        asio_uring::io_context ctx;
        out = "constructed";
      }
      catch (const boost::system::system_error& e)
      {
        out = std::to_string(e.code().value()) + ":"
            + (std::strstr(e.what(), needle) ? "found" : std::string("missing in: ") + e.what());
      }
      catch (const std::exception& e)
      {
        out = std::string("other exception: ") + e.what();
      }
    }
    [[maybe_unused]] auto n = ::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string result;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) result.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return result;
}

} // namespace

BOOST_AUTO_TEST_CASE(seccomp_eperm)
{
  BOOST_TEST(child_result([] { return deny_io_uring_setup(EPERM); }, "seccomp")
      == std::to_string(EPERM) + ":found");
}

BOOST_AUTO_TEST_CASE(seccomp_enosys)
{
  BOOST_TEST(child_result([] { return deny_io_uring_setup(ENOSYS); }, "allow the io_uring system calls")
      == std::to_string(ENOSYS) + ":found");
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
  BOOST_TEST(child_result(lower, "RLIMIT_NOFILE") == std::to_string(EMFILE) + ":found");
}

BOOST_AUTO_TEST_CASE(hint_names_the_sysctl_and_memlock)
{
  // The texts the checks above cannot reach on this kernel.
  BOOST_TEST(std::strstr(asio_uring::detail::ring_setup_hint(ENOMEM), "RLIMIT_MEMLOCK") != nullptr);
  BOOST_TEST(std::strstr(asio_uring::detail::ring_setup_hint(EPERM), "io_uring_disabled") != nullptr);
}
