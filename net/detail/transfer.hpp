#pragma once
// One request inside an I/O loop (net/detail/io_loop.hpp): the caller's
// request and callbacks, its libcurl easy handle while it runs, the response
// as it arrives, and the clocks of its timeouts. Only its loop's thread
// touches it.

#include <chrono>
#include <cstdint>
#include <string>

#include <curl/curl.h>

#include "net/http_client.hpp"

namespace troupe::net::detail {

using clock_type = std::chrono::steady_clock;

class transfer {
public:
  transfer(uint64_t id, http_request req, http_callbacks cb,
           clock_type::time_point submitted);
  ~transfer(); // frees the easy handle; remove it from its multi handle first
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;

  /// Creates and configures the easy handle (not yet added to a multi
  /// handle). On failure the handle stays null and the outcome says why
  /// (`invalid` or `internal`); `on_done` has not run.
  [[nodiscard]] bool prepare(size_t receive_buffer_bytes);

  /// Marks the start (after curl_multi_add_handle succeeded): the clocks of
  /// the first-byte, idle and total timeouts run from here.
  void started(clock_type::time_point now);

  /// When the first-byte or idle timeout of this transfer expires as things
  /// stand; time_point::max() when neither applies. Moves later as data
  /// arrives; the only way it moves earlier is when the headers complete
  /// (then `*deadline_hint` is lowered, see `set_deadline_hint`).
  [[nodiscard]] clock_type::time_point deadline() const;
  /// The timeout `deadline()` stands for.
  [[nodiscard]] timeout_kind deadline_kind() const;
  /// Where the loop keeps the earliest time it must look at deadlines again.
  void set_deadline_hint(clock_type::time_point* hint) { deadline_hint_ = hint; }

  /// The outcome after libcurl ended the transfer with `code`.
  [[nodiscard]] http_outcome outcome_from_curl(CURLcode code, clock_type::time_point now);
  /// The outcome of a transfer the loop ends itself (a timeout of ours, a
  /// cancel, shutdown, a setup failure).
  [[nodiscard]] http_outcome outcome_of(transport_error error, timeout_kind timeout,
                                        std::string message, clock_type::time_point now);

  [[nodiscard]] uint64_t id() const { return id_; }
  [[nodiscard]] CURL* easy() const { return easy_; }
  [[nodiscard]] const http_request& request() const { return req_; }
  [[nodiscard]] http_callbacks& callbacks() { return cb_; }
  [[nodiscard]] bool running() const { return running_; }
  void set_running(bool r) { running_ = r; }
  /// Why `prepare` failed.
  [[nodiscard]] transport_error setup_error() const { return setup_error_; }
  [[nodiscard]] const std::string& setup_message() const { return setup_message_; }

private:
  static size_t on_header_line(char* data, size_t size, size_t n, void* self);
  static size_t on_body(char* data, size_t size, size_t n, void* self);
  /// Each returns false to make libcurl stop the transfer.
  [[nodiscard]] bool header_line(std::string_view line);
  [[nodiscard]] bool body(std::string_view chunk);
  void headers_complete(clock_type::time_point now);
  [[nodiscard]] bool abort_from(const char* callback, http_action action);
  [[nodiscard]] bool set_method_and_body();
  [[nodiscard]] bool set_request_headers();
  void fill_common(http_outcome& out, clock_type::time_point now);

  uint64_t id_;
  http_request req_;
  http_callbacks cb_;
  clock_type::time_point submitted_;
  clock_type::time_point started_{};
  CURL* easy_ = nullptr;
  curl_slist* header_list_ = nullptr;
  bool running_ = false;
  transport_error setup_error_ = transport_error::none;
  std::string setup_message_;

  // The response as it arrives.
  int status_ = 0;
  http_headers headers_;
  bool headers_done_ = false;
  uint64_t body_bytes_ = 0;
  clock_type::time_point headers_at_{};
  clock_type::time_point first_byte_at_{};
  clock_type::time_point last_data_at_{};
  clock_type::time_point* deadline_hint_ = nullptr;

  // Set when a callback asked to stop (or threw): libcurl then ends the
  // transfer with a write error, which this turns into `canceled`.
  bool aborted_ = false;
  std::string abort_message_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

} // namespace troupe::net::detail
