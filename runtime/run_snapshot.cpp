#include "runtime/run_snapshot.hpp"

#include <nlohmann/json.hpp>

#include "runtime/runtime_errc.hpp"

namespace troupe {

namespace {

using nlohmann::json;

json kpis_json(const kpis& k) {
  return json::array({k.turns, k.tool_calls, k.model_calls, k.parse_failures, k.retries,
                      k.input_tokens, k.output_tokens, k.wall_ms, k.tool_errors,
                      k.model_errors, k.denials});
}

kpis kpis_of(const json& j) {
  kpis k;
  k.turns = j.at(0);
  k.tool_calls = j.at(1);
  k.model_calls = j.at(2);
  k.parse_failures = j.at(3);
  k.retries = j.at(4);
  k.input_tokens = j.at(5);
  k.output_tokens = j.at(6);
  k.wall_ms = j.at(7);
  k.tool_errors = j.at(8);
  k.model_errors = j.at(9);
  k.denials = j.at(10);
  return k;
}

// Short keys: a snapshot is written twice per turn.
json to_json(const run_state& st) {
  json j;
  j["ph"] = static_cast<int>(st.phase);
  j["t"] = st.turn;
  j["m"] = static_cast<int>(st.mode);
  j["nm"] = static_cast<int>(st.next_mode);
  j["ts"] = st.last_ts_us;
  auto calls = json::array();
  for (auto& c : st.calls)
    calls.push_back({c.call.call_id, c.call.name, c.call.args_json, static_cast<int>(c.status)});
  j["c"] = std::move(calls);
  j["f"] = json::array({st.reply_had_calls, st.reply_failed, st.turn_had_parse_failure,
                        st.cancel_requested});
  j["ce"] = st.consecutive_errors;
  j["cp"] = st.consecutive_provider_failures;
  if (!st.recovery_reason.empty())
    j["rr"] = st.recovery_reason;
  if (!st.out_of_scope.empty())
    j["os"] = st.out_of_scope;
  if (st.complete_call)
    j["cc"] = json::array({st.complete_call->first, st.complete_call->second});
  if (!st.pending_approvals.empty()) {
    auto pa = json::array();
    for (auto& a : st.pending_approvals)
      pa.push_back({a.call_id, a.tool, a.args_json, a.rule, a.deadline_us});
    j["pa"] = std::move(pa);
  }
  return j;
}

void from_json(const json& j, run_state& st) {
  st.phase = static_cast<run_phase>(j.at("ph").get<int>());
  st.turn = j.at("t");
  st.mode = static_cast<turn_mode>(j.at("m").get<int>());
  st.next_mode = static_cast<turn_mode>(j.at("nm").get<int>());
  st.last_ts_us = j.at("ts");
  st.calls.clear();
  for (auto& c : j.at("c"))
    st.calls.push_back({tool_call_ref{c.at(0), c.at(1), c.at(2)},
                        static_cast<call_slot::state>(c.at(3).get<int>())});
  auto& f = j.at("f");
  st.reply_had_calls = f.at(0);
  st.reply_failed = f.at(1);
  st.turn_had_parse_failure = f.at(2);
  st.cancel_requested = f.at(3);
  st.consecutive_errors = j.at("ce");
  st.consecutive_provider_failures = j.at("cp");
  st.recovery_reason = j.value("rr", std::string{});
  st.out_of_scope = j.value("os", std::string{});
  if (j.contains("cc"))
    st.complete_call = std::make_pair(j["cc"].at(0).get<std::string>(),
                                      j["cc"].at(1).get<std::string>());
  st.pending_approvals.clear();
  if (j.contains("pa"))
    for (auto& a : j["pa"])
      st.pending_approvals.push_back({a.at(0), a.at(1), a.at(2), a.at(3), a.at(4)});
}

} // namespace

std::string snapshot_of(const run_state& st) {
  auto bytes = json::to_cbor(to_json(st));
  return std::string(bytes.begin(), bytes.end());
}

caf::expected<run_state> restore(const event& start, const event& cp) {
  if (!std::holds_alternative<run_start>(start.body))
    return caf::make_error(runtime_errc::invalid_arguments,
                           "restore: the first event of run " + start.run_id
                             + " is not run_start");
  auto* body = std::get_if<checkpoint>(&cp.body);
  if (body == nullptr)
    return caf::make_error(runtime_errc::invalid_arguments,
                           "restore: run " + start.run_id + " seq "
                             + std::to_string(cp.seq) + " is not a checkpoint");
  std::string_view snapshot = body->state;
  run_state st;
  apply(st, start);
  auto doc = json::from_cbor(snapshot.begin(), snapshot.end(), true, false);
  if (doc.is_discarded() || !doc.is_object())
    return caf::make_error(runtime_errc::invalid_arguments,
                           "restore: the snapshot of run " + start.run_id
                             + " is not valid CBOR");
  try {
    from_json(doc, st);
  } catch (const json::exception& e) {
    return caf::make_error(runtime_errc::invalid_arguments,
                           "restore: the snapshot of run " + start.run_id
                             + " is malformed: " + e.what());
  }
  st.totals = body->totals; // KPIs travel in the checkpoint itself
  apply(st, cp); // the checkpoint's own timestamp moves the run's clock
  return st;
}

bool same_control_state(const run_state& a, const run_state& b) {
  return to_json(a) == to_json(b) && kpis_json(a.totals) == kpis_json(b.totals)
         && a.run_id == b.run_id && a.agent == b.agent && a.tools == b.tools
         && a.started_us == b.started_us;
}

} // namespace troupe
