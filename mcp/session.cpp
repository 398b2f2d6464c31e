#include "mcp/session.hpp"

#include <set>

#include <spdlog/spdlog.h>

#include "core/envelope.hpp"
#include "core/mcp/mcp_wire.hpp"
#include "mcp/detail/http_transport.hpp"
#include "mcp/detail/rpc_core.hpp"
#include "mcp/detail/stdio_transport.hpp"
#include "schemas/errors.hpp"

namespace troupe::mcp {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// tools/list pages followed at most: a server that hands out cursors
// forever must not keep a listing going.
constexpr int max_tool_pages = 100;

mcp_errc code_of(const caf::error& err) {
  return static_cast<mcp_errc>(err.code());
}

// The same error with more words.
caf::error extended(const caf::error& err, const std::string& more) {
  return caf::make_error(code_of(err), render(err) + more);
}

mcp_call_result to_call_result(detail::rpc_reply r) {
  switch (r.end) {
    case detail::reply_end::result:
      return parse_call_result(r.result);
    case detail::reply_end::error:
      return call_error_result(r.error);
    default:
      break;
  }
  // No answer: failed, and the text says why, so that whoever looks only at
  // `is_error` and `text` still sees a failure.
  mcp_call_result out;
  out.answered = false;
  out.is_error = true;
  out.error = std::move(r.why);
  out.text = out.error;
  out.retryable = r.retryable;
  return out;
}

} // namespace

session::session() = default;

session::~session() {
  close();
}

caf::expected<std::unique_ptr<session>>
session::open_stdio(stdio_pipes pipes, session_options opts, session_events events) {
  std::unique_ptr<session> s{new session()};
  s->core_ = std::make_unique<detail::rpc_core>(opts.name, std::move(events));
  auto t = detail::stdio_transport::start(std::move(pipes), *s->core_, opts);
  if (!t)
    return std::move(t.error());
  s->transport_ = std::move(*t);
  auto err = s->begin(opts);
  if (!err)
    return s;
  std::string tail = detail::last_lines(s->transport_->stderr_tail());
  s->transport_->skip_grace();
  s->close();
  // A server that is gone said so with its stderr already; one that is
  // slow or confused may have said why on stderr too.
  if (!tail.empty() && code_of(err) != mcp_errc::server_gone)
    return extended(err, "; its stderr ends: " + tail);
  return err;
}

caf::expected<std::unique_ptr<session>>
session::open_http(std::string url, net::http_headers extra, net::http_client& client,
                   session_options opts, session_events events) {
  std::unique_ptr<session> s{new session()};
  s->core_ = std::make_unique<detail::rpc_core>(opts.name, std::move(events));
  s->transport_ = std::make_unique<detail::http_transport>(std::move(url), std::move(extra),
                                                           client, *s->core_, opts);
  auto err = s->begin(opts);
  if (!err)
    return s;
  s->close();
  return err;
}

caf::error session::begin(const session_options& opts) {
  core_->attach(transport_.get());
  if (!core_->start())
    return caf::make_error(mcp_errc::start_failed, core_->prefix() + "no timer thread");
  return initialize(opts);
}

caf::error session::initialize(const session_options& opts) {
  auto result = core_->request_sync(
    "initialize", [](uint64_t id) { return mcp_initialize_request(id, TROUPE_VERSION); },
    opts.startup_timeout);
  if (!result)
    return std::move(result.error());
  auto info = negotiate_version(*result);
  if (!info)
    return caf::make_error(code_of(info.error()),
                           core_->prefix() + "initialize: " + render(info.error()));
  info_ = std::move(*info);
  // Ready first: a list change announced on the stream HTTP opens now must
  // not be lost. The version goes out as a header from now on, with the
  // notification too.
  core_->set_ready();
  transport_->initialized(info_.protocol_version);
  core_->notify(mcp_initialized_notification());
  return {};
}

caf::expected<std::vector<mcp_tool>> session::list_tools(milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  std::vector<mcp_tool> tools;
  std::set<std::string> seen;
  std::string cursor;
  for (int page = 1; page <= max_tool_pages; ++page) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0)
      return caf::make_error(mcp_errc::timeout,
                             core_->prefix() + "tools/list timed out after "
                               + std::to_string(timeout.count()) + " ms, at page "
                               + std::to_string(page));
    std::string label = page == 1 ? "tools/list" : "tools/list (page " + std::to_string(page) + ")";
    auto result = core_->request_sync(
      label, [&cursor](uint64_t id) { return mcp_tools_list_request(id, cursor); }, left);
    if (!result)
      return std::move(result.error());
    auto parsed = parse_tools_page(*result);
    if (!parsed)
      return caf::make_error(code_of(parsed.error()),
                             core_->prefix() + label + ": " + render(parsed.error()));
    for (const auto& w : parsed->warnings)
      spdlog::warn("{}{}: {}", core_->prefix(), label, w);
    for (auto& tool : parsed->tools) {
      if (seen.insert(tool.name).second)
        tools.push_back(std::move(tool));
      else
        spdlog::warn("{}{}: a second tool named '{}' is ignored", core_->prefix(), label,
                     escape_unprintable(tool.name, 100));
    }
    if (parsed->next_cursor.empty())
      return tools;
    cursor = std::move(parsed->next_cursor);
  }
  return caf::make_error(mcp_errc::malformed_reply,
                         core_->prefix() + "tools/list: still a nextCursor after "
                           + std::to_string(max_tool_pages) + " pages");
}

uint64_t session::call_tool(std::string name, json args, milliseconds timeout,
                            std::function<void(mcp_call_result)> done) {
  std::string label = "tools/call '" + escape_unprintable(name, 100) + "'";
  return core_->request(
    std::move(label),
    [&](uint64_t id) { return mcp_tools_call_request(id, name, std::move(args)); }, timeout,
    [done = std::move(done)](detail::rpc_reply r) { done(to_call_result(std::move(r))); },
    true);
}

void session::cancel(uint64_t call) {
  core_->cancel(call, "canceled by troupe");
}

caf::error session::ping(milliseconds timeout) {
  auto result = core_->request_sync("ping", [](uint64_t id) { return mcp_ping_request(id); },
                                    timeout);
  if (!result)
    return std::move(result.error());
  return {};
}

bool session::alive() const {
  return core_->alive();
}

session_counters session::counters() const {
  return core_->counters();
}

std::string session::stderr_tail() const {
  return transport_ ? transport_->stderr_tail() : std::string{};
}

void session::close() {
  std::lock_guard<std::mutex> lock(close_mu_);
  if (!core_)
    return;
  core_->close("session closed");
  if (transport_)
    transport_->shutdown();
  core_->stop();
}

} // namespace troupe::mcp
