// POST /v1/runs, GET /v1/runs, GET /v1/runs/{id}, POST /v1/runs/{id}/cancel,
// GET /v1/runs/{id}/tree.

#include <chrono>

#include <openssl/rand.h>

#include "actors/run_tree_view.hpp"
#include "core/jobs/authorization.hpp"
#include "core/jobs/job_json.hpp"
#include "core/jobs/quota.hpp"
#include "core/jobs/utc_time.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "serve/detail/api_impl.hpp"
#include "serve/detail/wall_clock.hpp"
#include "serve/job_dispatcher.hpp"
#include "serve/scenario_catalog.hpp"
#include "serve/submission_writer.hpp"

namespace troupe::serve::detail {

namespace {

std::string random_id(const char* prefix) {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("the system's random source failed");
  static const char* hex = "0123456789abcdef";
  std::string out = prefix;
  for (auto b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

net::server_response too_many(std::string slug, std::string title, std::string detail,
                              uint32_t retry_after_s, int status = 429) {
  auto r = net::problem(status, slug, title, std::move(detail));
  r.headers.emplace_back("Retry-After", std::to_string(std::max<uint32_t>(retry_after_s, 1)));
  return r;
}

bool valid_idempotency_key(const std::string& k) {
  if (k.empty() || k.size() > 255)
    return false;
  for (unsigned char c : k)
    if (c < 0x21 || c > 0x7e)
      return false;
  return true;
}

nlohmann::json accepted_body(const jobs::job& j) {
  return {{"job_id", j.job_id}, {"run_id", j.run_id}, {"status", jobs::to_string(j.status)}};
}

nlohmann::json kpis_json(const kpis& k) {
  return {{"turns", k.turns},
          {"tool_calls", k.tool_calls},
          {"model_calls", k.model_calls},
          {"input_tokens", k.input_tokens},
          {"output_tokens", k.output_tokens},
          {"cost_micro_usd", k.cost_micro_usd},
          {"wall_ms", k.wall_ms},
          {"tool_errors", k.tool_errors},
          {"model_errors", k.model_errors},
          {"parse_failures", k.parse_failures},
          {"retries", k.retries}};
}

// The job or run a path's {id} names, scoped to the caller's tenant.
struct target {
  std::optional<jobs::job> job;
  std::optional<persistence::run_info> run;
  std::string run_id() const { return job ? attempt_run_id(*job) : run->run_id; }
};

caf::expected<std::optional<target>> find_target(readers& r, const principal& who,
                                                 const std::string& id) {
  target t;
  auto job = find_job(r, who.tenant, id);
  if (!job)
    return std::move(job.error());
  t.job = std::move(*job);
  auto run = find_run(r, who.tenant, t.job ? attempt_run_id(*t.job) : id);
  if (!run)
    return std::move(run.error());
  t.run = std::move(*run);
  if (!t.job && !t.run)
    return std::optional<target>{};
  return std::optional<target>{std::move(t)};
}

} // namespace

caf::expected<std::optional<jobs::job>> find_job(readers& r, const std::string& tenant,
                                                 const std::string& id) {
  auto j = r.jobs.get(id);
  if (!j)
    return std::move(j.error());
  if (!*j) {
    j = r.jobs.get_by_run(id);
    if (!j)
      return std::move(j.error());
  }
  // A retry's run: `<run id>-<attempt>` (attempt_run_id).
  if (auto dash = id.rfind('-'); !*j && dash != std::string::npos && dash + 1 < id.size()
                                 && id.find_first_not_of("0123456789", dash + 1) == std::string::npos) {
    j = r.jobs.get_by_run(id.substr(0, dash));
    if (!j)
      return std::move(j.error());
  }
  if (*j && (*j)->tenant != tenant)
    return std::optional<jobs::job>{}; // another tenant's: as if it did not exist
  return std::move(*j);
}

caf::expected<std::optional<persistence::run_info>>
find_run(readers& r, const std::string& tenant, const std::string& run_id) {
  auto run = r.journal.find_run(run_id);
  if (!run) {
    if (run.error() == persistence::store_errc::unknown_run)
      return std::optional<persistence::run_info>{};
    return std::move(run.error());
  }
  if (run->tenant != tenant)
    return std::optional<persistence::run_info>{};
  return std::optional<persistence::run_info>{std::move(*run)};
}

void submit_run(api::impl& a, call& c) {
  if (!jobs::allows(c.who.key_role, jobs::api_action::submit))
    return c.res.reply(forbidden(c.who, "submit runs"));
  auto sub = jobs::parse_submission(c.req.body);
  if (!sub)
    return c.res.reply(net::problem(400, "invalid-request", "Invalid request body",
                                    render(sub.error())));
  if (a.d.catalog.find(sub->scenario) == nullptr) {
    std::string names;
    for (auto& n : a.d.catalog.names())
      names += (names.empty() ? "" : ", ") + n;
    return c.res.reply(net::problem(422, "unknown-scenario", "Unknown scenario",
                                    "no scenario '" + sub->scenario + "' is served; served: "
                                      + (names.empty() ? "none" : names)));
  }
  auto key = c.req.header("idempotency-key");
  if (key && !valid_idempotency_key(*key))
    return c.res.reply(net::problem(400, "invalid-request", "Invalid Idempotency-Key",
                                    "Idempotency-Key must be 1-255 visible ASCII characters"));
  auto now = now_us();
  if (a.d.dispatcher.counts().queued >= a.d.max_queued)
    return c.res.reply(too_many("queue-full", "Queue full",
                                "the server holds " + std::to_string(a.d.max_queued)
                                  + " queued jobs; retry later",
                                1));
  auto quota = a.d.tenants.quota(c.who.tenant);
  auto counts = a.d.dispatcher.counts(c.who.tenant);
  jobs::tenant_usage usage;
  usage.queued = static_cast<uint32_t>(counts.queued);
  usage.running = static_cast<uint32_t>(counts.running);
  if (quota.tokens_per_day != 0 || quota.cost_micro_usd_per_month != 0) {
    auto r = a.readers.take();
    if (!r)
      return c.res.reply(internal_error(r.error()));
    auto used = (*r)->jobs.usage(c.who.tenant, jobs::day_start_us(now), jobs::month_start_us(now));
    if (!used)
      return c.res.reply(internal_error(used.error()));
    usage.tokens_today = used->tokens;
    usage.cost_this_month_micro_usd = used->cost_micro_usd;
  }
  auto verdict = a.d.tenants.admit(c.who.tenant, usage, now);
  if (!verdict.ok)
    return c.res.reply(too_many("quota-exceeded", "Quota exceeded: " + verdict.quota,
                                verdict.detail, static_cast<uint32_t>(verdict.retry_after_s),
                                verdict.http_status));
  jobs::job j;
  j.job_id = random_id("job-");
  j.run_id = random_id("r-");
  j.tenant = c.who.tenant;
  j.key_id = c.who.key_id;
  j.scenario = sub->scenario;
  j.task = sub->task;
  j.priority = sub->priority;
  j.labels = sub->labels;
  j.idempotency_key = key.value_or("");
  j.submitted_us = now;
  j.deadline_us = sub->deadline_ms ? now + static_cast<int64_t>(sub->deadline_ms) * 1000 : 0;
  auto* ap = &a;
  auto who = c.who;
  a.d.writer.submit(j, [ap, who, asked = j, res = std::make_shared<net::responder>(
                                             std::move(c.res))](auto stored) {
    if (!stored)
      return res->reply(net::problem(503, "unavailable", "Submission not stored",
                                     render(stored.error())));
    auto& got = stored->job;
    if (stored->existing && (got.scenario != asked.scenario || got.task != asked.task))
      return res->reply(net::problem(422, "idempotency-conflict", "Idempotency key reused",
                                     "job " + got.job_id + " was submitted with this "
                                       "Idempotency-Key and another scenario or task"));
    if (!stored->existing) {
      ap->d.dispatcher.enqueue(got);
      ap->d.tenants.audit(who, "job.submit", got.job_id,
                          nlohmann::json{{"run_id", got.run_id}, {"scenario", got.scenario}}
                            .dump());
    }
    auto reply = json_reply(202, accepted_body(got));
    reply.headers.emplace_back("Location", "/v1/runs/" + got.run_id);
    if (stored->existing)
      reply.headers.emplace_back("Idempotent-Replayed", "true");
    res->reply(std::move(reply));
  });
}

void list_runs(api::impl& a, call& c) {
  persistence::job_filter f;
  f.tenant = c.who.tenant;
  if (auto s = c.req.query_param("status")) {
    auto st = jobs::job_status_from(*s);
    if (!st)
      return c.res.reply(net::problem(400, "invalid-request", "Invalid status",
                                      "status '" + *s + "' is not a job status"));
    f.status = *st;
  }
  if (auto l = c.req.query_param("label"))
    f.label = *l;
  if (auto l = c.req.query_param("limit")) {
    char* end = nullptr;
    auto n = std::strtol(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || n < 1 || n > 1000)
      return c.res.reply(net::problem(400, "invalid-request", "Invalid limit",
                                      "limit must be 1 to 1000, not '" + *l + "'"));
    f.limit = static_cast<uint32_t>(n);
  }
  f.cursor = c.req.query_param("cursor").value_or("");
  auto r = a.readers.take();
  if (!r)
    return c.res.reply(internal_error(r.error()));
  auto page = (*r)->jobs.list(f);
  if (!page) {
    if (page.error() == persistence::store_errc::invalid_argument)
      return c.res.reply(net::problem(400, "invalid-request", "Invalid cursor",
                                      render(page.error())));
    return c.res.reply(internal_error(page.error()));
  }
  auto items = nlohmann::json::array();
  for (auto& j : page->jobs)
    items.push_back(jobs::to_json(j));
  nlohmann::json body{{"items", std::move(items)}};
  body["next_cursor"] =
    page->next_cursor.empty() ? nlohmann::json() : nlohmann::json(page->next_cursor);
  c.res.reply(json_reply(200, body));
}

void get_run(api::impl& a, call& c) {
  auto r = a.readers.take();
  if (!r)
    return c.res.reply(internal_error(r.error()));
  auto t = found_or_reply(find_target(**r, c.who, c.parts[1]), c, "run " + c.parts[1]);
  if (!t)
    return;
  nlohmann::json body;
  body["job"] = t->job ? jobs::to_json(*t->job) : nlohmann::json();
  body["run"] = nullptr;
  body["result"] = nullptr;
  if (auto& run = t->run) {
    body["run"] = {{"run_id", run->run_id},     {"parent_run_id", run->parent_run_id},
                   {"root_run_id", run->root_run_id}, {"agent", run->agent},
                   {"status", std::string(to_string(run->status))}, {"events", run->last_seq},
                   {"kpis", kpis_json(run->totals)}};
    if (run->status != run_status::running) {
      auto ends = (*r)->journal.events(run->run_id, event_kind::completion);
      if (!ends)
        return c.res.reply(internal_error(ends.error()));
      if (!ends->empty()) {
        auto ev = decode(ends->back().bytes);
        if (!ev)
          return c.res.reply(internal_error(ev.error()));
        auto& done = std::get<completion>(ev->body);
        body["result"] = {{"status", std::string(to_string(done.status))}, {"answer", done.answer},
                          {"summary", done.summary}, {"reason", done.reason}};
      }
    }
  }
  c.res.reply(json_reply(200, body));
}

namespace {

// The job the path's {id} names for the caller's tenant; nothing once the
// reply is sent (none, or it cannot be read).
std::optional<jobs::job> job_or_reply(api::impl& a, call& c) {
  auto r = a.readers.take();
  if (!r) {
    c.res.reply(internal_error(r.error()));
    return std::nullopt;
  }
  return found_or_reply(find_job(**r, c.who.tenant, c.parts[1]), c, "run " + c.parts[1]);
}

} // namespace

void cancel_run(api::impl& a, call& c) {
  if (!jobs::allows(c.who.key_role, jobs::api_action::cancel))
    return c.res.reply(forbidden(c.who, "cancel runs"));
  auto job = job_or_reply(a, c);
  if (!job)
    return;
  if (jobs::is_final(job->status))
    return c.res.reply(net::problem(409, "conflict", "Already ended",
                                    "job " + job->job_id + " is "
                                      + std::string(jobs::to_string(job->status))));
  auto now = a.d.dispatcher.cancel(job->job_id, c.who.name());
  if (!now)
    return c.res.reply(internal_error(now.error()));
  a.d.tenants.audit(c.who, "job.cancel", job->job_id, nlohmann::json{{"run_id", job->run_id}}.dump());
  c.res.reply(json_reply(202, *now ? jobs::to_json(**now) : accepted_body(*job)));
}

void requeue_run(api::impl& a, call& c) {
  if (!jobs::allows(c.who.key_role, jobs::api_action::requeue))
    return c.res.reply(forbidden(c.who, "requeue jobs"));
  auto job = job_or_reply(a, c);
  if (!job)
    return;
  auto now = a.d.dispatcher.requeue(job->job_id);
  if (!now)
    return c.res.reply(internal_error(now.error()));
  if (!*now || (*now)->status == jobs::job_status::dead || job->status != jobs::job_status::dead)
    return c.res.reply(net::problem(409, "conflict", "Not dead",
                                    "job " + job->job_id + " is "
                                      + std::string(jobs::to_string(job->status))
                                      + "; only dead jobs are requeued"));
  a.d.tenants.audit(c.who, "job.requeue", job->job_id, "{}");
  c.res.reply(json_reply(202, jobs::to_json(**now)));
}

void run_tree(api::impl& a, call& c) {
  auto r = a.readers.take();
  if (!r)
    return c.res.reply(internal_error(r.error()));
  auto t = found_or_reply(find_target(**r, c.who, c.parts[1]), c, "run " + c.parts[1]);
  if (!t)
    return;
  if (!t->run)
    return c.res.reply(net::problem(409, "not-started", "Not started",
                                    "run " + t->run_id() + " has not started yet"));
  auto view = read_run_tree_view((*r)->journal, t->run_id());
  if (!view)
    return c.res.reply(internal_error(view.error()));
  // A child's tree shows its whole tree: only when the root is the caller's too.
  if (!view->tree.nodes.empty() && view->tree.nodes.front().run.tenant != c.who.tenant)
    return c.res.reply(not_found("run " + c.parts[1]));
  c.res.reply(json_reply(200, to_json(*view)));
}

} // namespace troupe::serve::detail
