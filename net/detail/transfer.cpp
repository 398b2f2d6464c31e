#include "net/detail/transfer.hpp"

#include <algorithm>
#include <climits>
#include <exception>

#include "net/detail/curl_errors.hpp"

namespace troupe::net::detail {

namespace {

// Past ten years a limit is as good as none, and steady_clock arithmetic
// with it cannot overflow.
constexpr uint64_t max_limit_ms = 10ull * 365 * 24 * 3600 * 1000;

clock_type::time_point after(clock_type::time_point t, uint64_t ms) {
  if (ms == 0 || ms > max_limit_ms)
    return clock_type::time_point::max();
  return t + std::chrono::milliseconds(ms);
}

long curl_ms(uint64_t ms) {
  return ms > static_cast<uint64_t>(LONG_MAX) ? LONG_MAX : static_cast<long>(ms);
}

uint64_t micros(clock_type::time_point from, clock_type::time_point to) {
  if (to <= from)
    return 0;
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(to - from).count());
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// RFC 9110 token characters: what a method or a header name may contain.
bool is_token(std::string_view s) {
  if (s.empty())
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && std::string_view{"\"(),/:;<=>?@[\\]{}"}.find(c) ==
                                  std::string_view::npos;
  });
}

bool has_line_break(std::string_view s) {
  return s.find_first_of(std::string_view{"\r\n\0", 3}) != std::string_view::npos;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

} // namespace

transfer::transfer(uint64_t id, http_request req, http_callbacks cb,
                   clock_type::time_point submitted)
  : id_(id), req_(std::move(req)), cb_(std::move(cb)), submitted_(submitted) {
}

transfer::~transfer() {
  if (easy_ != nullptr)
    curl_easy_cleanup(easy_);
  curl_slist_free_all(header_list_);
}

bool transfer::prepare(size_t receive_buffer_bytes) {
  auto fail = [this](transport_error e, std::string msg) {
    setup_error_ = e;
    setup_message_ = std::move(msg);
    return false;
  };
  if (req_.url.empty() || has_line_break(req_.url))
    return fail(transport_error::invalid, "the URL is empty or contains a line break");
  if (!is_token(req_.method))
    return fail(transport_error::invalid, "the method '" + req_.method + "' is not a token");
  easy_ = curl_easy_init();
  if (easy_ == nullptr)
    return fail(transport_error::internal, "curl_easy_init failed");
  if (!set_request_headers())
    return false;
  // Each option's result is checked: a failure here is a URL or value
  // libcurl refuses, reported as the request's outcome.
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption opt, auto value) {
    if (rc == CURLE_OK)
      rc = curl_easy_setopt(easy_, opt, value);
  };
  set(CURLOPT_URL, req_.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_PRIVATE, static_cast<void*>(this));
  set(CURLOPT_NOSIGNAL, 1L); // libcurl must not use SIGALRM in a threaded program
  set(CURLOPT_ERRORBUFFER, error_buffer_);
  set(CURLOPT_HEADERFUNCTION, &transfer::on_header_line);
  set(CURLOPT_HEADERDATA, static_cast<void*>(this));
  set(CURLOPT_WRITEFUNCTION, &transfer::on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(this));
  set(CURLOPT_BUFFERSIZE, static_cast<long>(receive_buffer_bytes));
  // Only used when a body is sent in pieces; 16 KiB is libcurl's minimum.
  set(CURLOPT_UPLOAD_BUFFERSIZE, 16L * 1024);
  // One transfer per connection; HTTP/2 is a flag away (docs/architecture.md).
  set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  // Idle kept-alive connections that died are noticed by the kernel.
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_CONNECTTIMEOUT_MS, curl_ms(req_.timeouts.connect_ms));
  set(CURLOPT_TIMEOUT_MS, curl_ms(req_.timeouts.total_ms));
  set(CURLOPT_HTTPHEADER, header_list_);
  if (rc != CURLE_OK)
    return fail(classify(rc, 0).error, curl_easy_strerror(rc));
  return set_method_and_body();
}

bool transfer::set_request_headers() {
  bool has_expect = false;
  for (const auto& [name, value] : req_.headers) {
    if (!is_token(name) || has_line_break(value)) {
      setup_error_ = transport_error::invalid;
      setup_message_ = "the request header '" + name + "' is not a valid header";
      return false;
    }
    has_expect = has_expect || same_name(name, "expect");
    // "Name;" is libcurl's spelling of a header with an empty value.
    auto line = value.empty() ? name + ";" : name + ": " + value;
    auto* grown = curl_slist_append(header_list_, line.c_str());
    if (grown == nullptr) {
      setup_error_ = transport_error::internal;
      setup_message_ = "out of memory building the request headers";
      return false;
    }
    header_list_ = grown;
  }
  // libcurl would send "Expect: 100-continue" with large bodies and wait a
  // round trip (or a second) for the server's go-ahead; model APIs never
  // need it, and a prompt of a few hundred KiB would pay it every time.
  if (!req_.body.empty() && !has_expect) {
    auto* grown = curl_slist_append(header_list_, "Expect:");
    if (grown == nullptr) {
      setup_error_ = transport_error::internal;
      setup_message_ = "out of memory building the request headers";
      return false;
    }
    header_list_ = grown;
  }
  return true;
}

bool transfer::set_method_and_body() {
  const auto& m = req_.method;
  CURLcode rc = CURLE_OK;
  if (m == "HEAD") {
    rc = curl_easy_setopt(easy_, CURLOPT_NOBODY, 1L);
  } else if (m == "GET" && req_.body.empty()) {
    rc = curl_easy_setopt(easy_, CURLOPT_HTTPGET, 1L);
  } else {
    if (m == "POST" || !req_.body.empty()) {
      // Not copied: the body lives in this transfer until it ends.
      rc = curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE,
                            static_cast<curl_off_t>(req_.body.size()));
      if (rc == CURLE_OK)
        rc = curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, req_.body.data());
    }
    if (rc == CURLE_OK && m != "POST")
      rc = curl_easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, m.c_str());
  }
  if (rc != CURLE_OK) {
    setup_error_ = classify(rc, 0).error;
    setup_message_ = curl_easy_strerror(rc);
    return false;
  }
  return true;
}

void transfer::started(clock_type::time_point now) {
  started_ = now;
  last_data_at_ = now;
  running_ = true;
  if (deadline_hint_ != nullptr)
    *deadline_hint_ = std::min(*deadline_hint_, deadline());
}

clock_type::time_point transfer::deadline() const {
  if (!running_)
    return clock_type::time_point::max();
  if (!headers_done_)
    return after(started_, req_.timeouts.first_byte_ms);
  return after(last_data_at_, req_.timeouts.idle_ms);
}

timeout_kind transfer::deadline_kind() const {
  return headers_done_ ? timeout_kind::idle : timeout_kind::first_byte;
}

// -- libcurl callbacks (on the loop's thread, inside curl_multi_socket_action)

size_t transfer::on_header_line(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<transfer*>(self);
  return t->header_line({data, size * n}) ? size * n : 0;
}

size_t transfer::on_body(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<transfer*>(self);
  return t->body({data, size * n}) ? size * n : 0;
}

bool transfer::header_line(std::string_view line) {
  if (aborted_)
    return false;
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
    // A status line starts a response: the final one, or an interim 1xx
    // whose headers are dropped.
    headers_.clear();
    status_ = 0;
    auto sp = line.find(' ');
    if (sp != std::string_view::npos) {
      for (auto i = sp + 1; i < line.size() && i < sp + 4; ++i) {
        if (line[i] < '0' || line[i] > '9')
          break;
        status_ = status_ * 10 + (line[i] - '0');
      }
    }
    return true;
  }
  auto content = trim(line);
  if (content.empty() && line.find('\n') != std::string_view::npos) {
    if (!headers_done_ && (status_ < 100 || status_ >= 200))
      headers_complete(clock_type::now());
    return !aborted_;
  }
  if (headers_done_ || content.empty())
    return true; // trailers of a chunked body: not part of `headers`
  if ((line.front() == ' ' || line.front() == '\t') && !headers_.empty()) {
    headers_.back().second += ' ';
    headers_.back().second += content;
    return true;
  }
  auto colon = content.find(':');
  if (colon == std::string_view::npos)
    return true;
  std::string name{trim(content.substr(0, colon))};
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  headers_.emplace_back(std::move(name), std::string{trim(content.substr(colon + 1))});
  return true;
}

void transfer::headers_complete(clock_type::time_point now) {
  headers_done_ = true;
  headers_at_ = now;
  last_data_at_ = now;
  // The idle limit may be shorter than what is left of the first-byte one.
  if (deadline_hint_ != nullptr)
    *deadline_hint_ = std::min(*deadline_hint_, deadline());
  if (!cb_.on_headers)
    return;
  try {
    if (abort_from("on_headers", cb_.on_headers(status_, headers_)))
      return;
  } catch (const std::exception& e) {
    aborted_ = true;
    abort_message_ = std::string{"on_headers threw: "} + e.what();
  } catch (...) {
    aborted_ = true;
    abort_message_ = "on_headers threw";
  }
}

bool transfer::body(std::string_view chunk) {
  if (aborted_)
    return false;
  auto now = clock_type::now();
  if (!headers_done_) // HTTP/1.0 without headers; libcurl refuses it, but be safe
    headers_complete(now);
  if (aborted_)
    return false;
  if (body_bytes_ == 0)
    first_byte_at_ = now;
  body_bytes_ += chunk.size();
  last_data_at_ = now;
  if (!cb_.on_data)
    return true;
  try {
    if (abort_from("on_data", cb_.on_data(chunk)))
      return false;
  } catch (const std::exception& e) {
    aborted_ = true;
    abort_message_ = std::string{"on_data threw: "} + e.what();
    return false;
  } catch (...) {
    aborted_ = true;
    abort_message_ = "on_data threw";
    return false;
  }
  return true;
}

bool transfer::abort_from(const char* callback, http_action action) {
  if (action != http_action::abort)
    return false;
  aborted_ = true;
  abort_message_ = std::string{"aborted by "} + callback;
  return true;
}

// -- outcomes ------------------------------------------------------------------

void transfer::fill_common(http_outcome& out, clock_type::time_point now) {
  out.status = headers_done_ ? status_ : 0;
  out.headers = std::move(headers_);
  out.body_bytes = body_bytes_;
  out.total_us = micros(submitted_, now);
  out.queued_us = running_ ? micros(submitted_, started_) : out.total_us;
  if (headers_done_)
    out.headers_us = micros(submitted_, headers_at_);
  if (body_bytes_ > 0)
    out.first_byte_us = micros(submitted_, first_byte_at_);
}

http_outcome transfer::outcome_from_curl(CURLcode code, clock_type::time_point now) {
  http_outcome out;
  fill_common(out, now);
  if (code == CURLE_OK)
    return out;
  if (aborted_) {
    out.error = transport_error::canceled;
    out.message = abort_message_;
    return out;
  }
  long os_errno = 0;
  if (curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK)
    os_errno = 0;
  auto failure = classify(code, os_errno);
  out.error = failure.error;
  out.connection = failure.connection;
  if (failure.error == transport_error::timeout) {
    // libcurl has one code for its two limits. Its clock starts a little
    // after ours, so past the total limit by our clock means that one; the
    // connect limit can only end a transfer still waiting for headers.
    auto elapsed_ms = micros(started_, now) / 1000;
    bool total = headers_done_ ||
                 (req_.timeouts.total_ms != 0 && elapsed_ms >= req_.timeouts.total_ms);
    out.timeout = total ? timeout_kind::total : timeout_kind::connect;
  }
  out.message = error_buffer_[0] != '\0' ? std::string{error_buffer_}
                                         : std::string{curl_easy_strerror(code)};
  return out;
}

http_outcome transfer::outcome_of(transport_error error, timeout_kind timeout,
                                  std::string message, clock_type::time_point now) {
  http_outcome out;
  fill_common(out, now);
  out.error = error;
  out.timeout = timeout;
  out.message = std::move(message);
  return out;
}

} // namespace troupe::net::detail
