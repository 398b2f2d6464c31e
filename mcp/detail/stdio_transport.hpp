#pragma once
// MCP over a server's stdio pipes: one JSON-RPC message per line each way,
// stderr the server's log. One I/O thread per session polls the three
// pipes (all non-blocking) and an eventfd that `send` and `shutdown` use to
// wake it, so no caller ever blocks on a server that does not read its
// stdin. Internal to mcp/.
//
// The end. When stdout closes or a write to stdin fails, the thread waits a
// little for stderr's last words, kills the server (harmless when it has
// exited), reaps it and reports `on_gone` with the exit status and the last
// lines of stderr. `shutdown` instead closes stdin after what was queued is
// written, gives the server `shutdown_grace` to exit, kills it, reaps it,
// and reports nothing.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <caf/expected.hpp>

#include "mcp/detail/stdio_text.hpp"
#include "mcp/detail/transport.hpp"
#include "mcp/session.hpp"

namespace troupe::mcp::detail {

class stdio_transport final : public transport {
public:
  /// Takes the pipes and starts the I/O thread. Errors: `start_failed`
  /// (a descriptor that is not open, no eventfd, no thread); the server is
  /// then killed and reaped.
  [[nodiscard]] static caf::expected<std::unique_ptr<stdio_transport>>
  start(stdio_pipes pipes, transport_sink& sink, const session_options& opts);

  ~stdio_transport() override;

  void send(std::string message, std::optional<uint64_t> request_id) override;
  void shutdown() override;
  void skip_grace() override;
  [[nodiscard]] std::string stderr_tail() const override;

private:
  stdio_transport(stdio_pipes pipes, transport_sink& sink, const session_options& opts);

  enum class stream_state : uint8_t { open, eof };

  void run();
  // One poll round; false once the loop should end (`why_` says why).
  bool poll_once();
  void write_stdin();
  void read_stdout();
  void read_stderr();
  void drain_stderr(int ms);
  void finish();
  [[nodiscard]] bool closing() const;

  transport_sink& sink_;
  const std::string prefix_;
  const std::chrono::milliseconds grace_;
  stdio_pipes pipes_;
  int wake_fd_ = -1;

  // Owned by the I/O thread.
  std::string out_;    // bytes taken from outbox_, not yet written
  size_t out_done_ = 0;
  bool stdout_open_ = true;
  bool stderr_open_ = true;
  std::string why_;    // why the loop ended, when the server did it
  std::optional<std::chrono::steady_clock::time_point> grace_end_;
  line_reader lines_;
  std::string err_line_; // stderr's current line, for the debug log

  mutable std::mutex mu_;
  bool skip_grace_ = false; // guarded by mu_
  std::string outbox_; // queued by send()
  bool closing_ = false;
  bool ended_ = false;
  tail_buffer tail_;
  std::thread thread_;
};

} // namespace troupe::mcp::detail
