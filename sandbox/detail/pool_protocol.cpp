#include "sandbox/detail/pool_protocol.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <caf/atom.hpp>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>

#include "sandbox/detail/sandbox_common.hpp"
#include "schemas/errors.hpp"

namespace troupe::detail {

using json = nlohmann::json;

namespace {

json::binary_t as_binary(const std::string& s) {
  return json::binary_t{std::vector<uint8_t>(s.begin(), s.end())};
}

std::string from_binary(const json& j) {
  const auto& b = j.get_binary();
  return std::string(b.begin(), b.end());
}

json encode_result(const sandbox_result& r) {
  return json{{"exit_code", r.exit_code},
              {"signal", r.signal},
              {"timed_out", r.timed_out},
              {"limit_breached", r.limit_breached},
              {"stdout", as_binary(r.stdout_data)},
              {"stderr", as_binary(r.stderr_data)},
              {"stdout_truncated", r.stdout_truncated},
              {"stderr_truncated", r.stderr_truncated},
              {"stdout_total", r.stdout_bytes_total},
              {"stderr_total", r.stderr_bytes_total},
              {"wall_us", r.wall_us},
              {"isolation", r.isolation}};
}

sandbox_result decode_result(const json& j) {
  sandbox_result r;
  r.exit_code = j.at("exit_code").get<int>();
  r.signal = j.at("signal").get<int>();
  r.timed_out = j.at("timed_out").get<bool>();
  r.limit_breached = j.at("limit_breached").get<bool>();
  r.stdout_data = from_binary(j.at("stdout"));
  r.stderr_data = from_binary(j.at("stderr"));
  r.stdout_truncated = j.at("stdout_truncated").get<bool>();
  r.stderr_truncated = j.at("stderr_truncated").get<bool>();
  r.stdout_bytes_total = j.at("stdout_total").get<uint64_t>();
  r.stderr_bytes_total = j.at("stderr_total").get<uint64_t>();
  r.wall_us = j.at("wall_us").get<uint64_t>();
  r.isolation = j.at("isolation").get<std::string>();
  return r;
}

std::string to_cbor_string(const json& j) {
  auto bytes = json::to_cbor(j);
  return std::string(bytes.begin(), bytes.end());
}

// Only the worker's own errors cross the socket; they are all sandbox_errc.
caf::error error_from_wire(const json& j) {
  auto code = j.at("code").get<uint8_t>();
  auto message = j.at("message").get<std::string>();
  if (code < static_cast<uint8_t>(sandbox_errc::unavailable)
      || code > static_cast<uint8_t>(sandbox_errc::invalid_request))
    code = static_cast<uint8_t>(sandbox_errc::spawn_failed);
  return sandbox_error(static_cast<sandbox_errc>(code), std::move(message));
}

json error_to_wire(const caf::error& err) {
  uint8_t code = err.category() == caf::atom("sandbox")
                   ? err.code()
                   : static_cast<uint8_t>(sandbox_errc::spawn_failed);
  return json{{"ok", false}, {"code", code}, {"message", render(err)}};
}

} // namespace

// -- wire protocol -------------------------------------------------------------

std::string encode_request(const sandbox_request& req) {
  json argv = json::array();
  for (const auto& a : req.argv)
    argv.push_back(a);
  json roots = json::array();
  for (const auto& r : req.writable_roots)
    roots.push_back(r.string());
  const auto& l = req.limits;
  json j{{"argv", std::move(argv)},
         {"stdin", as_binary(req.stdin_data)},
         {"cwd", req.cwd.string()},
         {"roots", std::move(roots)},
         {"network", req.network},
         {"env", req.env},
         {"limits",
          {{"cpu_seconds", l.cpu_seconds},
           {"address_space_bytes", l.address_space_bytes},
           {"file_size_bytes", l.file_size_bytes},
           {"open_files", l.open_files},
           {"processes", l.processes},
           {"wall_timeout_ms", l.wall_timeout_ms},
           {"output_cap_bytes", l.output_cap_bytes},
           {"tmp_bytes", l.tmp_bytes}}}};
  return to_cbor_string(j);
}

caf::expected<sandbox_request> decode_request(std::string_view bytes) {
  try {
    auto j = json::from_cbor(bytes.begin(), bytes.end());
    sandbox_request req;
    req.argv = j.at("argv").get<std::vector<std::string>>();
    req.stdin_data = from_binary(j.at("stdin"));
    req.cwd = j.at("cwd").get<std::string>();
    for (const auto& r : j.at("roots"))
      req.writable_roots.emplace_back(r.get<std::string>());
    req.network = j.at("network").get<bool>();
    req.env = j.at("env").get<std::map<std::string, std::string>>();
    const auto& l = j.at("limits");
    req.limits.cpu_seconds = l.at("cpu_seconds").get<uint32_t>();
    req.limits.address_space_bytes = l.at("address_space_bytes").get<uint64_t>();
    req.limits.file_size_bytes = l.at("file_size_bytes").get<uint64_t>();
    req.limits.open_files = l.at("open_files").get<uint32_t>();
    req.limits.processes = l.at("processes").get<uint32_t>();
    req.limits.wall_timeout_ms = l.at("wall_timeout_ms").get<uint64_t>();
    req.limits.output_cap_bytes = l.at("output_cap_bytes").get<uint64_t>();
    req.limits.tmp_bytes = l.at("tmp_bytes").get<uint64_t>();
    return req;
  } catch (const json::exception& e) {
    return sandbox_error(sandbox_errc::protocol_error,
                         std::string{"sandbox worker: malformed request frame: "} + e.what());
  }
}

std::string encode_reply(const caf::expected<sandbox_result>& reply) {
  if (!reply)
    return to_cbor_string(error_to_wire(reply.error()));
  return to_cbor_string(json{{"ok", true}, {"result", encode_result(*reply)}});
}

caf::expected<sandbox_result> decode_reply(std::string_view bytes) {
  try {
    auto j = json::from_cbor(bytes.begin(), bytes.end());
    if (!j.at("ok").get<bool>())
      return error_from_wire(j);
    return decode_result(j.at("result"));
  } catch (const json::exception& e) {
    return sandbox_error(sandbox_errc::protocol_error,
                         std::string{"sandbox pool: malformed reply frame: "} + e.what());
  }
}

std::string encode_ready(uint32_t uid) {
  return to_cbor_string(json{{"ready", true}, {"uid", uid}});
}

caf::expected<uint32_t> decode_ready(std::string_view bytes) {
  try {
    auto j = json::from_cbor(bytes.begin(), bytes.end());
    if (j.contains("ready") && j.at("ready").get<bool>())
      return j.at("uid").get<uint32_t>();
    return error_from_wire(j);
  } catch (const json::exception& e) {
    return sandbox_error(sandbox_errc::protocol_error,
                         std::string{"sandbox pool: malformed ready frame: "} + e.what());
  }
}

caf::error write_frame(int fd, std::string_view payload) {
  if (payload.size() > max_frame_bytes)
    return sandbox_error(sandbox_errc::protocol_error,
                         "sandbox: frame of " + std::to_string(payload.size())
                           + " bytes exceeds the limit of " + std::to_string(max_frame_bytes));
  auto len = static_cast<uint32_t>(payload.size());
  std::string buf(reinterpret_cast<const char*>(&len), sizeof len);
  buf.append(payload);
  size_t off = 0;
  while (off < buf.size()) {
    auto n = send(fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return sandbox_error(sandbox_errc::worker_crashed,
                           "sandbox: writing a frame: " + errno_text(errno));
    off += static_cast<size_t>(n);
  }
  return caf::none;
}

namespace {

// Reads exactly `n` bytes before `deadline`. With `ready` it tries the
// socket before polling it: a frame's payload arrives with its length, so
// polling for it would be one more system call per frame.
caf::error read_exact(int fd, char* out, size_t n, clock_type::time_point deadline,
                      bool* eof_at_start, bool ready) {
  size_t got = 0;
  while (got < n) {
    if (ready) {
      auto k = recv(fd, out + got, n - got, MSG_DONTWAIT);
      if (k > 0) {
        got += static_cast<size_t>(k);
        continue;
      }
      if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        if (eof_at_start != nullptr)
          *eof_at_start = got == 0;
        return sandbox_error(sandbox_errc::worker_crashed,
                             k == 0 ? std::string{"sandbox: the peer closed the connection"}
                                    : "sandbox: reading a frame: " + errno_text(errno));
      }
      ready = false;
    }
    int wait = -1;
    if (deadline != clock_type::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - clock_type::now())
                    .count();
      if (left <= 0)
        return sandbox_error(sandbox_errc::worker_crashed,
                             "sandbox: no answer before the deadline");
      wait = static_cast<int>(std::min<int64_t>(left, 60000));
    }
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, wait);
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc == 0)
      continue; // re-check the deadline
    ready = true;
  }
  return caf::none;
}

} // namespace

caf::expected<std::string> read_frame(int fd, uint64_t timeout_ms) {
  auto deadline = timeout_ms == 0 ? clock_type::time_point::max()
                                  : clock_type::now()
                                      + std::chrono::milliseconds{timeout_ms};
  uint32_t len = 0;
  if (auto err = read_exact(fd, reinterpret_cast<char*>(&len), sizeof len, deadline,
                            nullptr, false))
    return err;
  if (len > max_frame_bytes)
    return sandbox_error(sandbox_errc::protocol_error,
                         "sandbox: frame length " + std::to_string(len)
                           + " exceeds the limit of " + std::to_string(max_frame_bytes));
  std::string payload(len, '\0');
  if (auto err = read_exact(fd, payload.data(), len, deadline, nullptr, true))
    return err;
  return payload;
}

} // namespace troupe::detail
