#include "sandbox/shell_tool.hpp"

#include <mutex>

#include <nlohmann/json.hpp>

#include "sandbox/sandbox_pool.hpp"
#include "sandbox/sandbox_process.hpp"
#include "core/core_dumps.hpp"
#include "core/workspace.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

using nlohmann::json;

struct shell_state {
  shell_tool_config cfg;
  std::mutex mtx;
  std::unique_ptr<sandbox_pool> pool;
  std::string start_error;
};

tool_outcome failed(std::string why) {
  return {false, "shell: " + std::move(why), false};
}

std::string describe(const sandbox_result& r, const std::map<std::string, std::string>& secrets) {
  std::string out;
  if (r.timed_out)
    out += "killed: the wall-clock limit was reached\n";
  else if (r.signal != 0)
    out += "killed by signal " + std::to_string(r.signal)
           + (r.limit_breached ? " (a resource limit was reached)" : "") + "\n";
  else
    out += "exit " + std::to_string(r.exit_code) + "\n";
  auto stream = [&](const char* name, const std::string& data, bool truncated,
                    uint64_t total) {
    if (data.empty() && !truncated)
      return;
    out += std::string("--- ") + name + " ---\n"
           + (truncated ? redact_cut(data, secrets) : redact(data, secrets));
    if (!data.empty() && data.back() != '\n')
      out += '\n';
    if (truncated)
      out += "[" + std::string(name) + " truncated: " + std::to_string(data.size()) + " of "
             + std::to_string(total) + " bytes shown]\n";
  };
  stream("stdout", r.stdout_data, r.stdout_truncated, r.stdout_bytes_total);
  stream("stderr", r.stderr_data, r.stderr_truncated, r.stderr_bytes_total);
  return out;
}

tool_outcome run_shell(shell_state& st, const json& args, const tool_context& ctx) {
  sandbox_request req;
  for (auto& a : args.at("argv"))
    req.argv.push_back(a.get<std::string>());
  req.stdin_data = args.value("stdin", std::string{});
  auto cwd = resolve_in_workspace(ctx.workspace_root, args.value("cwd", std::string{"."}));
  if (!cwd)
    return failed(render(cwd.error()));
  std::error_code ec;
  auto root = std::filesystem::canonical(ctx.workspace_root, ec);
  if (ec)
    return failed("the workspace " + ctx.workspace_root.string() + " is unusable: " + ec.message());
  req.cwd = *cwd;
  req.writable_roots = {root};
  req.network = ctx.network;
  req.limits = st.cfg.limits;
  req.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}};
  auto granted = st.cfg.secrets ? st.cfg.secrets->resolve(ctx.granted_secrets)
                                : std::map<std::string, std::string>{};
  if (!granted.empty())
    if (auto err = forbid_core_dumps())
      return failed("the command was not run: its secrets would be exposed to core "
                    "dumps: " + render(err));
  for (auto& [name, value] : granted)
    req.env[name] = value;
  sandbox_pool* pool = nullptr;
  {
    std::lock_guard<std::mutex> guard(st.mtx);
    if (!st.pool && st.start_error.empty()) {
      pool_config pc;
      pc.workers = st.cfg.workers;
      pc.worker_binary = find_sandbox_worker(st.cfg.worker_binary);
      pc.writable_roots = req.writable_roots;
      if (pc.worker_binary.empty()) {
        st.start_error = "troupe-sandbox-worker not found beside this program or on PATH";
      } else if (auto started = sandbox_pool::start(pc)) {
        st.pool = std::move(*started);
      } else {
        st.start_error = render(started.error());
      }
    }
    pool = st.pool.get();
  }
  if (pool == nullptr) {
    if (!ctx.unsandboxed)
      return failed("isolation is unavailable, so the command was not run (no silent "
                    "fallback; a policy rule with unsandboxed = true allows it): "
                    + st.start_error);
    // The rule explicitly accepts running without the pool's isolation: the
    // cold path still isolates when it can, and otherwise runs with rlimits,
    // a process group and the timeout only.
    req.allow_unsandboxed = true;
    auto result = run_sandboxed(req);
    if (!result)
      return failed(redact(render(result.error()), granted));
    bool ok = !result->timed_out && result->signal == 0 && result->exit_code == 0;
    return {ok, "isolation: " + result->isolation + "\n" + describe(*result, granted), false};
  }
  auto result = pool->run(req);
  if (!result)
    return failed(redact(render(result.error()), granted));
  bool ok = !result->timed_out && result->signal == 0 && result->exit_code == 0;
  return {ok, describe(*result, granted), false};
}

} // namespace

tool_definition make_shell_tool(shell_tool_config cfg, shell_pool_probe* probe) {
  auto st = std::make_shared<shell_state>();
  st->cfg = std::move(cfg);
  if (probe != nullptr) {
    // The mutex is held while the pool starts and briefly by every call: a
    // reader does not wait for it but gets the last figures it read, never
    // none once there were some (a counter read as 0 would look like a
    // reset to Prometheus).
    struct last_read {
      std::mutex mu;
      std::optional<pool_stats> figures;
    };
    auto last = std::make_shared<last_read>();
    *probe = [st, last]() -> std::optional<pool_stats> {
      std::unique_lock<std::mutex> lock{st->mtx, std::try_to_lock};
      std::lock_guard<std::mutex> guard{last->mu};
      if (lock.owns_lock() && st->pool)
        last->figures = st->pool->stats();
      return last->figures;
    };
  }
  tool_definition def;
  def.name = "shell";
  def.description = "Runs a program (argv, no shell) in an isolated sandbox whose only "
                    "writable directory is the workspace.";
  def.parameters = json::parse(R"({
    "type": "object",
    "properties": {
      "argv": {"type": "array", "items": {"type": "string"}, "minItems": 1,
               "description": "The program and its arguments, passed verbatim."},
      "stdin": {"type": "string", "description": "Text for the program's standard input."},
      "cwd": {"type": "string", "description": "Working directory relative to the workspace."}
    },
    "required": ["argv"],
    "additionalProperties": false
  })");
  def.effect = tool_effect::unsafe;
  def.handler = [st](const json& args, const tool_context& ctx) {
    return run_shell(*st, args, ctx);
  };
  return def;
}

} // namespace troupe
