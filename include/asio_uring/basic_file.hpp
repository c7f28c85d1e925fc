// Files on the ring: asio_uring::random_access_file and stream_file, with
// the interface of Asio's basic_random_access_file / basic_stream_file.
#pragma once

#include <asio_uring/detail/descriptor.hpp>
#include <asio_uring/registered_buffers.hpp>

#include <boost/asio/async_result.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <string>

#if defined(BOOST_ASIO_HAS_FILE)
#include <boost/asio/file_base.hpp>
#endif

namespace asio_uring {

#if defined(BOOST_ASIO_HAS_FILE)
// Asio defines file_base only when it has a file backend itself; then its
// type is ours.
struct file_base : boost::asio::file_base
{
  static constexpr flags direct = static_cast<flags>(O_DIRECT);
};
#else
// Asio's file_base, with the same names and values (Asio defines its own
// only when built with BOOST_ASIO_HAS_IO_URING).
class file_base
{
public:
  enum flags : int
  {
    read_only = O_RDONLY,
    write_only = O_WRONLY,
    read_write = O_RDWR,
    append = O_APPEND,
    create = O_CREAT,
    exclusive = O_EXCL,
    truncate = O_TRUNC,
    sync_all_on_write = O_SYNC,
    // Ours: bypass the page cache (buffers, offsets and sizes must be
    // aligned as the file system requires, usually to 512 or 4096 bytes).
    direct = O_DIRECT
  };
  friend flags operator|(flags x, flags y) { return static_cast<flags>(int(x) | int(y)); }
  friend flags operator&(flags x, flags y) { return static_cast<flags>(int(x) & int(y)); }
  friend flags& operator|=(flags& x, flags y) { return x = x | y; }

  enum seek_basis
  {
    seek_set = SEEK_SET,
    seek_cur = SEEK_CUR,
    seek_end = SEEK_END
  };
};
#endif

// What both file kinds share (Asio's basic_file): open, size, resize, sync.
template <typename Executor = boost::asio::any_io_executor>
class basic_file : public detail::descriptor_object<Executor>, public file_base
{
  using base = detail::descriptor_object<Executor>;

public:
  using typename base::executor_type;
  using native_handle_type = int;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_file<OtherExecutor>;
  };

  explicit basic_file(const executor_type& ex) : base(ex) {}
  // An adopted descriptor goes through assign(), which detects O_DIRECT.
  basic_file(const executor_type& ex, const native_handle_type& fd) : base(ex) { assign(fd); }
  basic_file(basic_file&&) noexcept = default;
  template <typename E1, typename = std::enable_if_t<std::is_convertible_v<E1, Executor>>>
  basic_file(basic_file<E1>&& o)
    : base(static_cast<detail::descriptor_object<E1>&&>(o)),
      device_io_(o.device_io_), append_(o.append_) {}
  basic_file& operator=(basic_file&&) = default;
  template <typename E1>
  std::enable_if_t<std::is_convertible_v<E1, Executor>, basic_file&> operator=(basic_file<E1>&& o)
  {
    base::operator=(static_cast<detail::descriptor_object<E1>&&>(o));
    device_io_ = o.device_io_;
    append_ = o.append_;
    return *this;
  }

  void open(const char* path, flags open_flags)
  {
    boost::system::error_code ec;
    open(path, open_flags, ec);
    boost::asio::detail::throw_error(ec, "open");
  }
  void open(const std::string& path, flags open_flags) { open(path.c_str(), open_flags); }
  void open(const char* path, flags open_flags, boost::system::error_code& ec)
  {
    if (this->fd_ >= 0)
    {
      ec = boost::asio::error::already_open;
      return;
    }
    int fd = ::open(path, static_cast<int>(open_flags) | O_CLOEXEC, 0644);
    if (fd < 0)
    {
      ec = detail::errno_error();
      return;
    }
    // Opening a directory read-only succeeds in open(2); Asio reports it.
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
    {
      ::close(fd);
      ec = boost::system::error_code(EISDIR, boost::system::system_category());
      return;
    }
    this->fd_ = fd;
    note_status_flags(static_cast<int>(open_flags));
    ec.clear();
  }
  void open(const std::string& path, flags open_flags, boost::system::error_code& ec)
  { open(path.c_str(), open_flags, ec); }

  void assign(int fd)
  {
    boost::system::error_code ec;
    assign(fd, ec);
    boost::asio::detail::throw_error(ec, "assign");
  }
  void assign(int fd, boost::system::error_code& ec)
  {
    base::assign(fd, ec);
    if (!ec) note_status_flags(::fcntl(fd, F_GETFL));
  }

  std::uint64_t size() const
  {
    boost::system::error_code ec;
    std::uint64_t n = size(ec);
    boost::asio::detail::throw_error(ec, "size");
    return n;
  }
  std::uint64_t size(boost::system::error_code& ec) const
  {
    struct stat st;
    if (!check(::fstat(this->fd_, &st), ec)) return 0;
    return static_cast<std::uint64_t>(st.st_size);
  }
  void resize(std::uint64_t n)
  {
    boost::system::error_code ec;
    resize(n, ec);
    boost::asio::detail::throw_error(ec, "resize");
  }
  void resize(std::uint64_t n, boost::system::error_code& ec)
  {
    check(::ftruncate(this->fd_, static_cast<off_t>(n)), ec);
  }
  void sync_all()
  {
    boost::system::error_code ec;
    sync_all(ec);
    boost::asio::detail::throw_error(ec, "sync_all");
  }
  void sync_all(boost::system::error_code& ec) { check(::fsync(this->fd_), ec); }
  void sync_data()
  {
    boost::system::error_code ec;
    sync_data(ec);
    boost::asio::detail::throw_error(ec, "sync_data");
  }
  void sync_data(boost::system::error_code& ec) { check(::fdatasync(this->fd_), ec); }

  // IORING_OP_FSYNC; completes with (error_code).
  template <typename SyncToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_sync_all(SyncToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_sync(false, std::forward<SyncToken>(token));
  }
  template <typename SyncToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_sync_data(SyncToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_sync(true, std::forward<SyncToken>(token));
  }

protected:
  // As Asio: destroyed through its derived type.
  ~basic_file() = default;

  template <typename> friend class basic_file;

  // A system call's result into `ec`; true when it succeeded.
  static bool check(int r, boost::system::error_code& ec)
  {
    if (r != 0)
    {
      ec = detail::errno_error();
      return false;
    }
    ec.clear();
    return true;
  }

  template <typename SyncToken>
  auto async_sync(bool data_only, SyncToken&& token)
  {
    return boost::asio::async_initiate<SyncToken, void(boost::system::error_code)>(
        [this](auto handler, bool d) {
          this->template launch<detail::fsync_kind>(handler, this->early_check(), detail::fsync_kind(this->fd_, d));
        }, token, data_only);
  }

  // Starts a read or write of `bytes`; a device request (O_DIRECT) is
  // submitted as soon as the handler that started it returns.
  template <typename Kind, typename Handler>
  void launch_io(Handler& handler, std::size_t bytes, Kind&& k)
  {
    k.submit_now = device_io_;
    this->template launch_transfer<Kind>(handler, bytes, std::move(k));
  }

  // From the open flags, or fcntl(F_GETFL) for an adopted descriptor.
  void note_status_flags(int fl) noexcept
  {
    device_io_ = fl >= 0 && (fl & O_DIRECT) != 0;
    append_ = fl >= 0 && (fl & O_APPEND) != 0;
  }

  bool device_io_ = false;  // O_DIRECT
  bool append_ = false;     // O_APPEND: a stream file's writes go to the end
};

template <typename Executor = boost::asio::any_io_executor>
class basic_random_access_file : public basic_file<Executor>
{
  using base = basic_file<Executor>;

public:
  using typename base::executor_type;
  using typename base::flags;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_random_access_file<OtherExecutor>;
  };

  explicit basic_random_access_file(const executor_type& ex) : base(ex) {}
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  explicit basic_random_access_file(ExecutionContext& ctx) : base(executor_type(ctx.get_executor())) {}
  basic_random_access_file(const executor_type& ex, const char* path, flags f) : base(ex) { this->open(path, f); }
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_random_access_file(ExecutionContext& ctx, const char* path, flags f)
    : base(executor_type(ctx.get_executor())) { this->open(path, f); }
  basic_random_access_file(const executor_type& ex, const std::string& path, flags f) : base(ex) { this->open(path, f); }
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_random_access_file(ExecutionContext& ctx, const std::string& path, flags f)
    : base(executor_type(ctx.get_executor())) { this->open(path, f); }
  // Adopts an open descriptor (as Asio's native-handle constructors do).
  basic_random_access_file(const executor_type& ex, const int& native_file) : base(ex, native_file) {}
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_random_access_file(ExecutionContext& ctx, const int& native_file)
    : base(executor_type(ctx.get_executor()), native_file) {}
  basic_random_access_file(basic_random_access_file&&) noexcept = default;
  template <typename E1, typename = std::enable_if_t<std::is_convertible_v<E1, Executor>>>
  basic_random_access_file(basic_random_access_file<E1>&& o) : base(static_cast<basic_file<E1>&&>(o)) {}
  basic_random_access_file& operator=(basic_random_access_file&&) = default;
  template <typename E1>
  std::enable_if_t<std::is_convertible_v<E1, Executor>, basic_random_access_file&>
  operator=(basic_random_access_file<E1>&& o)
  {
    base::operator=(static_cast<basic_file<E1>&&>(o));
    return *this;
  }
  ~basic_random_access_file() = default;

  template <typename MutableBufferSequence>
  std::size_t read_some_at(std::uint64_t offset, const MutableBufferSequence& b)
  {
    boost::system::error_code ec;
    std::size_t n = read_some_at(offset, b, ec);
    boost::asio::detail::throw_error(ec, "read_some_at");
    return n;
  }
  template <typename MutableBufferSequence>
  std::size_t read_some_at(std::uint64_t offset, const MutableBufferSequence& b, boost::system::error_code& ec)
  {
    return this->template sync_rw<false>(b, static_cast<std::int64_t>(offset), ec);
  }
  template <typename ConstBufferSequence>
  std::size_t write_some_at(std::uint64_t offset, const ConstBufferSequence& b)
  {
    boost::system::error_code ec;
    std::size_t n = write_some_at(offset, b, ec);
    boost::asio::detail::throw_error(ec, "write_some_at");
    return n;
  }
  template <typename ConstBufferSequence>
  std::size_t write_some_at(std::uint64_t offset, const ConstBufferSequence& b, boost::system::error_code& ec)
  {
    return this->template sync_rw<true>(b, static_cast<std::int64_t>(offset), ec);
  }

  // Completes with (error_code, bytes); reading at or past the end is eof.
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some_at(std::uint64_t offset, const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, std::uint64_t off, const MutableBufferSequence& bufs) {
          start(handler, detail::rw_kind(this->fd_, bufs, off, false));
        }, token, offset, b);
  }
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some_at(std::uint64_t offset, const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, std::uint64_t off, const ConstBufferSequence& bufs) {
          start(handler, detail::rw_kind(this->fd_, bufs, off, true));
        }, token, offset, b);
  }

  // Into / from a registered buffer (IORING_OP_READ_FIXED / WRITE_FIXED).
  template <typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some_at(std::uint64_t offset, const registered_buffer& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_fixed(offset, b, false, std::forward<ReadToken>(token));
  }
  template <typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some_at(std::uint64_t offset, const registered_buffer& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return async_fixed(offset, b, true, std::forward<WriteToken>(token));
  }

private:
  template <typename Token>
  auto async_fixed(std::uint64_t offset, const registered_buffer& b, bool write, Token&& token)
  {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, std::uint64_t off, registered_buffer buf, bool w) {
          this->launch_io(handler, buf.size(),
              detail::rw_fixed_kind(this->fd_, buf.data(), buf.size(), buf.index(), off, w));
        }, token, offset, b, write);
  }

  template <typename Handler>
  void start(Handler& handler, detail::rw_kind&& k)
  {
    const std::size_t bytes = k.bufs.total;
    this->launch_io(handler, bytes, std::move(k));
  }
};

template <typename Executor = boost::asio::any_io_executor>
class basic_stream_file : public basic_file<Executor>
{
  using base = basic_file<Executor>;

public:
  using typename base::executor_type;
  using typename base::flags;
  using typename base::seek_basis;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_stream_file<OtherExecutor>;
  };

  explicit basic_stream_file(const executor_type& ex) : base(ex) {}
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  explicit basic_stream_file(ExecutionContext& ctx) : base(executor_type(ctx.get_executor())) {}
  basic_stream_file(const executor_type& ex, const char* path, flags f) : base(ex) { open(path, f); }
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_stream_file(ExecutionContext& ctx, const char* path, flags f)
    : base(executor_type(ctx.get_executor())) { open(path, f); }
  basic_stream_file(const executor_type& ex, const std::string& path, flags f) : base(ex) { open(path, f); }
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_stream_file(ExecutionContext& ctx, const std::string& path, flags f)
    : base(executor_type(ctx.get_executor())) { open(path, f); }
  // Adopts an open descriptor: position 0, appending if it has O_APPEND.
  basic_stream_file(const executor_type& ex, const int& native_file) : base(ex) { assign(native_file); }
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_stream_file(ExecutionContext& ctx, const int& native_file)
    : base(executor_type(ctx.get_executor())) { assign(native_file); }
  basic_stream_file(basic_stream_file&& o) noexcept : base(std::move(o)), offset_(o.offset_) {}
  template <typename E1, typename = std::enable_if_t<std::is_convertible_v<E1, Executor>>>
  basic_stream_file(basic_stream_file<E1>&& o)
    : base(static_cast<basic_file<E1>&&>(o)), offset_(o.offset_) {}
  basic_stream_file& operator=(basic_stream_file&& o) { return assign_from(o); }
  template <typename E1>
  std::enable_if_t<std::is_convertible_v<E1, Executor>, basic_stream_file&>
  operator=(basic_stream_file<E1>&& o) { return assign_from(o); }
  ~basic_stream_file() = default;

  void assign(const int& native_file)
  {
    boost::system::error_code ec;
    assign(native_file, ec);
    boost::asio::detail::throw_error(ec, "assign");
  }
  void assign(const int& native_file, boost::system::error_code& ec)
  {
    base::assign(native_file, ec);
    if (!ec) offset_ = 0;
  }

  void open(const char* path, flags f)
  {
    base::open(path, f);
    offset_ = 0;
  }
  void open(const char* path, flags f, boost::system::error_code& ec)
  {
    base::open(path, f, ec);
    offset_ = 0;
  }
  void open(const std::string& path, flags f) { open(path.c_str(), f); }
  void open(const std::string& path, flags f, boost::system::error_code& ec) { open(path.c_str(), f, ec); }

  // Moves the position the next read or write starts at; returns it.
  std::uint64_t seek(std::int64_t offset, seek_basis whence)
  {
    boost::system::error_code ec;
    std::uint64_t n = seek(offset, whence, ec);
    boost::asio::detail::throw_error(ec, "seek");
    return n;
  }
  std::uint64_t seek(std::int64_t offset, seek_basis whence, boost::system::error_code& ec)
  {
    std::int64_t target;
    switch (whence)
    {
    case base::seek_set: target = offset; break;
    case base::seek_cur: target = static_cast<std::int64_t>(offset_) + offset; break;
    default:
      target = static_cast<std::int64_t>(this->size(ec)) + offset;
      if (ec) return 0;
      break;
    }
    if (target < 0)
    {
      ec = boost::asio::error::invalid_argument;
      return 0;
    }
    ec.clear();
    offset_ = static_cast<std::uint64_t>(target);
    return offset_;
  }

  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b)
  {
    boost::system::error_code ec;
    std::size_t n = read_some(b, ec);
    boost::asio::detail::throw_error(ec, "read_some");
    return n;
  }
  template <typename MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& b, boost::system::error_code& ec)
  {
    std::size_t n = this->template sync_rw<false>(b, static_cast<std::int64_t>(offset_), ec);
    offset_ += n;
    return n;
  }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b)
  {
    boost::system::error_code ec;
    std::size_t n = write_some(b, ec);
    boost::asio::detail::throw_error(ec, "write_some");
    return n;
  }
  template <typename ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& b, boost::system::error_code& ec)
  {
    std::size_t n = this->template sync_rw<true>(b, this->append_ ? -1 : static_cast<std::int64_t>(offset_), ec);
    offset_ += n;
    return n;
  }

  // Completes with (error_code, bytes) and advances the position; at the end
  // of the file: eof.
  template <typename MutableBufferSequence,
      typename ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& b,
      ReadToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs) {
          start(handler, detail::rw_kind(this->fd_, bufs, offset_, false));
        }, token, b);
  }
  template <typename ConstBufferSequence,
      typename WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& b,
      WriteToken&& token = boost::asio::default_completion_token_t<executor_type>())
  {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs) {
          start(handler, detail::rw_kind(this->fd_, bufs, this->append_ ? std::uint64_t(-1) : offset_, true));
        }, token, b);
  }

private:
  template <typename> friend class basic_stream_file;

  template <typename Other>
  basic_stream_file& assign_from(Other& o)
  {
    base::operator=(std::move(o));
    offset_ = o.offset_;
    return *this;
  }

  template <typename Handler>
  void start(Handler& handler, detail::rw_kind&& k)
  {
    k.position = &offset_;
    const std::size_t bytes = k.bufs.total;
    this->launch_io(handler, bytes, std::move(k));
  }

  std::uint64_t offset_ = 0;
};

using random_access_file = basic_random_access_file<>;
using stream_file = basic_stream_file<>;

} // namespace asio_uring
