#include <asio_uring/detail/ring.hpp>

#include "emulated_ring.hpp"

#include <boost/system/system_error.hpp>

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace asio_uring::detail {

namespace {

int read_io_uring_disabled() noexcept
{
  int value = 0;
  if (std::FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "r"))
  {
    if (std::fscanf(f, "%d", &value) != 1) value = 0;
    std::fclose(f);
  }
  return value;
}

[[noreturn]] void throw_setup_error(int err)
{
  std::string what = "asio_uring::io_context: io_uring is unavailable: ";
  what += ring_setup_hint(err);
  throw boost::system::system_error(
      boost::system::error_code(err, boost::system::system_category()), what);
}

// The option, unless ASIO_URING_ENGINE says otherwise for the process.
engine_kind chosen_engine(engine_kind option)
{
  const char* env = std::getenv("ASIO_URING_ENGINE");
  if (!env || !*env) return option;
  for (engine_kind e : {engine_kind::automatic, engine_kind::io_uring, engine_kind::emulated})
    if (std::strcmp(env, to_string(e)) == 0) return e;
  throw std::invalid_argument(std::string("asio_uring::io_context: ASIO_URING_ENGINE=") + env
      + " is not one of io_uring, emulated, automatic");
}

// The errors by which the kernel (or a filter in front of it) refuses
// io_uring, as opposed to a configuration or resource error.
bool refused(int err) noexcept
{
  return err == EPERM || err == EACCES || err == ENOSYS || err == EOPNOTSUPP;
}

unsigned round_up_pow2(unsigned n) noexcept
{
  unsigned p = 1;
  while (p < n) p <<= 1;
  return p;
}

} // namespace

} // namespace asio_uring::detail

namespace asio_uring {

namespace {

constexpr unsigned max_batch_wait_usec = 1'000'000;
constexpr unsigned max_batch_wait_count = 65536;

// A decimal number of digits only, in [lo, hi]; 0 otherwise (lo > 0).
unsigned parse_bounded(const std::string& s, unsigned lo, unsigned hi)
{
  if (s.empty() || s.size() > 9) return 0;
  unsigned v = 0;
  for (char c : s)
  {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v >= lo && v <= hi ? v : 0;
}

// The batch wait options a context accepts (io_context_options.hpp).
void check_batch_wait(const io_context_options& o)
{
  if (o.batch_wait_usec == 0) return;
  if (o.batch_wait_usec > max_batch_wait_usec || o.batch_wait_count < 2 || o.batch_wait_count > max_batch_wait_count)
    throw std::invalid_argument("asio_uring::io_context: batch_wait_usec must be at most "
        + std::to_string(max_batch_wait_usec) + " and batch_wait_count 2.." + std::to_string(max_batch_wait_count)
        + " (batch_wait_usec " + std::to_string(o.batch_wait_usec) + ", batch_wait_count "
        + std::to_string(o.batch_wait_count) + ")");
}

} // namespace

void apply_feature_env(io_context_options& o)
{
  const char* env = std::getenv("ASIO_URING_FEATURES");
  if (!env) return;
  std::string list(env);
  std::size_t pos = 0;
  while (pos <= list.size())
  {
    std::size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    bool on = true;
    if (item[0] == '-' || item[0] == '+')
    {
      on = item[0] == '+';
      item.erase(0, 1);
    }
    // "name=value": only batch_wait takes one, USEC or USEC:COUNT.
    if (const std::size_t eq = item.find('='); eq != std::string::npos)
    {
      const std::string value = item.substr(eq + 1);
      item.erase(eq);
      if (item != "batch_wait" || !on)
        throw std::invalid_argument("asio_uring::io_context: ASIO_URING_FEATURES: only +batch_wait takes "
            "a value (batch_wait=USEC or batch_wait=USEC:COUNT), not \"" + item + "=" + value + "\"");
      const std::size_t colon = value.find(':');
      const unsigned usec = parse_bounded(value.substr(0, colon), 1, max_batch_wait_usec);
      const unsigned count = colon == std::string::npos ? o.batch_wait_count
          : parse_bounded(value.substr(colon + 1), 2, max_batch_wait_count);
      if (usec == 0 || count == 0)
        throw std::invalid_argument("asio_uring::io_context: ASIO_URING_FEATURES: bad batch_wait value \""
            + value + "\" (USEC or USEC:COUNT, USEC 1.." + std::to_string(max_batch_wait_usec)
            + ", COUNT 2.." + std::to_string(max_batch_wait_count) + ")");
      o.batch_wait_usec = usec;
      o.batch_wait_count = count;
      continue;
    }
    if (item == "single_issuer") o.single_issuer = on;
    else if (item == "single_issuer_always")
    {
      // For tests: every context is treated as if constructed with hint 1.
      if (on)
      {
        o.concurrency_hint = 1;
        o.single_issuer = true;
      }
    }
    else if (item == "register_ring_fd") o.register_ring_fd = on;
    else if (item == "multishot_accept") o.multishot_accept = on;
    else if (item == "multishot_recv") o.multishot_recv = on;
    else if (item == "send_zc") o.send_zc_threshold = on ? (o.send_zc_threshold ? o.send_zc_threshold : 64 * 1024) : 0;
    else if (item == "registered_files") o.registered_files = on;
    else if (item == "registered_files_always")
    {
      // For tests: every socket asks for a slot at its first operation.
      if (on)
      {
        o.registered_files = true;
        o.registered_files_after = 1;
      }
    }
    else if (item == "send_zc_local") o.send_zc_local = on;
    else if (item == "coop_taskrun") o.coop_taskrun = on;
    else if (item == "batch_wait") o.batch_wait_usec = on ? (o.batch_wait_usec ? o.batch_wait_usec : 50) : 0;
    else
      throw std::invalid_argument("asio_uring::io_context: ASIO_URING_FEATURES: unknown feature \""
          + item + "\" (known: single_issuer, single_issuer_always, register_ring_fd, multishot_accept, "
          "multishot_recv, send_zc, send_zc_local, registered_files, registered_files_always, coop_taskrun, "
          "batch_wait)");
  }
}

} // namespace asio_uring

namespace asio_uring::detail {

const char* ring_setup_hint(int err) noexcept
{
  switch (err)
  {
  case EPERM:
  case EACCES:
    if (read_io_uring_disabled() != 0)
      return "the kernel.io_uring_disabled sysctl forbids it for this process; "
             "set it to 0 (or to 1 and add the user to kernel.io_uring_group)";
    return "the kernel refused io_uring_setup, io_uring_enter or io_uring_register (EPERM) "
           "although kernel.io_uring_disabled is 0: a seccomp profile (e.g. a container "
           "runtime's default) or an LSM blocks it; allow io_uring_setup, io_uring_enter "
           "and io_uring_register, or use engine_kind::automatic / ASIO_URING_ENGINE=emulated";
  case ENOSYS:
    return "io_uring_setup is not implemented (ENOSYS): the kernel is older than 5.1 or "
           "built without CONFIG_IO_URING, or a seccomp profile answers ENOSYS; "
           "use Linux 5.19+ with io_uring enabled, or allow the io_uring system calls, "
           "or use engine_kind::automatic / ASIO_URING_ENGINE=emulated";
  case EOPNOTSUPP:
    return "io_uring is switched off on this system (EOPNOTSUPP, as on ChromeOS, Android "
           "and some managed Kubernetes); use engine_kind::automatic / ASIO_URING_ENGINE=emulated";
  case ENOMEM:
    return "not enough memory for the ring (ENOMEM): raise RLIMIT_MEMLOCK (ulimit -l; "
           "kernels before 5.12 charge rings to it) or the address-space limit, "
           "or ask for fewer entries in io_context_options";
  case EMFILE:
  case ENFILE:
    return "out of file descriptors for the ring fd; raise RLIMIT_NOFILE (ulimit -n)";
  case EINVAL:
    return "every ring configuration tried was rejected (EINVAL); check io_context_options "
           "(entries must be 1..32768, cq_entries 0 or entries..65536)";
  default:
    return "io_uring_queue_init_params failed";
  }
}

ring::ring(const io_context_options& options) : opts_(options)
{
  apply_feature_env(opts_);
  check_batch_wait(opts_);
  const io_context_options& opts = opts_;
  const engine_kind want = chosen_engine(opts.engine);
  if (want != engine_kind::emulated)
  {
    const int err = setup_kernel(opts);
    if (err == 0)
    {
      if (opts.registered_files) files_.setup(ring_, opts.registered_files_table, opts.registered_files_after);
      return;
    }
    if (want == engine_kind::io_uring || !refused(err)) throw_setup_error(err);
  }
  setup_emulated(opts);
}

int ring::setup_kernel(const io_context_options& opts)
{
  // Best first; each step drops a flag an older kernel may not know.
  const unsigned coop = opts.coop_taskrun ? (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG) : 0u;
  const unsigned base = IORING_SETUP_CQSIZE | (opts.sqpoll ? IORING_SETUP_SQPOLL : 0u);
  // One thread runs the context (Asio's concurrency hint 1): the kernel may
  // skip the locking and task-work signalling meant for several submitters
  // (doc/design.md, "Single issuer"). With SQPOLL the kernel thread submits.
  const bool si = opts.concurrency_hint == 1 && opts.single_issuer && !opts.sqpoll;
  const unsigned si_flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED;
  const unsigned candidates[] = {
    base | IORING_SETUP_SUBMIT_ALL | coop | si_flags | IORING_SETUP_DEFER_TASKRUN,  // 6.1
    base | IORING_SETUP_SUBMIT_ALL | coop | si_flags,                               // 6.0
    base | IORING_SETUP_SUBMIT_ALL | coop,
    base | IORING_SETUP_SUBMIT_ALL,
    base,
  };
  int err = EINVAL;
  for (unsigned flags : candidates)
  {
    if ((flags & IORING_SETUP_SINGLE_ISSUER) && !si) continue;
    io_uring_params p{};
    p.flags = flags;
    p.cq_entries = opts.cq_entries ? opts.cq_entries : opts.entries * 8;
    p.sq_thread_idle = opts.sqpoll_idle_ms;
    int r = io_uring_queue_init_params(opts.entries, &ring_, &p);
    if (r == 0)
    {
      flags_ = flags;
      err = 0;
      break;
    }
    err = -r;
    if (err != EINVAL) break;
  }
  if (err) return err;

  // A filter may allow io_uring_setup and still refuse the other two calls:
  // try both now rather than fail on the first request.
  alignas(io_uring_probe) unsigned char mem[sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op)] = {};
  auto* probe = reinterpret_cast<io_uring_probe*>(mem);
  // (A disabled ring answers the enter with EBADFD: the call got through.)
  int r = io_uring_get_events(&ring_);
  if (r == -EBADFD && (flags_ & IORING_SETUP_R_DISABLED)) r = 0;
  if (r >= 0) r = io_uring_register_probe(&ring_, probe, 256);
  if (r < 0)
  {
    io_uring_queue_exit(&ring_);
    ring_ = io_uring{};
    flags_ = 0;
    return -r;
  }
  disabled_.store(flags_ & IORING_SETUP_R_DISABLED, std::memory_order_relaxed);
  if (opts.batch_wait_usec && !(flags_ & IORING_SETUP_SQPOLL)
      && (ring_.features & feat_min_timeout))
    batch_usec_ = opts.batch_wait_usec;
  for (int op = 0; op < probe->ops_len && op < 256; ++op)
    if (io_uring_opcode_supported(probe, op)) ops_.set(static_cast<unsigned>(op));
  return 0;
}

void ring::setup_emulated(const io_context_options& opts)
{
  // The kernel's limits, so a configuration error is one on both engines.
  const unsigned cq = opts.cq_entries ? opts.cq_entries : opts.entries * 8;
  if (opts.entries == 0 || opts.entries > 32768 || cq < opts.entries || cq > 65536) throw_setup_error(EINVAL);
  emu_ = std::make_unique<emulated_ring>(ring_, round_up_pow2(opts.entries), round_up_pow2(cq));
  for (int op = 0; op < 256; ++op)
    if (emulated_ring::emulates(op)) ops_.set(static_cast<unsigned>(op));
}

ring::~ring()
{
  close_kernel_ring();
}

void ring::close_kernel_ring() noexcept
{
  if (emu_) return;
  // A registered index is unregistered by its own thread (unregister_fd);
  // liburing's exit must not unregister it from whichever thread this is.
  enter_with(-1);
  io_uring_queue_exit(&ring_);
}

namespace {

thread_local pid_t tl_thread_id = 0;

void forget_thread_id() noexcept { tl_thread_id = 0; }

} // namespace

pid_t ring::this_thread_id() noexcept
{
  if (tl_thread_id == 0) [[unlikely]]
  {
    // A forked child's thread has a new id: forget the cached one there.
    static const int once = ::pthread_atfork(nullptr, nullptr, &forget_thread_id);
    (void)once;
    tl_thread_id = static_cast<pid_t>(::syscall(SYS_gettid));
  }
  return tl_thread_id;
}

void ring::enable()
{
  const int r = static_cast<int>(::syscall(__NR_io_uring_register, ring_.ring_fd,
      IORING_REGISTER_ENABLE_RINGS, nullptr, 0));
  if (r < 0)
    throw boost::system::system_error(
        boost::system::error_code(errno, boost::system::system_category()),
        "asio_uring::io_context: IORING_REGISTER_ENABLE_RINGS");
  disabled_.store(false, std::memory_order_relaxed);
  if (single_issuer()) submitter_.store(this_thread_id(), std::memory_order_relaxed);
  if (enabled_fn_) enabled_fn_(enabled_arg_);
}

int ring::register_fd() noexcept
{
  if (emu_ || !opts_.register_ring_fd || !enabled() || foreign_submitter()) return -1;
  // liburing sets enter_ring_fd for the ring as a whole: take the index and
  // let enter_with() choose per thread.
  const int saved_fd = ring_.enter_ring_fd;
  const __u8 saved_flags = ring_.int_flags;
  ring_.int_flags &= static_cast<__u8>(~reg_ring_flag);
  const int r = io_uring_register_ring_fd(&ring_);
  const int index = r == 1 ? ring_.enter_ring_fd : -1;
  ring_.enter_ring_fd = saved_fd;
  ring_.int_flags = saved_flags;
  return index;
}

void ring::unregister_fd(int index) noexcept
{
  if (index < 0 || emu_) return;
  io_uring_rsrc_update up{};
  up.offset = static_cast<unsigned>(index);
  // Any io_uring fd names the calling thread's table.
  [[maybe_unused]] long r = ::syscall(__NR_io_uring_register, ring_.ring_fd,
      IORING_UNREGISTER_RING_FDS, &up, 1);
}

int ring::register_buffers(const iovec* iov, unsigned n)
{
  const int r = emu_ ? emu_->register_buffers(iov, n) : io_uring_register_buffers(&ring_, iov, n);
  if (r == 0)
  {
    reg_iov_ = iov;
    reg_n_ = n;
  }
  return r;
}

int ring::unregister_buffers()
{
  reg_iov_ = nullptr;
  reg_n_ = 0;
  if (!emu_) return io_uring_unregister_buffers(&ring_);
  return emu_->unregister_buffers();
}

int ring::submit_and_wait_batch(__kernel_timespec* ts, unsigned min_usec)
{
  if (disabled_.load(std::memory_order_relaxed)) [[unlikely]] enable();
  // liburing 2.3 has no call that passes min_wait_usec: publish the SQEs
  // filled since the last submit (as liburing's SQ flush does without
  // SQPOLL, which batch wait excludes) and enter with the extended argument.
  io_uring_sq& sq = ring_.sq;
  const unsigned tail = sq.sqe_tail;
  if (sq.sqe_head != tail)
  {
    sq.sqe_head = tail;
    io_uring_smp_store_release(sq.ktail, tail);
  }
  const unsigned to_submit = tail - IO_URING_READ_ONCE(*sq.khead);
  // The kernel ends a minimum wait that has no timeout behind it with -ETIME
  // whether or not anything arrived, so an idle loop would wake every
  // `min_usec`: "no limit" is a day.
  __kernel_timespec day{86400, 0};
  io_uring_getevents_arg arg{};
  arg.pad = min_usec;  // min_wait_usec since Linux 6.12
  arg.ts = reinterpret_cast<std::uintptr_t>(ts ? ts : &day);
  unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
  int fd = ring_.ring_fd;
  if (ring_.int_flags & reg_ring_flag)
  {
    flags |= IORING_ENTER_REGISTERED_RING;
    fd = ring_.enter_ring_fd;
  }
  const long r = ::syscall(__NR_io_uring_enter, fd, to_submit, opts_.batch_wait_count, flags, &arg, sizeof arg);
  if (r >= 0) return static_cast<int>(r);
  const int err = errno;
  if (err != EINVAL) return -err;
  // A kernel that advertises the feature and still refuses the argument:
  // wait as without batch wait, from now on.
  batch_usec_ = 0;
  return submit_and_wait_timeout(ts);
}

int ring::emulated_submit() { return emu_->submit(); }
int ring::emulated_wait(__kernel_timespec* ts) { return emu_->submit_and_wait(ts); }
int ring::emulated_get_events() { return emu_->get_events(); }

} // namespace asio_uring::detail
