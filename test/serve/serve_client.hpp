#pragma once
// A blocking HTTP client for the `troupe serve` tests (libcurl easy), which
// records every exchange as a JSON line for the OpenAPI contract check
// (test/peers/openapi/check_contract.mjs), and an SSE reader.

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace troupe::test {

struct http_reply {
  int status = 0; ///< 0: no reply (connection failed, timeout)
  std::string content_type;
  std::map<std::string, std::string> headers; ///< names lower-cased
  std::string body;
  std::string error; ///< curl's, when status is 0
};

struct sse_event {
  std::string id;
  std::string event;
  std::string data;
};

class serve_client {
public:
  /// `base`: "http://127.0.0.1:PORT"; `record`: the JSON-lines file to
  /// append exchanges to (empty: none).
  explicit serve_client(std::string base, std::string record = {});

  http_reply call(const std::string& method, const std::string& path, const std::string& key,
                  const std::string& body = {},
                  const std::vector<std::string>& headers = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds{15});
  http_reply get(const std::string& path, const std::string& key) {
    return call("GET", path, key);
  }
  http_reply post(const std::string& path, const std::string& key, const std::string& body,
                  const std::vector<std::string>& headers = {}) {
    return call("POST", path, key, body, headers);
  }

  /// Reads an event stream until it ends, `enough(events)` holds, or
  /// `timeout` passes. The reply's body is the raw stream.
  http_reply stream(const std::string& path, const std::string& key,
                    std::vector<sse_event>& events,
                    const std::function<bool(const std::vector<sse_event>&)>& enough = {},
                    const std::vector<std::string>& headers = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds{30});

  const std::string& base() const { return base_; }
  /// Off: exchanges are not recorded (probes of paths the API does not have).
  bool recording = true;

private:
  void record(const std::string& method, const std::string& path, const http_reply& r);
  std::string base_;
  std::string record_;
};

/// Splits an SSE body into events (comments and blank-only blocks skipped).
std::vector<sse_event> parse_sse(const std::string& body);

/// Polls `GET /v1/runs/{id}` until its job's status is final (or timeout);
/// returns the last reply's body as parsed JSON text.
std::string wait_final(serve_client& c, const std::string& key, const std::string& id,
                       std::chrono::milliseconds timeout = std::chrono::seconds{60});

} // namespace troupe::test
