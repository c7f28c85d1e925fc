// asio_uring::basic_serial_port: Asio's serial port (a UART, a tty) with its
// reads and writes on the ring and its options through Asio's serial_port_base.
#pragma once

#include <asio_uring/detail/stream_ops.hpp>

#include <boost/asio/serial_port_base.hpp>

#include <termios.h>

#include <string>

namespace asio_uring {

template <typename Executor = boost::asio::any_io_executor>
class basic_serial_port
  : public boost::asio::serial_port_base,
    public detail::descriptor_object<Executor>,
    public detail::stream_ops<basic_serial_port<Executor>, Executor, true, true>
{
  using base = detail::descriptor_object<Executor>;

public:
  using executor_type = Executor;
  using native_handle_type = int;
  using lowest_layer_type = basic_serial_port;

  template <typename OtherExecutor>
  struct rebind_executor
  {
    using other = basic_serial_port<OtherExecutor>;
  };

  explicit basic_serial_port(const executor_type& ex) : base(ex) {}
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  explicit basic_serial_port(ExecutionContext& ctx) : base(executor_type(ctx.get_executor())) {}
  basic_serial_port(const executor_type& ex, const char* device) : base(ex) { open(device); }
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_serial_port(ExecutionContext& ctx, const char* device)
    : base(executor_type(ctx.get_executor())) { open(device); }
  basic_serial_port(const executor_type& ex, const std::string& device) : base(ex) { open(device); }
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_serial_port(ExecutionContext& ctx, const std::string& device)
    : base(executor_type(ctx.get_executor())) { open(device); }
  basic_serial_port(const executor_type& ex, const native_handle_type& fd) : base(ex, fd) {}
  template <typename ExecutionContext, detail::if_context<ExecutionContext> = 0>
  basic_serial_port(ExecutionContext& ctx, const native_handle_type& fd)
    : base(executor_type(ctx.get_executor()), fd) {}
  basic_serial_port(basic_serial_port&&) noexcept = default;
  template <typename E1, typename = std::enable_if_t<std::is_convertible_v<E1, Executor>>>
  basic_serial_port(basic_serial_port<E1>&& o) : base(static_cast<detail::descriptor_object<E1>&&>(o)) {}
  basic_serial_port& operator=(basic_serial_port&&) = default;
  template <typename E1>
  std::enable_if_t<std::is_convertible_v<E1, Executor>, basic_serial_port&>
  operator=(basic_serial_port<E1>&& o)
  {
    base::operator=(static_cast<detail::descriptor_object<E1>&&>(o));
    return *this;
  }
  ~basic_serial_port() = default;

  lowest_layer_type& lowest_layer() noexcept { return *this; }
  const lowest_layer_type& lowest_layer() const noexcept { return *this; }

  // Opens `device` as Asio does (O_RDWR | O_NOCTTY | O_NONBLOCK) and puts
  // the line in raw mode: 8 data bits, no echo, no line editing, no
  // translation, parity errors ignored, receiver on, modem lines ignored.
  void open(const std::string& device)
  {
    boost::system::error_code ec;
    open(device, ec);
    boost::asio::detail::throw_error(ec, "open");
  }
  void open(const std::string& device, boost::system::error_code& ec)
  {
    if (this->fd_ >= 0)
    {
      ec = boost::asio::error::already_open;
      return;
    }
    int fd = ::open(device.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
    {
      ec = detail::errno_error();
      return;
    }
    termios ios;
    if (::tcgetattr(fd, &ios) == 0)
    {
      ::cfmakeraw(&ios);
      ios.c_iflag |= IGNPAR;
      ios.c_cflag |= CREAD | CLOCAL;
      if (::tcsetattr(fd, TCSANOW, &ios) == 0)
      {
        this->fd_ = fd;
        ec.clear();
        return;
      }
    }
    ec = detail::errno_error();
    ::close(fd);
  }

  // `option` is one of serial_port_base's: baud_rate, flow_control, parity,
  // stop_bits, character_size (each stores itself into a termios).
  template <typename SettableSerialPortOption>
  void set_option(const SettableSerialPortOption& option)
  {
    boost::system::error_code ec;
    set_option(option, ec);
    boost::asio::detail::throw_error(ec, "set_option");
  }
  template <typename SettableSerialPortOption>
  void set_option(const SettableSerialPortOption& option, boost::system::error_code& ec)
  {
    termios ios;
    if (::tcgetattr(this->fd_, &ios) != 0)
    {
      ec = detail::errno_error();
      return;
    }
    option.store(ios, ec);
    if (ec) return;
    if (::tcsetattr(this->fd_, TCSANOW, &ios) != 0) ec = detail::errno_error();
  }

  template <typename GettableSerialPortOption>
  void get_option(GettableSerialPortOption& option) const
  {
    boost::system::error_code ec;
    get_option(option, ec);
    boost::asio::detail::throw_error(ec, "get_option");
  }
  template <typename GettableSerialPortOption>
  void get_option(GettableSerialPortOption& option, boost::system::error_code& ec) const
  {
    termios ios;
    if (::tcgetattr(this->fd_, &ios) != 0)
    {
      ec = detail::errno_error();
      return;
    }
    option.load(ios, ec);
  }

  // Sends a break (zero bits) for the line's default duration.
  void send_break()
  {
    boost::system::error_code ec;
    send_break(ec);
    boost::asio::detail::throw_error(ec, "send_break");
  }
  void send_break(boost::system::error_code& ec)
  {
    if (::tcsendbreak(this->fd_, 0) != 0) ec = detail::errno_error();
    else ec.clear();
  }
};

} // namespace asio_uring
