#include "runtime/troupe.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <random>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/journal.hpp"
#include "actors/messages.hpp"
#include "actors/model_route.hpp"
#include "actors/run.hpp"
#include "actors/tool_worker.hpp"
#include "runtime/builtin_tools.hpp"
#include "runtime/runtime_errc.hpp"
#include "runtime/script_provider.hpp"
#include "schemas/errors.hpp"

namespace troupe {

struct runtime::impl {
  runtime_options opts;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor journal;
  caf::actor tools; ///< spawned with the first run; fixes the registry
  std::shared_ptr<tool_registry> registry = std::make_shared<tool_registry>();
  std::map<std::string, caf::actor> custom_routes;
  std::map<std::string, caf::actor> script_routes; ///< per scenario source + model

  mutable std::mutex mtx; ///< guards `live` and `finished`
  std::map<std::string, caf::actor> live;
  std::map<std::string, run_result> finished;
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
};

namespace {

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
  auto journal = spawn_journal(*p->sys, jc);
  if (!journal)
    return std::move(journal.error());
  p->journal = *journal;
  if (auto err = register_builtin_tools(*p->registry))
    return err;
  p->id_prefix = make_id_prefix();
  return std::unique_ptr<runtime>(new runtime(std::move(p)));
}

runtime::~runtime() {
  auto& p = *impl_;
  std::vector<caf::actor> running;
  {
    std::lock_guard<std::mutex> guard(p.mtx);
    for (auto& kv : p.live)
      running.push_back(kv.second);
  }
  {
    caf::scoped_actor self{*p.sys};
    for (auto& r : running) {
      self->monitor(r);
      self->send(r, cancel_atom::value);
    }
    for (size_t i = 0; i < running.size(); ++i)
      self->receive([](caf::down_msg&) {});
    self->request(p.journal, caf::infinite, flush_atom::value)
      .receive([] {}, [](caf::error& err) {
        troupe::ignore_error(err, "shutting down; the writer already logged it");
      });
    for (auto& a : {p.journal, p.tools})
      if (a)
        self->send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& kv : p.custom_routes)
      self->send_exit(kv.second, caf::exit_reason::user_shutdown);
    for (auto& kv : p.script_routes)
      self->send_exit(kv.second, caf::exit_reason::user_shutdown);
  }
  {
    std::lock_guard<std::mutex> guard(p.mtx);
    p.live.clear();
  }
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
  if (!p.tools)
    p.tools = spawn_tool_pool(*p.sys, p.registry, p.opts.tool_workers);

  run_spec spec;
  spec.run_id = p.next_run_id();
  auto& start = spec.start;
  start.agent = agent_name;
  start.tenant = sc.tenant;
  start.task = task;
  start.model = agent->second.model;
  start.instructions = agent->second.instructions;
  start.tools = agent->second.tools;
  auto& l = sc.limits;
  start.limits = limits_record{l.max_turns, l.max_tool_calls, l.max_tokens,
                               l.deadline_ms, l.max_consecutive_errors,
                               l.max_parse_failures};
  start.scenario = sc.source;
  start.workspace = sc.workspace_root.string();

  auto promise = std::make_shared<std::promise<run_result>>();
  run_handle handle{spec.run_id, promise->get_future().share()};
  run_wiring w;
  w.journal = p.journal;
  w.route = p.route_for(sc, start.model);
  w.tools = p.tools;
  w.registry = p.registry;
  w.clock = system_clock_us;
  w.on_event = std::move(req.on_event);
  auto user_done = std::move(req.on_done);
  auto* self = impl_.get();
  w.on_done = [self, promise, user_done](const run_result& r) {
    {
      std::lock_guard<std::mutex> guard(self->mtx);
      self->live.erase(r.run_id);
      self->finished[r.run_id] = r;
    }
    if (user_done)
      user_done(r);
    promise->set_value(r);
  };
  auto id = spec.run_id;
  std::lock_guard<std::mutex> guard(p.mtx);
  p.live[id] = spawn_run(*p.sys, std::move(spec), std::move(w));
  return handle;
}

bool runtime::cancel(const std::string& run_id) {
  std::lock_guard<std::mutex> guard(impl_->mtx);
  auto i = impl_->live.find(run_id);
  if (i == impl_->live.end())
    return false;
  caf::anon_send(i->second, cancel_atom::value);
  return true;
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
