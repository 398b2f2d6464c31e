// The read side of the store: runs and events, in order.

#include <cstring>

#include "persistence/detail/event_rows.hpp"
#include "persistence/detail/store_impl.hpp"

namespace troupe::persistence {

namespace {

constexpr const char* run_columns =
  "run_id, parent_run_id, root_run_id, agent, tenant, status, created_us, "
  "updated_us, last_seq, turns, tool_calls, model_calls, parse_failures, "
  "retries, input_tokens, output_tokens, wall_ms, tool_errors, model_errors, cost_micro_usd";

// A status this build does not know (a damaged row, or a newer troupe's) is
// reported, never read as some other status: `failed` would hide a run from
// resume, `running` would resume a run that ended.
caf::error unknown_status(const std::string& path, const std::string& run_id,
                          const std::string& status) {
  return caf::make_error(store_errc::corrupted,
                         path + ": run " + run_id + " has status '" + status
                           + "' in the runs table; expected running, completed, "
                             "limit_reached, failed or canceled. `troupe doctor --db "
                           + path + "` lists every damaged row");
}

caf::expected<run_info> read_run(const detail::statement& st, const std::string& path) {
  run_info r;
  r.run_id = st.text_at(0);
  r.parent_run_id = st.text_at(1);
  r.root_run_id = st.text_at(2);
  r.agent = st.text_at(3);
  r.tenant = st.text_at(4);
  if (auto status = st.text_at(5); !from_string(status, r.status))
    return unknown_status(path, r.run_id, status);
  r.created_us = st.int_at(6);
  r.updated_us = st.int_at(7);
  r.last_seq = static_cast<uint32_t>(st.int_at(8));
  auto& k = r.totals;
  k.turns = static_cast<uint32_t>(st.int_at(9));
  k.tool_calls = static_cast<uint32_t>(st.int_at(10));
  k.model_calls = static_cast<uint32_t>(st.int_at(11));
  k.parse_failures = static_cast<uint32_t>(st.int_at(12));
  k.retries = static_cast<uint32_t>(st.int_at(13));
  k.input_tokens = static_cast<uint64_t>(st.int_at(14));
  k.output_tokens = static_cast<uint64_t>(st.int_at(15));
  k.wall_ms = static_cast<uint64_t>(st.int_at(16));
  k.tool_errors = static_cast<uint32_t>(st.int_at(17));
  k.model_errors = static_cast<uint32_t>(st.int_at(18));
  k.cost_micro_usd = static_cast<uint64_t>(st.int_at(19));
  return r;
}

} // namespace

namespace detail {

bool read_hash(const statement& st, int col, event_hash& out) {
  out.fill(0);
  if (st.bytes_at(col) != out.size())
    return false;
  std::memcpy(out.data(), st.blob_at(col), out.size());
  return true;
}

caf::error list_run_rows(store::impl& s, std::optional<run_status> status,
                         std::vector<run_info>& out,
                         std::vector<integrity_problem>* problems) {
  std::string sql = std::string("SELECT ") + run_columns + " FROM runs";
  if (status)
    sql += " WHERE status = ?1";
  sql += " ORDER BY id";
  detail::statement st;
  if (auto rc = st.prepare(s.db, sql); rc != SQLITE_OK)
    return s.fail(rc, "listing runs");
  if (status)
    st.bind(1, to_string(*status));
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) {
    auto run = read_run(st, s.path);
    if (run) {
      out.push_back(std::move(*run));
      continue;
    }
    if (problems == nullptr)
      return std::move(run.error());
    problems->push_back({st.text_at(0), 0,
                         "runs.status is '" + st.text_at(5)
                           + "', not a status this build knows; the row was not checked"});
  }
  if (rc != SQLITE_DONE)
    return s.fail(rc, "listing runs");
  return {};
}

} // namespace detail

caf::expected<std::vector<run_info>>
store::list_runs(std::optional<run_status> status) {
  std::vector<run_info> out;
  if (auto err = detail::list_run_rows(*impl_, status, out, nullptr))
    return err;
  return out;
}

caf::expected<run_info> store::find_run(const std::string& run_id) {
  auto& s = *impl_;
  detail::statement st;
  std::string sql = std::string("SELECT ") + run_columns
                    + " FROM runs WHERE run_id = ?1";
  if (auto rc = st.prepare(s.db, sql); rc != SQLITE_OK)
    return s.fail(rc, "looking up run " + run_id);
  st.bind(1, run_id);
  auto rc = st.step();
  if (rc == SQLITE_ROW)
    return read_run(st, s.path);
  if (rc != SQLITE_DONE)
    return s.fail(rc, "looking up run " + run_id);
  return caf::make_error(store_errc::unknown_run,
                         s.path + ": no run '" + run_id
                           + "' (list them with `troupe runs`)");
}

caf::error store::for_each_event(
  const std::string& run_id,
  const std::function<caf::error(const stored_event&)>& fn) {
  auto& s = *impl_;
  detail::statement st;
  std::string sql = std::string("SELECT ") + detail::event_row_columns
                    + " FROM events e JOIN runs r ON r.id = e.run";
  if (!run_id.empty())
    sql += " WHERE r.run_id = ?1";
  sql += " ORDER BY e.run, e.seq";
  if (auto rc = st.prepare(s.db, sql); rc != SQLITE_OK)
    return s.fail(rc, "reading events");
  if (!run_id.empty())
    st.bind(1, run_id);
  int rc;
  while ((rc = st.step()) == SQLITE_ROW)
    if (auto err = fn(detail::read_event_row(st)))
      return err;
  if (rc != SQLITE_DONE)
    return s.fail(rc, "reading events of run " + run_id);
  return {};
}

caf::expected<std::vector<stored_event>>
store::events(const std::string& run_id, std::optional<event_kind> kind) {
  std::vector<stored_event> out;
  auto wanted = kind ? std::string(to_string(*kind)) : std::string{};
  auto err = for_each_event(run_id, [&](const stored_event& ev) {
    if (wanted.empty() || ev.kind == wanted)
      out.push_back(ev);
    return caf::error{};
  });
  if (err)
    return err;
  return out;
}

} // namespace troupe::persistence
