// GET /v1/approvals, POST /v1/approvals/{run}/{call}.

#include "core/jobs/authorization.hpp"
#include "core/jobs/job_json.hpp"
#include "schemas/errors.hpp"
#include "serve/detail/api_impl.hpp"
#include "troupe/runtime.hpp"

namespace troupe::serve::detail {

void list_approvals(api::impl& a, call& c) {
  auto r = a.readers.take();
  if (!r)
    return c.res.reply(internal_error(r.error()));
  auto pending = (*r)->approvals.pending();
  if (!pending)
    return c.res.reply(internal_error(pending.error()));
  auto items = nlohmann::json::array();
  std::map<std::string, bool> mine; // run id -> the caller's tenant's
  for (auto& p : *pending) {
    auto i = mine.find(p.run_id);
    if (i == mine.end()) {
      auto run = find_run(**r, c.who.tenant, p.run_id);
      if (!run)
        return c.res.reply(internal_error(run.error()));
      i = mine.emplace(p.run_id, run->has_value()).first;
    }
    if (!i->second)
      continue;
    nlohmann::json args = nlohmann::json::parse(p.args_json, nullptr, false);
    items.push_back({{"run_id", p.run_id},       {"call_id", p.call_id},
                     {"tool", p.tool},           {"args", args.is_discarded() ? nlohmann::json(p.args_json) : args},
                     {"rule", p.rule},           {"requested_us", p.requested_us},
                     {"deadline_us", p.deadline_us}});
  }
  c.res.reply(json_reply(200, {{"items", std::move(items)}}));
}

void decide_approval(api::impl& a, call& c) {
  if (!jobs::allows(c.who.key_role, jobs::api_action::approve))
    return c.res.reply(forbidden(c.who, "decide approvals"));
  const auto& run_id = c.parts[1];
  const auto& call_id = c.parts[2];
  auto decision = jobs::parse_decision(c.req.body);
  if (!decision)
    return c.res.reply(net::problem(400, "invalid-request", "Invalid request body",
                                    render(decision.error())));
  auto what = "approval " + run_id + "/" + call_id;
  std::optional<persistence::approval_row> row;
  {
    auto r = a.readers.take();
    if (!r)
      return c.res.reply(internal_error(r.error()));
    // Another tenant's run: as if it had no such approval.
    if (!found_or_reply(find_run(**r, c.who.tenant, run_id), c, what))
      return;
    row = found_or_reply((*r)->approvals.find(run_id, call_id), c, what);
  }
  if (!row)
    return;
  if (row->status != persistence::approval_status::pending)
    return c.res.reply(net::problem(409, "conflict", "Already decided",
                                    "approval " + run_id + "/" + call_id + " is "
                                      + std::string(persistence::to_string(row->status))));
  if (auto err = a.d.rt.decide_approval(run_id, call_id, decision->approve, c.who.name(),
                                        decision->reason))
    return c.res.reply(net::problem(409, "conflict", "Not decided", render(err)));
  a.d.tenants.audit(c.who, decision->approve ? "approval.approve" : "approval.deny", run_id + "/" + call_id,
                    nlohmann::json{{"reason", decision->reason}}.dump());
  c.res.reply(json_reply(200, {{"run_id", run_id},
                               {"call_id", call_id},
                               {"status", decision->approve ? "approved" : "denied"}}));
}

} // namespace troupe::serve::detail
