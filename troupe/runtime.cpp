#include "troupe/runtime.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/approvals.hpp"
#include "actors/atoms.hpp"
#include "actors/journal.hpp"
#include "actors/messages.hpp"
#include "actors/endpoint_pool.hpp"
#include "actors/model_gateway.hpp"
#include "actors/model_route.hpp"
#include "actors/run.hpp"
#include "actors/run_supervisor.hpp"
#include "actors/tool_worker.hpp"
#include "core/builtin_tools.hpp"
#include "core/external_tools.hpp"
#include "core/core_dumps.hpp"
#include "core/delegation.hpp"
#include "core/run_admission.hpp"
#include "core/runtime_errc.hpp"
#include "core/script_provider.hpp"
#include "core/secrets.hpp"
#include "persistence/approval_store.hpp"
#include "sandbox/shell_tool.hpp"
#include "sandbox/verify_tool.hpp"
#include "schemas/errors.hpp"
#include "troupe/mcp_wiring.hpp"

namespace troupe {

namespace {

// A blocking call into the run supervisor from a host thread (the embedding
// API is synchronous; ~0.1 ms per call).
template <class T, class... Ts>
caf::expected<T> ask(caf::actor_system& sys, const caf::actor& dest, Ts&&... xs) {
  caf::expected<T> out{caf::make_error(caf::sec::request_receiver_down)};
  caf::scoped_actor self{sys};
  self->request(dest, caf::infinite, std::forward<Ts>(xs)...)
    .receive([&](T& x) { out = std::move(x); }, [&](caf::error& err) { out = std::move(err); });
  return out;
}

// How run_start names a scenario: a file by its absolute path, so `resume`
// finds it again from any directory; a scenario built in code by its source.
std::string scenario_key(const scenario& sc) {
  std::error_code ec;
  return std::filesystem::exists(sc.source, ec)
           ? std::filesystem::absolute(sc.source, ec).lexically_normal().string()
           : sc.source;
}

caf::error check_run_id(const std::string& id) {
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_';
  };
  if (id.size() <= 64 && std::all_of(id.begin(), id.end(), ok))
    return {};
  return caf::make_error(runtime_errc::invalid_arguments,
                         "start: run id '" + id.substr(0, 80)
                           + "' is not 1-64 letters, digits, '-' or '_'");
}

void apply_request_caps(run_start& start, const run_request& req) {
  if (!req.tenant.empty())
    start.tenant = req.tenant;
  auto cap = [](uint64_t& limit, uint64_t by) {
    if (by != 0)
      limit = limit == 0 ? by : std::min(limit, by);
  };
  cap(start.limits.max_tokens, req.max_tokens);
  cap(start.limits.max_cost_micro_usd, req.max_cost_micro_usd);
}

} // namespace

// Wires the pieces together; which runs run, their ids, resume and the
// bookkeeping of runs in flight are the run supervisor's
// (actors/run_supervisor.hpp).
struct runtime::impl {
  runtime_options opts;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor journal;
  caf::actor supervisor;
  caf::actor approvals; ///< null until an approvals service is attached
  caf::actor tools; ///< spawned with the first run; fixes the registry
  bool resumed = false;
  std::shared_ptr<tool_registry> registry = std::make_shared<tool_registry>();
  std::shared_ptr<secret_store> secrets = std::make_shared<secret_store>();
  std::unique_ptr<mcp_wiring> mcp; ///< the scenarios' MCP servers
  std::shared_ptr<journal_meter> meter = std::make_shared<journal_meter>();
  shell_pool_probe sandbox_probe;

  /// When create() fails half-way: the journal's lease timer would keep the
  /// actor system from ever shutting down (~runtime stops it otherwise).
  ~impl() {
    if (journal)
      caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
  }

  /// Guards what host threads and the supervisor's wiring of resumed runs
  /// (on the supervisor's thread) both touch: routes and known scenarios.
  mutable std::mutex mtx;
  std::map<std::string, caf::actor> custom_routes;
  /// Script routes and gateways, per scenario source + model.
  std::map<std::string, caf::actor> scenario_routes;
  /// What every gateway shares; started with the first routed model.
  std::shared_ptr<endpoint_pool> endpoints;
  std::map<std::string, std::shared_ptr<const scenario>> known_scenarios; ///< by run_start.scenario

  caf::expected<caf::actor> route_for(const scenario& sc, const std::string& model) {
    std::lock_guard<std::mutex> guard(mtx);
    if (auto i = custom_routes.find(model); i != custom_routes.end())
      return i->second;
    auto key = sc.source + "#" + model;
    if (auto i = scenario_routes.find(key); i != scenario_routes.end())
      return i->second;
    auto m = sc.models.find(model);
    caf::actor route;
    if (m != sc.models.end() && m->second.provider == "route") {
      auto gw = gateway_for(sc, m->second);
      if (!gw)
        return std::move(gw.error());
      route = spawn_model_gateway(*sys, std::move(*gw));
    } else {
      route = spawn_model_route(*sys, model, std::make_shared<script_provider>(sc.scripts));
    }
    scenario_routes.emplace(key, route);
    return route;
  }

  /// How long a run waits for a gateway's reply: the gateway answers every
  /// request itself (failures included) within its attempts' timeouts and
  /// backoffs, so this only catches a gateway that is gone. Shorter, and a
  /// slow reply would be journaled as a timeout while its transfer goes on.
  static std::chrono::milliseconds
  gateway_reply_bound(const model_config& m, const std::map<std::string, endpoint_config>& eps) {
    uint64_t longest = 0;
    auto consider = [&](const route_target& t) {
      if (auto e = eps.find(t.endpoint); e != eps.end())
        longest = std::max(longest, e->second.timeouts.total_ms);
    };
    for (auto& t : m.route)
      consider(t);
    for (auto& [tier, targets] : m.tiers)
      for (auto& t : targets)
        consider(t);
    retry_config retries;
    // Every attempt may take its whole total timeout and wait the longest
    // backoff or Retry-After before it; a minute more for the journal.
    uint64_t per_attempt = longest + std::max<uint64_t>(retries.max_retry_after_ms,
                                                        retries.max_delay_us / 1000);
    return std::chrono::milliseconds{per_attempt * std::max<uint32_t>(m.max_attempts, 1) + 60000};
  }

  /// The gateway of routed model `m`: its endpoints with their keys.
  caf::expected<gateway_config> gateway_for(const scenario& sc, const model_config& m) {
    if (!endpoints) {
      auto started = endpoint_pool::start();
      if (!started)
        return std::move(started.error());
      endpoints = std::move(*started);
      endpoints->persist_to(opts.db_path);
    }
    gateway_config gw;
    gw.route = m;
    gw.declared_tier = sc.tier;
    gw.pool = endpoints;
    gw.on_delta = opts.on_model_delta;
    auto add = [&](const route_target& t) -> caf::error {
      auto& e = sc.endpoints.at(t.endpoint);
      gw.endpoints.emplace(e.name, e);
      auto key = api_key_of(e, *secrets);
      if (!key)
        return caf::make_error(runtime_errc::invalid_scenario,
                               sc.source + ": model '" + m.name + "': " + render(key.error()));
      endpoints->watch(e, *key, opts.endpoint_check_interval);
      if (!key->empty())
        gw.api_keys.emplace(e.name, std::move(*key));
      return {};
    };
    for (auto& t : m.route)
      TROUPE_TRY(add(t));
    for (auto& [tier, targets] : m.tiers)
      for (auto& t : targets)
        TROUPE_TRY(add(t));
    return gw;
  }

  void ensure_tools() {
    if (!tools)
      tools = spawn_tool_pool(*sys, registry, opts.tool_workers);
  }

  /// Every secret value the policy can grant, for redaction.
  std::shared_ptr<const std::map<std::string, std::string>>
  redactions_for(const policy& governance) const {
    std::vector<std::string> names;
    for (auto& rule : governance.rules)
      names.insert(names.end(), rule.secrets.begin(), rule.secrets.end());
    return std::make_shared<const std::map<std::string, std::string>>(
      secrets->resolve(names));
  }

  /// Wiring shared by new and resumed runs.
  caf::expected<run_wiring> wiring_for(const scenario& sc, const run_start& start,
                                       std::function<void(const event&)> on_event,
                                       std::function<void(const run_result&)> on_done) {
    auto& model = start.model;
    // A team run asks no model: its phases' roles do.
    auto route = start.team.empty() ? route_for(sc, model) : caf::expected<caf::actor>{caf::actor{}};
    if (!route)
      return std::move(route.error());
    // The run decides with the MCP tools it journaled, whatever its servers
    // offer now (core/external_tools.hpp).
    auto tools_seen = with_external_tools(registry, start.external_tools);
    if (!tools_seen)
      return std::move(tools_seen.error());
    auto servers = mcp->actors_for(sc);
    if (!servers)
      return std::move(servers.error());
    auto governance = std::make_shared<const policy>(sc.governance);
    run_wiring w;
    w.journal = journal;
    w.route = std::move(*route);
    if (auto m = sc.models.find(model); m != sc.models.end() && m->second.provider == "route")
      w.model_timeout = gateway_reply_bound(m->second, sc.endpoints);
    w.tools = tools;
    w.mcp_servers = std::move(*servers);
    w.registry = std::move(*tools_seen);
    w.redactions = redactions_for(*governance);
    w.governance = std::move(governance);
    w.approvals = approvals;
    w.clock = system_clock_us;
    w.on_event = std::move(on_event);
    w.on_done = std::move(on_done);
    return w;
  }

  /// The scenario a journaled run names: registered, or read from its file.
  caf::expected<std::shared_ptr<const scenario>> scenario_named(const std::string& key) {
    {
      std::lock_guard<std::mutex> guard(mtx);
      if (auto i = known_scenarios.find(key); i != known_scenarios.end())
        return i->second;
    }
    auto loaded = troupe::load_scenario(key, registry->names());
    if (!loaded)
      return caf::make_error(runtime_errc::invalid_scenario,
                             "its scenario '" + key
                               + "' is neither registered (register_scenario) nor a "
                                 "readable file: "
                               + render(loaded.error()));
    auto sc = std::make_shared<const scenario>(std::move(*loaded));
    std::lock_guard<std::mutex> guard(mtx);
    return known_scenarios.emplace(key, std::move(sc)).first->second;
  }

  /// The supervisor's `make_child` (on its thread): a delegated child's
  /// run_start from its parent's scenario, wired like any run.
  caf::expected<run_launch> child_launch(const child_order& order) {
    auto sc = scenario_named(order.parent.scenario);
    if (!sc)
      return std::move(sc.error());
    auto start = child_start(**sc, order.parent, order.child);
    if (!start)
      return std::move(start.error());
    auto wiring = wiring_for(**sc, *start, nullptr, nullptr);
    if (!wiring)
      return std::move(wiring.error());
    run_launch launch;
    launch.spec.start = std::move(*start);
    launch.wiring = std::move(*wiring);
    return launch;
  }

  /// The supervisor's `wire` for resumed runs (on its thread); the owner's
  /// on_done comes with the resume request.
  caf::expected<run_wiring> wire_resumed(const run_spec& spec) {
    auto sc = scenario_named(spec.start.scenario);
    if (!sc)
      return std::move(sc.error());
    return wiring_for(**sc, spec.start, nullptr, nullptr);
  }
};

runtime::runtime(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

caf::expected<std::unique_ptr<runtime>> runtime::create(runtime_options opts) {
  auto p = std::make_unique<impl>();
  p->opts = std::move(opts);
  if (p->opts.scheduler_threads > 0)
    p->cfg.set("scheduler.max-threads", p->opts.scheduler_threads);
  p->sys = std::make_unique<caf::actor_system>(p->cfg);
  p->mcp = std::make_unique<mcp_wiring>(*p->sys, p->secrets);
  journal_config jc;
  jc.path = p->opts.db_path;
  jc.meter = p->meter;
  jc.renew_interval = std::chrono::duration_cast<std::chrono::milliseconds>(jc.lease / 3);
  auto journal = spawn_journal(*p->sys, jc);
  if (!journal)
    return std::move(journal.error());
  p->journal = *journal;
  approvals_config ac;
  ac.db_path = p->opts.db_path;
  if (p->opts.on_approval_requested) {
    auto cb = p->opts.on_approval_requested;
    ac.on_requested = [cb](const persistence::approval_row& r) {
      cb(pending_approval{r.run_id, r.call_id, r.tool, r.args_json, r.rule, r.deadline_us});
    };
  }
  auto approvals = spawn_approvals(*p->sys, std::move(ac));
  if (!approvals)
    return std::move(approvals.error());
  p->approvals = *approvals;
  supervisor_config sc;
  sc.journal = p->journal;
  sc.restarts.max_restarts = p->opts.max_restarts;
  sc.restarts.window = p->opts.restart_window;
  sc.resume_concurrency = p->opts.resume_concurrency;
  // The supervisor stops (in ~runtime) before `impl` goes away.
  sc.wire = [raw = p.get()](const run_spec& spec) { return raw->wire_resumed(spec); };
  sc.make_child = [raw = p.get()](const child_order& o) { return raw->child_launch(o); };
  p->supervisor = spawn_run_supervisor(*p->sys, std::move(sc));
  if (auto err = register_builtin_tools(*p->registry))
    return err;
  if (!p->opts.secrets_file.empty()) {
    auto loaded = secret_store::load(p->opts.secrets_file);
    if (!loaded)
      return std::move(loaded.error());
    if (auto err = forbid_core_dumps())
      return err;
    *p->secrets = std::move(*loaded);
  }
  shell_tool_config shell;
  shell.worker_binary = p->opts.sandbox_worker_binary;
  shell.workers = p->opts.sandbox_workers;
  shell.secrets = p->secrets;
  auto shell_tool = make_shell_tool(std::move(shell), &p->sandbox_probe);
  if (auto err = p->registry->add(make_verify_tool(shell_tool)))
    return err;
  if (auto err = p->registry->add(std::move(shell_tool)))
    return err;
  return std::unique_ptr<runtime>(new runtime(std::move(p)));
}

runtime::~runtime() {
  auto& p = *impl_;
  {
    caf::scoped_actor self{*p.sys};
    // Every run in flight journals its end (canceled at its next step).
    self->request(p.supervisor, caf::infinite, shutdown_atom::value)
      .receive([] {}, [](caf::error& err) {
        troupe::ignore_error(err, "shutting down; the supervisor is gone already");
      });
    self->request(p.journal, caf::infinite, flush_atom::value)
      .receive([] {}, [](caf::error& err) {
        troupe::ignore_error(err, "shutting down; the writer already logged it");
      });
    for (auto& a : {p.supervisor, p.approvals, p.journal, p.tools})
      if (a)
        self->send_exit(a, caf::exit_reason::user_shutdown);
    std::lock_guard<std::mutex> guard(p.mtx);
    for (auto& kv : p.custom_routes)
      self->send_exit(kv.second, caf::exit_reason::user_shutdown);
    for (auto& kv : p.scenario_routes)
      self->send_exit(kv.second, caf::exit_reason::user_shutdown);
  }
  p.mcp->stop_all();
  p.supervisor = nullptr;
  p.approvals = nullptr;
  p.journal = nullptr;
  p.tools = nullptr;
  p.custom_routes.clear();
  p.scenario_routes.clear();
  p.sys.reset();
  if (p.endpoints) {
    p.endpoints->save();
    p.endpoints.reset(); // after the gateways: their transfers are canceled
  }
}

caf::error runtime::register_tool(tool_definition def) {
  if (impl_->tools)
    return caf::make_error(runtime_errc::invalid_arguments,
                           "register_tool('" + def.name
                             + "'): tools are fixed once the first run started");
  return impl_->registry->add(std::move(def));
}

caf::error runtime::register_provider(const std::string& model,
                                      std::shared_ptr<model_provider> provider) {
  if (!provider)
    return caf::make_error(runtime_errc::invalid_arguments,
                           "register_provider('" + model + "'): null provider");
  auto route = spawn_model_route(*impl_->sys, model, std::move(provider));
  std::lock_guard<std::mutex> guard(impl_->mtx);
  auto& routes = impl_->custom_routes;
  if (auto i = routes.find(model); i != routes.end())
    caf::anon_send_exit(i->second, caf::exit_reason::user_shutdown);
  routes[model] = std::move(route);
  return {};
}

std::vector<std::string> runtime::tool_names() const {
  return impl_->registry->names();
}

void runtime::register_scenario(const scenario& sc) {
  auto key = scenario_key(sc);
  auto shared = std::make_shared<const scenario>(sc);
  std::lock_guard<std::mutex> guard(impl_->mtx);
  impl_->known_scenarios[key] = std::move(shared);
}

caf::expected<scenario> runtime::load_scenario(const std::string& path) const {
  return troupe::load_scenario(path, tool_names());
}

caf::expected<run_handle> runtime::start(const scenario& sc, run_request req) {
  auto& p = *impl_;
  // A run that may call MCP tools is admitted against what the servers
  // offer now, and journals that offer (run_start.external_tools).
  std::shared_ptr<const tool_registry> offered = p.registry;
  if (!sc.mcp_servers.empty()) {
    auto offers = p.mcp->offers(sc);
    if (!offers)
      return std::move(offers.error());
    auto with = with_external_tools(p.registry, external_tools_of(*offers));
    if (!with)
      return std::move(with.error());
    offered = std::move(*with);
  }
  if (auto err = check_run_id(req.run_id))
    return err;
  auto start = admit_run(sc, req.agent, req.task, *offered, scenario_key(sc));
  if (!start)
    return std::move(start.error());
  apply_request_caps(*start, req);
  std::error_code ec;
  std::filesystem::create_directories(sc.workspace_root, ec);
  if (ec)
    return caf::make_error(runtime_errc::io_failed,
                           sc.source + ": cannot create workspace "
                             + sc.workspace_root.string() + ": " + ec.message());
  if (p.opts.resume_on_first_start && !p.resumed) {
    for (auto& r : resume())
      if (!r)
        spdlog::error("resume: {}", render(r.error()));
  }
  p.ensure_tools();
  register_scenario(sc);
  run_launch launch;
  auto wiring = p.wiring_for(sc, *start, std::move(req.on_event), std::move(req.on_done));
  if (!wiring)
    return std::move(wiring.error());
  launch.wiring = std::move(*wiring);
  launch.spec.start = std::move(*start);
  launch.spec.run_id = std::move(req.run_id);
  auto ticket = ask<run_ticket>(*p.sys, p.supervisor, start_atom::value, std::move(launch));
  if (!ticket)
    return std::move(ticket.error());
  return run_handle{std::move(ticket->run_id), std::move(ticket->result)};
}

caf::expected<std::vector<mcp_listing>> runtime::mcp_offers(const scenario& sc) {
  return impl_->mcp->offers(sc);
}

std::vector<gateway_health_report> runtime::gateway_health() const {
  std::shared_ptr<endpoint_pool> pool;
  {
    std::lock_guard<std::mutex> guard(impl_->mtx);
    pool = impl_->endpoints;
  }
  std::vector<gateway_health_report> out;
  if (pool)
    for (auto& row : pool->snapshot())
      out.push_back({std::move(row.key), row.updated_us, std::move(row.document)});
  return out;
}

caf::expected<std::vector<pending_approval>> runtime::pending_approvals() const {
  auto store = persistence::approval_store::open(impl_->opts.db_path);
  if (!store)
    return std::move(store.error());
  auto rows = store->pending();
  if (!rows)
    return std::move(rows.error());
  std::vector<pending_approval> out;
  for (auto& r : *rows)
    out.push_back({r.run_id, r.call_id, r.tool, r.args_json, r.rule, r.deadline_us,
                   r.requested_us});
  return out;
}

caf::error runtime::decide_approval(const std::string& run_id, const std::string& call_id,
                                    bool approved, const std::string& by,
                                    const std::string& reason) {
  auto store = persistence::approval_store::open(impl_->opts.db_path);
  if (!store)
    return std::move(store.error());
  return store->decide(run_id, call_id, approved, by, reason, system_clock_us());
}

bool runtime::cancel(const std::string& run_id) {
  auto found = ask<bool>(*impl_->sys, impl_->supervisor, cancel_atom::value, run_id);
  return found && *found;
}

std::vector<caf::expected<run_handle>>
runtime::resume(std::function<void(const run_result&)> on_done) {
  auto& p = *impl_;
  p.resumed = true;
  p.ensure_tools();
  auto outcomes = ask<resume_outcomes>(*p.sys, p.supervisor, resume_atom::value,
                                       resume_order{std::move(on_done)});
  std::vector<caf::expected<run_handle>> out;
  if (!outcomes) {
    out.emplace_back(std::move(outcomes.error()));
    return out;
  }
  for (auto& o : *outcomes) {
    if (o)
      out.emplace_back(run_handle{std::move(o->run_id), std::move(o->result)});
    else
      out.emplace_back(std::move(o.error()));
  }
  return out;
}

runtime_stats runtime::stats() const {
  auto& p = *impl_;
  runtime_stats out;
  auto dist = [](const metrics::series& s, const std::vector<double>& bounds) {
    return distribution{bounds, s.buckets, s.sum, s.count};
  };
  auto j = p.meter->snapshot();
  out.journal.inbox_depth = j.inbox_depth;
  out.journal.accepted = j.accepted;
  out.journal.durable = j.durable;
  out.journal.rejected_busy = j.rejected_busy;
  out.journal.commit_latency_s = dist(j.commit_latency, journal_meter::commit_latency_bounds());
  out.journal.batch_size = dist(j.batch_size, journal_meter::batch_size_bounds());
  out.journal.commits = j.commit_latency.count;
  out.journal.committed = static_cast<uint64_t>(j.batch_size.sum);
  if (auto s = p.sandbox_probe ? p.sandbox_probe() : std::nullopt)
    out.sandbox = sandbox_figures{s->live,    s->idle,          s->busy,
                                  s->calls,   s->started,       s->start_failures,
                                  s->retired_max_calls, s->retired_breach, s->evicted,
                                  s->crashed};
  std::shared_ptr<endpoint_pool> pool;
  {
    std::lock_guard<std::mutex> guard(p.mtx);
    pool = p.endpoints;
  }
  if (pool)
    for (auto& [key, health] : pool->health()) {
      // As the gateway would see it now: a cool-down that ended is half_open.
      auto h = health;
      auto ended = refresh(h, system_clock_us());
      (void)ended; // a copy: the pool itself moves on its next request
      auto colon = key.find(':');
      endpoint_figures e;
      e.endpoint = key.substr(0, colon);
      e.model = colon == std::string::npos ? std::string{} : key.substr(colon + 1);
      e.breaker = std::string(to_string(h.breaker.state));
      e.score = health_score(h, pool->config());
      e.in_flight = h.in_flight;
      e.requests = h.requests;
      e.failures = h.failures;
      out.endpoints.push_back(std::move(e));
    }
  return out;
}

std::optional<run_result> runtime::result(const std::string& run_id) const {
  auto found = ask<std::optional<run_result>>(*impl_->sys, impl_->supervisor,
                                              caf::get_atom::value, run_id);
  return found ? std::move(*found) : std::nullopt;
}

caf::actor_system& runtime::system() { return *impl_->sys; }

} // namespace troupe
