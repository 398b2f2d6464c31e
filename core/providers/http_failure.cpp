#include "core/providers/http_failure.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/envelope.hpp"
#include "core/providers/detail/wire_json.hpp"
#include "core/providers/retry_after.hpp"

namespace troupe::providers {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool one_of(const std::string& v, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), v) != names.end();
}

// An HTML page's <title>, or "" when there is none.
std::string html_title(std::string_view body) {
  auto l = lower(body.substr(0, 64 * 1024));
  auto open = l.find("<title");
  if (open == std::string::npos)
    return {};
  auto start = l.find('>', open);
  auto end = l.find("</title", open);
  if (start == std::string::npos || end == std::string::npos || end < start)
    return {};
  std::string title(body.substr(start + 1, end - start - 1));
  std::replace_if(title.begin(), title.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return title;
}

bool looks_like_html(std::string_view body) {
  auto first = body.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && body[first] == '<';
}

// What the server said, for the detail: its error message with type or code,
// an HTML page's title, or the start of whatever else it sent.
std::string what_server_said(std::string_view body, const error_info* e) {
  if (e != nullptr) {
    auto kind = !e->type.empty() ? e->type : e->code;
    if (kind.empty())
      return ": " + (e->message.empty() ? std::string("an error without a message") : e->message);
    return " " + kind + (e->message.empty() ? std::string() : ": " + e->message);
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return " with an empty body";
  if (looks_like_html(body)) {
    auto title = html_title(body);
    return title.empty() ? ": an HTML page, not a JSON error"
                         : ": an HTML page, not a JSON error (\"" + title + "\")";
  }
  return ": " + std::string(body.substr(0, max_detail_bytes));
}

model_failure by_status(int status, const error_info* e) {
  bool quota = e != nullptr && is_quota_error(*e);
  bool overloaded = e != nullptr && lower(e->type) == "overloaded_error";
  if (status == 429)
    return quota ? model_failure::quota_exhausted
                 : overloaded ? model_failure::overloaded : model_failure::rate_limited;
  if (status == 503 || status == 529)
    return model_failure::overloaded;
  if (status >= 500 && status <= 599)
    return overloaded ? model_failure::overloaded : model_failure::server_error;
  if (status == 408)
    return model_failure::timeout;
  if (status == 402)
    return model_failure::quota_exhausted;
  return quota ? model_failure::quota_exhausted : model_failure::bad_request;
}

// "sk-" and at least 16 key characters: OpenAI ("sk-", "sk-proj-") and
// Anthropic ("sk-ant-") keys, should a server echo one we did not pass in.
std::string redact_key_shapes(std::string text) {
  auto key_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  };
  for (size_t at = text.find("sk-"); at != std::string::npos; at = text.find("sk-", at + 1)) {
    if (at > 0 && key_char(text[at - 1]))
      continue;
    size_t end = at + 3;
    while (end < text.size() && key_char(text[end]))
      ++end;
    if (end - at - 3 >= 16)
      text.replace(at, end - at, "[redacted]");
  }
  return text;
}

} // namespace

bool parse_error_body(std::string_view body, error_info& out) {
  try {
    if (!detail::within_depth(body))
      return false;
    auto j = detail::json::parse(body.begin(), body.end(), nullptr, false);
    return !j.is_discarded() && detail::read_error_object(j, out);
  } catch (...) {
    return false; // not ours to explain: the caller falls back to the raw body
  }
}

bool is_quota_error(const error_info& e) {
  auto type = lower(e.type);
  auto code = lower(e.code);
  for (auto& v : {type, code})
    if (one_of(v, {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active",
                   "billing_error"}))
      return true;
  auto msg = lower(e.message);
  for (std::string_view phrase : {"exceeded your current quota", "credit balance is too low",
                                  "reached your specified api usage limits"})
    if (msg.find(phrase) != std::string::npos)
      return true;
  return false;
}

model_failure classify_error(const error_info& e, int status) {
  if (status != 0)
    return by_status(status, &e);
  if (is_quota_error(e))
    return model_failure::quota_exhausted;
  auto type = lower(e.type);
  auto code = lower(e.code);
  if (one_of(type, {"rate_limit_error", "rate_limit_exceeded", "tokens", "requests"})
      || one_of(code, {"rate_limit_exceeded", "rate_limit_error"}))
    return model_failure::rate_limited;
  if (type == "overloaded_error" || code == "overloaded")
    return model_failure::overloaded;
  // vLLM and llama.cpp put the HTTP status they would have sent in `code`.
  if (code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      }))
    return by_status(std::stoi(code), &e);
  if (one_of(type, {"invalid_request_error", "authentication_error", "permission_error",
                    "not_found_error", "request_too_large", "badrequesterror"}))
    return model_failure::bad_request;
  return model_failure::server_error;
}

model_response classify_http_failure(provider_kind provider, int status,
                                     const header_list& headers, std::string_view body,
                                     std::string_view api_key,
                                     std::chrono::system_clock::time_point now) {
  model_response out;
  error_info e;
  bool parsed = parse_error_body(body, e);
  auto failure = by_status(status, parsed ? &e : nullptr);
  out.failure = std::string(to_string(failure));
  if (failure == model_failure::rate_limited || failure == model_failure::overloaded)
    out.retry_after_ms = retry_after_ms(headers, now).value_or(0);
  std::string detail = std::string(to_string(provider)) + " HTTP " + std::to_string(status);
  if (status < 400 || status > 599)
    detail = std::string(to_string(provider)) + " unexpected HTTP status "
             + std::to_string(status);
  detail += what_server_said(body, parsed ? &e : nullptr);
  out.failure_detail = redact_detail(detail, api_key);
  return out;
}

std::string redact_detail(std::string_view text, std::string_view api_key, size_t max_bytes) {
  std::string s(text);
  if (!api_key.empty())
    for (size_t at = s.find(api_key); at != std::string::npos; at = s.find(api_key, at))
      s.replace(at, api_key.size(), "[redacted]");
  s = redact_key_shapes(std::move(s));
  // Redacted before cut: a cut key would no longer match.
  return escape_unprintable(s, max_bytes);
}

} // namespace troupe::providers
