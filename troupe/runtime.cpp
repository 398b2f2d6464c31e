#include "troupe/runtime.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <set>

#include <spdlog/spdlog.h>
#include <map>
#include <mutex>
#include <random>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/approvals.hpp"
#include "actors/journal.hpp"
#include "actors/messages.hpp"
#include "actors/model_route.hpp"
#include "actors/run.hpp"
#include "actors/run_supervisor.hpp"
#include "sandbox/shell_tool.hpp"
#include "persistence/store.hpp"
#include "actors/tool_worker.hpp"
#include "core/core_dumps.hpp"
#include "core/builtin_tools.hpp"
#include "core/runtime_errc.hpp"
#include "core/script_provider.hpp"
#include "core/secrets.hpp"
#include "schemas/errors.hpp"

namespace troupe {

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
  std::map<std::string, caf::actor> custom_routes;
  std::map<std::string, caf::actor> script_routes; ///< per scenario source + model

  /// When create() fails half-way: the journal's lease timer would keep the
  /// actor system from ever shutting down (~runtime stops it otherwise).
  ~impl() {
    if (journal)
      caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
  }

  mutable std::mutex mtx; ///< guards `live`, `finished` and `resume_queue`
  std::condition_variable all_done;
  std::set<std::string> live;
  std::map<std::string, run_result> finished;
  std::deque<run_launch> resume_queue; ///< resumed runs waiting for a slot
  std::map<std::string, scenario> known_scenarios; ///< by run_start.scenario
  size_t resumed_alive = 0;
  std::atomic<uint64_t> counter{0};
  std::string id_prefix;

  std::string next_run_id() {
    return id_prefix + "-" + std::to_string(++counter);
  }

  caf::actor route_for(const scenario& sc, const std::string& model) {
    if (auto i = custom_routes.find(model); i != custom_routes.end())
      return i->second;
    auto key = sc.source + "#" + model;
    if (auto i = script_routes.find(key); i != script_routes.end())
      return i->second;
    auto route = spawn_model_route(*sys, model,
                                   std::make_shared<script_provider>(sc.scripts));
    script_routes.emplace(key, route);
    return route;
  }

  /// Takes an unfinished run over for this process (actors/journal.hpp).
  caf::error claim(const std::string& run_id) {
    caf::error out;
    caf::scoped_actor self{*sys};
    self->request(journal, caf::infinite, claim_atom::value, run_id)
      .receive([] {}, [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  void ensure_tools() {
    if (!tools)
      tools = spawn_tool_pool(*sys, registry, opts.tool_workers);
  }

  /// Wiring shared by new and resumed runs; `promise` gets the result.
  /// Every secret value the policy can grant, for redaction.
  std::shared_ptr<const std::map<std::string, std::string>>
  redactions_for(const policy& governance) const {
    std::vector<std::string> names;
    for (auto& rule : governance.rules)
      names.insert(names.end(), rule.secrets.begin(), rule.secrets.end());
    return std::make_shared<const std::map<std::string, std::string>>(
      secrets->resolve(names));
  }

  run_wiring wiring_for(caf::actor route, std::shared_ptr<const policy> governance,
                        std::function<void(const event&)> on_event,
                        std::function<void(const run_result&)> user_done,
                        std::shared_ptr<std::promise<run_result>> promise,
                        bool resumed_run) {
    run_wiring w;
    w.journal = journal;
    w.route = std::move(route);
    w.tools = tools;
    w.registry = registry;
    w.redactions = redactions_for(*governance);
    w.governance = std::move(governance);
    w.approvals = approvals;
    w.clock = system_clock_us;
    w.on_event = std::move(on_event);
    w.on_done = [this, promise, user_done, resumed_run](const run_result& r) {
      std::optional<run_launch> next;
      {
        std::lock_guard<std::mutex> guard(mtx);
        live.erase(r.run_id);
        finished[r.run_id] = r;
        if (resumed_run) {
          --resumed_alive;
          if (!resume_queue.empty()) {
            next = std::move(resume_queue.front());
            resume_queue.pop_front();
            ++resumed_alive;
          }
        }
        all_done.notify_all();
      }
      if (next)
        caf::anon_send(supervisor, start_atom::value, std::move(*next));
      if (user_done)
        user_done(r);
      promise->set_value(r);
    };
    return w;
  }
};

namespace {

// How run_start names a scenario: a file by its absolute path, so `resume`
// finds it again from any directory; a scenario built in code by its source.
std::string scenario_key(const scenario& sc) {
  std::error_code ec;
  return std::filesystem::exists(sc.source, ec)
           ? std::filesystem::absolute(sc.source, ec).lexically_normal().string()
           : sc.source;
}

// Run ids must not collide across processes sharing a journal: a time
// prefix plus random bits, then a counter within this runtime.
std::string make_id_prefix() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "r%llx-%04x",
                static_cast<unsigned long long>(system_clock_us() / 1000),
                static_cast<unsigned>(rd() & 0xffff));
  return buf;
}

} // namespace

runtime::runtime(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

caf::expected<std::unique_ptr<runtime>> runtime::create(runtime_options opts) {
  auto p = std::make_unique<impl>();
  p->opts = std::move(opts);
  if (p->opts.scheduler_threads > 0)
    p->cfg.set("scheduler.max-threads", p->opts.scheduler_threads);
  p->sys = std::make_unique<caf::actor_system>(p->cfg);
  journal_config jc;
  jc.path = p->opts.db_path;
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
  restart_policy rp;
  rp.max_restarts = p->opts.max_restarts;
  rp.window = p->opts.restart_window;
  p->supervisor = spawn_run_supervisor(*p->sys, p->journal, rp);
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
  if (auto err = p->registry->add(make_shell_tool(std::move(shell))))
    return err;
  p->id_prefix = make_id_prefix();
  return std::unique_ptr<runtime>(new runtime(std::move(p)));
}

runtime::~runtime() {
  auto& p = *impl_;
  std::vector<std::string> running;
  {
    std::lock_guard<std::mutex> guard(p.mtx);
    running.assign(p.live.begin(), p.live.end());
    p.resume_queue.clear(); // not started: they stay unfinished in the journal
  }
  for (auto& id : running)
    caf::anon_send(p.supervisor, cancel_atom::value, id);
  {
    // Every started run journals its end (canceled at its next step).
    std::unique_lock<std::mutex> guard(p.mtx);
    p.all_done.wait(guard, [&] { return p.live.empty(); });
  }
  {
    caf::scoped_actor self{*p.sys};
    self->request(p.journal, caf::infinite, flush_atom::value)
      .receive([] {}, [](caf::error& err) {
        troupe::ignore_error(err, "shutting down; the writer already logged it");
      });
    for (auto& a : {p.supervisor, p.approvals, p.journal, p.tools})
      if (a)
        self->send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& kv : p.custom_routes)
      self->send_exit(kv.second, caf::exit_reason::user_shutdown);
    for (auto& kv : p.script_routes)
      self->send_exit(kv.second, caf::exit_reason::user_shutdown);
  }
  p.supervisor = nullptr;
  p.approvals = nullptr;
  p.journal = nullptr;
  p.tools = nullptr;
  p.custom_routes.clear();
  p.script_routes.clear();
  p.sys.reset();
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
  auto& routes = impl_->custom_routes;
  if (auto i = routes.find(model); i != routes.end())
    caf::anon_send_exit(i->second, caf::exit_reason::user_shutdown);
  routes[model] = spawn_model_route(*impl_->sys, model, std::move(provider));
  return {};
}

std::vector<std::string> runtime::tool_names() const {
  return impl_->registry->names();
}

void runtime::register_scenario(const scenario& sc) {
  auto key = scenario_key(sc);
  std::lock_guard<std::mutex> guard(impl_->mtx);
  impl_->known_scenarios[key] = sc;
}

caf::expected<scenario> runtime::load_scenario(const std::string& path) const {
  return troupe::load_scenario(path, tool_names());
}

caf::expected<run_handle> runtime::start(const scenario& sc, run_request req) {
  auto& p = *impl_;
  auto agent_name = req.agent.empty() ? sc.agent : req.agent;
  auto agent = sc.agents.find(agent_name);
  if (agent == sc.agents.end())
    return caf::make_error(runtime_errc::invalid_scenario,
                           sc.source + ": no agent '" + agent_name + "'");
  auto task = req.task.empty() ? sc.task : req.task;
  if (task.empty())
    return caf::make_error(runtime_errc::invalid_scenario,
                           sc.source + ": the run has no task; set [run].task "
                                       "or pass one (--task)");
  for (auto& t : agent->second.tools)
    if (p.registry->find(t) == nullptr)
      return caf::make_error(runtime_errc::unknown_tool,
                             sc.source + ": agent '" + agent_name
                               + "' lists tool '" + t
                               + "', which is not registered");
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

  run_spec spec;
  spec.run_id = p.next_run_id();
  auto& start = spec.start;
  start.agent = agent_name;
  start.tenant = sc.tenant;
  start.task = task;
  start.model = agent->second.model;
  start.instructions = agent->second.instructions;
  start.tools = agent->second.tools;
  start.limits = sc.limits;
  start.scenario = scenario_key(sc);
  register_scenario(sc);
  start.workspace = sc.workspace_root.string();

  auto promise = std::make_shared<std::promise<run_result>>();
  run_handle handle{spec.run_id, promise->get_future().share()};
  auto w = p.wiring_for(p.route_for(sc, start.model),
                        std::make_shared<const policy>(sc.governance),
                        std::move(req.on_event),
                        std::move(req.on_done), promise, false);
  {
    std::lock_guard<std::mutex> guard(p.mtx);
    p.live.insert(spec.run_id);
  }
  caf::anon_send(p.supervisor, start_atom::value,
                 run_launch{std::move(spec), std::move(w)});
  return handle;
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
    out.push_back({r.run_id, r.call_id, r.tool, r.args_json, r.rule, r.deadline_us});
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
  {
    std::lock_guard<std::mutex> guard(impl_->mtx);
    if (impl_->live.count(run_id) == 0)
      return false;
  }
  caf::anon_send(impl_->supervisor, cancel_atom::value, run_id);
  return true;
}

std::vector<caf::expected<run_handle>>
runtime::resume(std::function<void(const run_result&)> on_done) {
  auto& p = *impl_;
  p.resumed = true;
  std::vector<caf::expected<run_handle>> out;
  auto db = persistence::store::open(p.opts.db_path, persistence::open_mode::read_only);
  if (!db) {
    out.emplace_back(std::move(db.error()));
    return out;
  }
  auto unfinished = db->list_runs(run_status::running);
  if (!unfinished) {
    out.emplace_back(std::move(unfinished.error()));
    return out;
  }
  p.ensure_tools();
  for (auto& info : *unfinished) {
    {
      std::lock_guard<std::mutex> guard(p.mtx);
      if (p.live.count(info.run_id) != 0)
        continue; // already running in this process
    }
    // Claim before reading: once it is ours, no other process adds to it.
    if (auto err = p.claim(info.run_id)) {
      if (err == persistence::store_errc::run_owned
          || err == persistence::store_errc::run_finished) {
        spdlog::info("resume: {}", render(err));
        continue;
      }
      out.emplace_back(std::move(err));
      continue;
    }
    auto history = db->load_run(info.run_id);
    if (!history) {
      out.emplace_back(std::move(history.error()));
      continue;
    }
    auto spec = spec_from_history(std::move(*history));
    if (!spec) {
      out.emplace_back(caf::make_error(runtime_errc::invalid_arguments,
                                       "run " + info.run_id + ": " + render(spec.error())));
      continue;
    }
    auto& start = spec->start;
    const scenario* sc = nullptr;
    {
      std::lock_guard<std::mutex> guard(p.mtx);
      if (auto i = p.known_scenarios.find(start.scenario); i != p.known_scenarios.end())
        sc = &i->second;
    }
    if (sc == nullptr) {
      auto loaded = load_scenario(start.scenario);
      if (!loaded) {
        out.emplace_back(caf::make_error(
          runtime_errc::invalid_scenario,
          "run " + info.run_id + " cannot resume: its scenario '" + start.scenario
            + "' is neither registered (register_scenario) nor a readable file: "
            + render(loaded.error())));
        continue;
      }
      std::lock_guard<std::mutex> guard(p.mtx);
      sc = &(p.known_scenarios[start.scenario] = std::move(*loaded));
    }
    auto route = p.route_for(*sc, start.model);
    auto governance = std::make_shared<const policy>(sc->governance);
    auto promise = std::make_shared<std::promise<run_result>>();
    out.emplace_back(run_handle{info.run_id, promise->get_future().share()});
    auto w = p.wiring_for(route, governance, nullptr, on_done, promise, true);
    run_launch launch{std::move(*spec), std::move(w)};
    std::lock_guard<std::mutex> guard(p.mtx);
    p.live.insert(info.run_id);
    if (p.resumed_alive < std::max<size_t>(1, p.opts.resume_concurrency)) {
      ++p.resumed_alive;
      caf::anon_send(p.supervisor, start_atom::value, std::move(launch));
    } else {
      p.resume_queue.push_back(std::move(launch));
    }
  }
  return out;
}

std::optional<run_result> runtime::result(const std::string& run_id) const {
  std::lock_guard<std::mutex> guard(impl_->mtx);
  auto i = impl_->finished.find(run_id);
  if (i == impl_->finished.end())
    return std::nullopt;
  return i->second;
}

caf::actor_system& runtime::system() { return *impl_->sys; }

} // namespace troupe
