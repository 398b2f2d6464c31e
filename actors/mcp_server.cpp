#include "actors/mcp_server.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "core/mcp/mcp_catalog.hpp"
#include "core/mcp/mcp_errc.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

using call_done_atom = caf::atom_constant<caf::atom("mcpdone")>;
using gone_atom = caf::atom_constant<caf::atom("mcpgone")>;
using restart_atom = caf::atom_constant<caf::atom("mcpstart")>;
using changed_atom = caf::atom_constant<caf::atom("mcpchange")>;
using expire_atom = caf::atom_constant<caf::atom("mcpexpire")>;

constexpr auto first_backoff = std::chrono::milliseconds{100};
constexpr auto longest_backoff = std::chrono::milliseconds{30000};
constexpr auto stable_after = std::chrono::minutes{1};
constexpr auto list_timeout = std::chrono::milliseconds{30000};

struct mcp_server_state {
  mcp::server_setup setup;
  std::unique_ptr<mcp::session> session;
  std::vector<mcp_tool> tools;
  /// Why the server is down (empty while up or before the first start).
  std::string down_reason;
  bool restart_scheduled = false;
  std::chrono::milliseconds backoff = first_backoff;
  std::chrono::steady_clock::time_point started_at;
  uint64_t next_call = 1;
  struct pending_call {
    caf::response_promise promise;
    std::string tool; ///< qualified, for the outcome's text
  };
  std::map<uint64_t, pending_call> calls;
  /// Calls that came while the server was down, waiting for it to be up.
  struct waiting_call {
    tool_request req;
    int64_t give_up_ns = 0;
    caf::response_promise promise;
  };
  std::map<uint64_t, waiting_call> waiting;

  ~mcp_server_state() {
    if (session)
      session->close(); // before the promises: its callbacks send to us
  }
};

using server_actor = caf::stateful_actor<mcp_server_state>;

// Session callbacks run on the session's threads; they only send to the
// actor, through a weak reference (the session lives in the actor's state).
template <class... Ts>
void tell(const caf::weak_actor_ptr& weak, Ts&&... xs) {
  if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(weak))
    caf::anon_send(caf::actor_cast<caf::actor>(strong), std::forward<Ts>(xs)...);
}

const std::string& name_of(server_actor* self) {
  return self->state.setup.config.name;
}

void schedule_restart(server_actor* self) {
  auto& s = self->state;
  if (s.restart_scheduled)
    return;
  s.restart_scheduled = true;
  spdlog::warn("mcp server '{}' is down ({}); starting it again in {} ms", name_of(self),
              s.down_reason, s.backoff.count());
  self->delayed_send(self, s.backoff, restart_atom::value);
  s.backoff = std::min(s.backoff * 2, longest_backoff);
}

// Starts the server and lists its tools; false (with down_reason) on failure.
bool start(server_actor* self) {
  auto& s = self->state;
  if (s.session && s.session->alive())
    return true;
  if (s.session)
    s.session->close();
  s.session.reset();
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self->ctrl());
  mcp::session_events events;
  events.on_closed = [weak](std::string why) { tell(weak, gone_atom::value, std::move(why)); };
  events.on_tools_changed = [weak] { tell(weak, changed_atom::value); };
  auto opened = mcp::start_server(s.setup, std::move(events));
  if (!opened) {
    s.down_reason = render(opened.error());
    return false;
  }
  auto listed = (*opened)->list_tools(list_timeout);
  if (!listed) {
    (*opened)->close();
    s.down_reason = render(listed.error());
    return false;
  }
  s.session = std::move(*opened);
  s.tools = std::move(*listed);
  s.down_reason.clear();
  s.started_at = std::chrono::steady_clock::now();
  spdlog::info("mcp server '{}' is up: {} {}, protocol {}, {} tools", name_of(self),
              s.session->info().name, s.session->info().version,
              s.session->info().protocol_version, s.tools.size());
  return true;
}

tool_outcome outcome_of(const std::string& tool, mcp_call_result r) {
  if (r.answered)
    return {!r.is_error, r.is_error && r.text.empty() ? tool + ": " + r.error : std::move(r.text),
            false};
  return {false, tool + ": " + r.error, r.retryable}; // the error names the server
}

std::chrono::milliseconds time_left(int64_t give_up_ns) {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds{give_up_ns}
                                                               - now);
}

// Sends the call to the live session; its answer comes back as call_done.
void dispatch(server_actor* self, tool_request req, int64_t give_up_ns,
              caf::response_promise promise) {
  auto& s = self->state;
  auto tool = split_mcp_name(req.name)->second;
  auto args = nlohmann::json::parse(req.args_json, nullptr, false);
  if (!args.is_object()) {
    promise.deliver(tool_outcome{false, req.name + ": arguments are not a JSON object", false});
    return;
  }
  auto left = time_left(give_up_ns);
  if (left.count() <= 0) {
    promise.deliver(tool_outcome{false, req.name + ": not run: its caller stopped waiting", false});
    return;
  }
  auto timeout = std::min(left, std::chrono::milliseconds{s.setup.config.call_timeout_ms});
  auto key = s.next_call++;
  s.calls.emplace(key, mcp_server_state::pending_call{std::move(promise), req.name});
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self->ctrl());
  s.session->call_tool(tool, std::move(args), timeout, [weak, key](mcp_call_result r) {
    tell(weak, call_done_atom::value, key, std::move(r));
  });
}

// The server is up again: the calls that waited for it go out.
void dispatch_waiting(server_actor* self) {
  auto waiting = std::move(self->state.waiting);
  self->state.waiting.clear();
  for (auto& [key, call] : waiting)
    dispatch(self, std::move(call.req), call.give_up_ns, std::move(call.promise));
}

caf::behavior mcp_server(server_actor* self, mcp::server_setup setup) {
  self->state.setup = std::move(setup);
  // Started before the first message is handled, so a request that beat
  // any self-sent start cannot start the server a second time.
  if (!start(self))
    schedule_restart(self);
  return {
    [=](restart_atom) {
      auto& s = self->state;
      s.restart_scheduled = false;
      if (start(self))
        dispatch_waiting(self);
      else
        schedule_restart(self);
    },
    [=](gone_atom, std::string& why) {
      auto& s = self->state;
      if (!s.session || s.session->alive())
        return; // a session we already replaced
      s.down_reason = std::move(why);
      if (std::chrono::steady_clock::now() - s.started_at > stable_after)
        s.backoff = first_backoff;
      schedule_restart(self);
    },
    [=](changed_atom) {
      auto& s = self->state;
      if (!s.session)
        return;
      auto listed = s.session->list_tools(list_timeout);
      if (!listed) {
        spdlog::warn("mcp server '{}' changed its tools, listing them failed: {}", name_of(self),
                    render(listed.error()));
        return;
      }
      s.tools = std::move(*listed);
      spdlog::info("mcp server '{}' changed its tools: {} now", name_of(self), s.tools.size());
    },
    [=](mcp_tools_atom) -> caf::result<std::vector<mcp_tool>> {
      auto& s = self->state;
      // A run about to start needs the server now, even while a restart
      // waits out its backoff (the delayed restart then finds it up).
      if (!(s.session && s.session->alive())) {
        if (start(self))
          dispatch_waiting(self);
        else
          schedule_restart(self);
      }
      if (s.session && s.session->alive())
        return s.tools;
      return caf::make_error(mcp_errc::start_failed, s.down_reason); // names the server
    },
    [=](execute_atom, tool_request& req, int64_t give_up_ns) -> caf::result<tool_outcome> {
      auto& s = self->state;
      auto parts = split_mcp_name(req.name);
      if (!parts || parts->first != name_of(self))
        return tool_outcome{false, req.name + ": not a tool of mcp server '" + name_of(self) + "'",
                            false};
      auto promise = self->make_response_promise();
      if (s.session && s.session->alive()) {
        dispatch(self, std::move(req), give_up_ns, promise);
        return promise;
      }
      // Down: wait for the restart, at most until the caller stops waiting.
      auto key = s.next_call++;
      auto left = time_left(give_up_ns);
      s.waiting.emplace(key, mcp_server_state::waiting_call{std::move(req), give_up_ns, promise});
      self->delayed_send(self, std::max(left, std::chrono::milliseconds{0}), expire_atom::value,
                         key);
      return promise;
    },
    [=](expire_atom, uint64_t key) {
      auto& s = self->state;
      auto i = s.waiting.find(key);
      if (i == s.waiting.end())
        return;
      auto call = std::move(i->second);
      s.waiting.erase(i);
      call.promise.deliver(tool_outcome{false, call.req.name + ": mcp server '" + name_of(self)
                                                 + "' is not running ("
                                                 + (s.down_reason.empty() ? "starting"
                                                                          : s.down_reason)
                                                 + ")",
                                        true});
    },
    [=](call_done_atom, uint64_t key, mcp_call_result& r) {
      auto& s = self->state;
      auto i = s.calls.find(key);
      if (i == s.calls.end())
        return;
      auto call = std::move(i->second);
      s.calls.erase(i);
      call.promise.deliver(outcome_of(call.tool, std::move(r)));
    },
  };
}

} // namespace

caf::actor spawn_mcp_server(caf::actor_system& sys, mcp::server_setup setup) {
  return sys.spawn<caf::detached>(mcp_server, std::move(setup));
}

} // namespace troupe
