#include "core/toml_text.hpp"
#include "core/scenario.hpp"
#include "core/policy_toml.hpp"
#include "core/text_file.hpp"
#include "core/detail/scenario_delegation.hpp"
#include "core/detail/scenario_team.hpp"
#include "core/verification.hpp"
#include "core/workspace.hpp"
#include "core/toml_limits.hpp"
#include "core/detail/scenario_mcp.hpp"
#include "core/detail/scenario_models.hpp"
#include "core/mcp/mcp_catalog.hpp"
#include "core/detail/toml_reader.hpp"
#include "schemas/errors.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

// The parser catches toml::parse_error; the Debian toml++ build uses exceptions.
static_assert(TOML_EXCEPTIONS, "scenario.cpp expects toml++ with exceptions enabled");

namespace troupe {

using detail::describe;
using detail::in_quotes;
using detail::join;

namespace {

using json = nlohmann::json;
using detail::key_list;

// Always accepted in [agents.X].tools: the runtime, not the tool registry, implements it, so
// the registry's list need not contain it.
constexpr std::string_view complete_tool = "complete";

constexpr const char* reply_kinds = "exactly one of tool_calls, raw_tool_calls, text, error "
                                    "(text may accompany tool_calls or raw_tool_calls)";



template <class Map>
std::string join_keys(const Map& m) {
  std::string out;
  for (const auto& kv : m)
    out += (out.empty() ? "" : ", ") + kv.first;
  return out.empty() ? std::string{"(none)"} : out;
}


// Names of agents and models end up in ids, logs and journal rows, so they are limited to the
// characters of a TOML bare key even when written as quoted keys.
bool is_plain_name(std::string_view s) {
  constexpr std::string_view plain = "abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
  return !s.empty() && s.find_first_not_of(plain) == s.npos;
}

// toml++ describes the token but not the key, so the offending line is quoted to let the operator
// see which setting is broken without opening the file.
std::string syntax_error(std::string_view text, const toml::parse_error& e) {
  size_t begin = 0;
  for (uint32_t line = 1; line < e.source().begin.line && begin != text.npos; ++line)
    if ((begin = text.find('\n', begin)) != text.npos)
      ++begin;
  auto line = begin < text.size() ? text.substr(begin, text.find_first_of("\r\n", begin) - begin)
                                  : std::string_view{};
  std::string quote = line.empty() ? "" : " in `" + std::string{line.substr(0, 80)} + "`";
  return std::string{e.description()} + quote + "; expected valid TOML";
}

/// Walks the parsed TOML tree once, filling `out_`. Each step returns the first problem found:
/// nothing is collected, because the first problem's position is what an editor jumps to.
class scenario_parser : detail::toml_reader {
public:
  scenario_parser(const std::string& source, const std::vector<std::string>& known_tools,
                  scenario& out)
    : toml_reader(source), known_tools_(known_tools), out_(out) {
    // nop
  }

  using toml_reader::fail;

  [[nodiscard]] caf::error parse(const toml::table& root, const std::filesystem::path& base_dir) {
    TROUPE_TRY(check_keys(root, "the top level",
                          {"run", "limits", "workspace", "endpoints", "models", "agents",
                           "script", "policy", "mcp", "delegation", "teams"}));
    const toml::table* run = nullptr;
    TROUPE_TRY(section(root, "run", run));
    if (!run)
      return fail(root.source(), "missing table [run]; expected [run] with agent = \"<name>\"");
    TROUPE_TRY(parse_run(*run));
    TROUPE_TRY(parse_limits(root));
    TROUPE_TRY(parse_workspace(root, base_dir));
    TROUPE_TRY(detail::parse_model_tables(root, source_, out_));
    TROUPE_TRY(detail::parse_mcp_tables(root, source_, base_dir, out_));
    TROUPE_TRY(for_each_named(root, "agents", true, &scenario_parser::parse_agent));
    TROUPE_TRY(detail::parse_delegation(root, source_, out_));
    TROUPE_TRY(detail::parse_teams(root, source_, out_));
    if (out_.team.empty() && out_.agents.count(out_.agent) == 0)
      return fail(run->get("agent")->source(),
                  "'agent' in [run] names unknown agent " + in_quotes(out_.agent)
                    + "; expected one of the agents in [agents]: " + join_keys(out_.agents));
    return parse_scripts(root);
  }

private:
  // -- sections -------------------------------------------------------------------------------

  caf::error parse_run(const toml::table& run) {
    const std::string where = "[run]";
    TROUPE_TRY(check_keys(run, where, {"agent", "team", "task", "tenant", "tier", "verify",
                                       "max_fix_attempts"}));
    TROUPE_TRY(read_string(run, where, "tier", out_.tier));
    if (run.get("tier") && out_.tier != "trivial" && out_.tier != "standard"
        && out_.tier != "complex")
      return fail(run.get("tier")->source(), "unknown tier " + in_quotes(out_.tier)
                                               + " in [run]; expected trivial, standard or "
                                                 "complex");
    TROUPE_TRY(read_string(run, where, "team", out_.team));
    if (run.get("team") && run.get("agent"))
      return fail(run.get("team")->source(), "[run] has both 'agent' and 'team'; expected one: "
                                             "an agent starts the run, or a team does");
    if (!run.get("team"))
      TROUPE_TRY(read_string(run, where, "agent", out_.agent,
                             "the name of the agent that starts the run (or team = \"<name>\")"));
    TROUPE_TRY(read_string(run, where, "task", out_.task));
    TROUPE_TRY(read_string(run, where, "tenant", out_.tenant));
    if (out_.tenant.empty())
      return fail(run.get("tenant")->source(), "'tenant' in [run] is empty; expected a tenant "
                                               "name, or no key for \"default\"");
    return {};
  }

  caf::error parse_limits(const toml::table& root) {
    const toml::table* t = nullptr;
    if (auto err = section(root, "limits", t); err || !t)
      return err;
    TROUPE_TRY(check_keys(*t, "[limits]",
                          {"max_turns", "max_tool_calls", "max_tokens", "deadline_ms",
                           "max_consecutive_errors", "max_parse_failures", "max_cost_usd"}));
    auto& l = out_.limits;
    // A zero budget for turns, calls, tokens or time would end every run before its first step;
    // tolerating zero errors is a meaningful strict mode.
    TROUPE_TRY(read_int(*t, "[limits]", "max_turns", 1, l.max_turns));
    TROUPE_TRY(read_int(*t, "[limits]", "max_tool_calls", 1, l.max_tool_calls));
    TROUPE_TRY(read_int(*t, "[limits]", "max_tokens", 1, l.max_tokens));
    TROUPE_TRY(read_int(*t, "[limits]", "deadline_ms", 1, l.deadline_ms));
    TROUPE_TRY(read_int(*t, "[limits]", "max_consecutive_errors", 0, l.max_consecutive_errors));
    TROUPE_TRY(read_int(*t, "[limits]", "max_parse_failures", 0, l.max_parse_failures));
    double max_cost_usd = 0;
    TROUPE_TRY(read_double(*t, "[limits]", "max_cost_usd", 1e-6, 1e9, max_cost_usd));
    l.max_cost_micro_usd = static_cast<uint64_t>(std::llround(max_cost_usd * 1e6));
    return {};
  }

  caf::error parse_workspace(const toml::table& root, const std::filesystem::path& base_dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    auto base = base_dir.empty() ? fs::current_path(ec) : fs::absolute(base_dir, ec);
    if (ec)
      return fail(root.source(), "cannot resolve the scenario directory "
                                   + in_quotes(base_dir.string()) + " (" + ec.message()
                                   + "); expected an accessible directory");
    std::string root_text = "work";
    const toml::table* t = nullptr;
    TROUPE_TRY(section(root, "workspace", t));
    if (t) {
      TROUPE_TRY(check_keys(*t, "[workspace]", {"root"}));
      TROUPE_TRY(read_string(*t, "[workspace]", "root", root_text));
      if (root_text.empty())
        return fail(t->get("root")->source(),
                    "'root' in [workspace] is empty; expected a directory path");
      // A path is a C string to the kernel: everything after a NUL would be
      // cut off silently, and the tools would work somewhere else.
      if (root_text.find('\0') != std::string::npos)
        return fail(t->get("root")->source(),
                    "'root' in [workspace] contains a NUL character; expected a directory path");
    }
    // operator/ keeps an absolute right-hand side as is.
    auto resolved = (base / root_text).lexically_normal();
    // "work/" and "work" must compare equal in the tools' path-escape checks.
    if (!resolved.has_filename() && resolved != resolved.root_path())
      resolved = resolved.parent_path();
    out_.workspace_root = std::move(resolved);
    return {};
  }

  // Calls `fn` for each [<kind>.<name>] table; `required` rejects an absent or empty section.
  caf::error for_each_named(const toml::table& root, const char* kind, bool required,
                            caf::error (scenario_parser::*fn)(const std::string&,
                                                              const toml::table&)) {
    const toml::table* section_table = nullptr;
    TROUPE_TRY(section(root, kind, section_table));
    if (required && (!section_table || section_table->empty()))
      return fail(section_table ? section_table->source() : root.source(),
                  std::string{"no "} + kind + " defined; expected at least one [" + kind
                    + ".<name>] table");
    if (!section_table)
      return {};
    for (auto&& [key, node] : *section_table) {
      std::string name{key.str()};
      const auto* t = node.as_table();
      if (!t)
        return wrong_type(node, name, "[" + std::string{kind} + "]",
                          "a table [" + std::string{kind} + "." + name + "]");
      if (!is_plain_name(name))
        return fail(key.source(), "name " + in_quotes(name) + " in [" + kind
                                    + "] is not plain; expected letters, digits, '_' or '-'");
      TROUPE_TRY((this->*fn)(name, *t));
    }
    return {};
  }

  caf::error parse_agent(const std::string& name, const toml::table& t) {
    const std::string where = "[agents." + name + "]";
    TROUPE_TRY(check_keys(t, where, {"model", "instructions", "tools", "delegates", "artifact"}));
    agent_config cfg;
    cfg.name = name;
    TROUPE_TRY(read_string(t, where, "model", cfg.model, "the name of a [models.<name>] table"));
    if (out_.models.count(cfg.model) == 0)
      return fail(t.get("model")->source(),
                  "'model' in " + where + " names unknown model " + in_quotes(cfg.model)
                    + "; expected one of the models in [models]: " + join_keys(out_.models));
    TROUPE_TRY(read_string(t, where, "instructions", cfg.instructions));
    const auto* tools_node = t.get("tools");
    if (!tools_node)
      return missing(t, "tools", where, "a list of tool names that includes 'complete'");
    const auto* tools = tools_node->as_array();
    if (!tools)
      return wrong_type(*tools_node, "tools", where, "an array of tool names");
    for (const auto& item : *tools) {
      const auto* tool = item.as_string();
      if (!tool)
        return wrong_type(item, "tools", where, "an array of strings");
      const std::string& tool_name = tool->get();
      // An MCP tool is checked against its server's list when the server starts.
      auto server = mcp_server_of(tool_name);
      if (server && out_.mcp_servers.count(*server) == 0)
        return fail(item.source(), "tool " + in_quotes(tool_name) + " in 'tools' of " + where
                                     + " names MCP server " + in_quotes(*server)
                                     + ", which no [mcp." + *server + "] table declares");
      if (tool_name == verify_tool)
        return fail(item.source(), "tool " + in_quotes(tool_name) + " in 'tools' of " + where
                                     + " is troupe's own; expected a tool agents may call");
      if (!server && tool_name != complete_tool && !contains(known_tools_, tool_name))
        return fail(item.source(), "unknown tool " + in_quotes(tool_name) + " in 'tools' of "
                                     + where + "; expected one of " + tool_list()
                                     + ", or an MCP server's tool as SERVER__tool");
      if (contains(cfg.tools, tool_name))
        return fail(item.source(), "tool " + in_quotes(tool_name) + " listed twice in 'tools' of "
                                     + where + "; expected each tool once");
      cfg.tools.push_back(tool_name);
    }
    TROUPE_TRY(read_strings(t, where, "delegates", cfg.delegates));
    TROUPE_TRY(read_string(t, where, "artifact", cfg.artifact));
    if (t.get("artifact") && leaves_workspace(cfg.artifact))
      return fail(t.get("artifact")->source(),
                  "'artifact' in " + where + " is " + in_quotes(cfg.artifact)
                    + "; expected a path inside the workspace (relative, without '..')");
    if (!contains(cfg.tools, complete_tool))
      return fail(tools_node->source(), "agent " + in_quotes(name)
                                          + " must list the 'complete' tool in 'tools' of "
                                          + where + "; expected it so the agent can end the run");
    out_.agents.emplace(name, std::move(cfg));
    return {};
  }

  std::string tool_list() const {
    std::string out{complete_tool};
    for (const auto& t : known_tools_)
      if (t != complete_tool && t != verify_tool)
        out += ", " + t;
    return out;
  }

  // -- scripts --------------------------------------------------------------------------------

  caf::error parse_scripts(const toml::table& root) {
    const toml::table* script = nullptr;
    if (auto err = section(root, "script", script); err || !script)
      return err;
    for (auto&& [key, node] : *script) {
      std::string agent{key.str()};
      if (out_.agents.count(agent) == 0)
        return fail(key.source(), "script for unknown agent " + in_quotes(agent)
                                    + " in [script]; expected one of the agents in [agents]: "
                                    + join_keys(out_.agents));
      const auto* replies = node.as_array();
      if (!replies)
        return wrong_type(node, agent, "[script]", "an array of tables [[script." + agent + "]]");
      auto& list = out_.scripts[agent];
      for (size_t i = 0; i < replies->size(); ++i) {
        const auto& item = (*replies)[i];
        std::string where = "[[script." + agent + "]] #" + std::to_string(i + 1);
        const auto* t = item.as_table();
        if (!t)
          return fail(item.source(),
                      where + " is " + describe(item.type()) + "; expected a table (a reply)");
        scripted_reply reply;
        TROUPE_TRY(parse_reply(*t, where, reply));
        list.push_back(std::move(reply));
      }
    }
    return {};
  }

  caf::error parse_reply(const toml::table& t, const std::string& where,
                         scripted_reply& out) const {
    TROUPE_TRY(check_keys(t, where, {"tool_calls", "raw_tool_calls", "text", "error", "usage"}));
    const toml::node* kind = nullptr;
    std::string_view kind_name;
    for (std::string_view name : {"tool_calls", "raw_tool_calls", "error"}) {
      const auto* n = t.get(name);
      if (n && kind)
        return fail(n->source(), where + " has both " + in_quotes(kind_name) + " and "
                                   + in_quotes(name) + "; expected " + reply_kinds);
      if (n) {
        kind = n;
        kind_name = name;
      }
    }
    const auto* text = t.get("text");
    if (!kind && !text)
      return fail(t.source(), where + " has no reply; expected " + reply_kinds);
    if (text && kind_name == "error")
      return fail(text->source(),
                  where + " has both 'error' and 'text'; expected " + reply_kinds);
    TROUPE_TRY(read_string(t, where, "text", out.text));
    TROUPE_TRY(parse_usage(t, where, out));
    if (kind_name == "error")
      return parse_failure(*kind, where, out);
    return kind ? parse_tool_calls(*kind, kind_name, where, out) : caf::error{};
  }

  caf::error parse_usage(const toml::table& reply, const std::string& where,
                         scripted_reply& out) const {
    const auto* node = reply.get("usage");
    if (!node)
      return {};
    const auto* t = node->as_table();
    if (!t)
      return wrong_type(*node, "usage", where, "a table like { input = 120, output = 30 }");
    const std::string usage_where = "'usage' of " + where;
    TROUPE_TRY(check_keys(*t, usage_where, {"input", "output"}));
    TROUPE_TRY(read_int(*t, usage_where, "input", 0, out.input_tokens));
    return read_int(*t, usage_where, "output", 0, out.output_tokens);
  }

  caf::error parse_failure(const toml::node& node, const std::string& where,
                           scripted_reply& out) const {
    const auto* str = node.as_string();
    if (!str)
      return wrong_type(node, "error", where, "a string: timeout, rate_limited or server_error");
    for (auto f : {scripted_failure::timeout, scripted_failure::rate_limited,
                   scripted_failure::server_error}) {
      if (str->get() == to_string(f)) {
        out.failure = f;
        return {};
      }
    }
    return fail(node.source(), "unknown error kind " + in_quotes(str->get()) + " in 'error' of "
                                 + where + "; expected one of timeout, rate_limited, server_error");
  }

  caf::error parse_tool_calls(const toml::node& node, std::string_view key,
                              const std::string& where, scripted_reply& out) const {
    const bool raw = key == "raw_tool_calls";
    const auto* calls = node.as_array();
    if (!calls || calls->empty())
      return fail(node.source(), in_quotes(key) + " in " + where + " is "
                                   + (calls ? "empty" : describe(node.type()))
                                   + "; expected an array of tables like { name = \"tool\", "
                                   + (raw ? "args_json = \"{...}\" }" : "args = { ... } }"));
    for (size_t i = 0; i < calls->size(); ++i) {
      const auto& item = (*calls)[i];
      std::string call_where = std::string{key} + "[" + std::to_string(i) + "] of " + where;
      const auto* t = item.as_table();
      if (!t)
        return fail(item.source(), call_where + " is " + describe(item.type())
                                     + "; expected a table with a 'name'");
      scripted_tool_call call;
      TROUPE_TRY(parse_tool_call(*t, raw, call_where, call));
      for (const auto& prev : out.tool_calls)
        if (!call.id.empty() && prev.id == call.id)
          return fail(t->get("id")->source(), "duplicate id " + in_quotes(call.id) + " in "
                                                + call_where + "; expected unique ids");
      out.tool_calls.push_back(std::move(call));
    }
    return {};
  }

  caf::error parse_tool_call(const toml::table& t, bool raw, const std::string& where,
                             scripted_tool_call& out) const {
    TROUPE_TRY(check_keys(t, where, {"id", "name", raw ? "args_json" : "args"}));
    TROUPE_TRY(read_string(t, where, "id", out.id));
    TROUPE_TRY(read_string(t, where, "name", out.name, "a tool name"));
    if (out.name.empty())
      return fail(t.get("name")->source(),
                  "'name' in " + where + " is empty; expected a tool name");
    if (raw)
      return read_string(t, where, "args_json", out.args_json,
                         "the argument text, passed on verbatim");
    const auto* args = t.get("args");
    if (!args) {
      out.args_json = "{}";
      return {};
    }
    if (!args->is_table())
      return wrong_type(*args, "args", where, "a table (it becomes the JSON arguments object)");
    json value;
    TROUPE_TRY(to_json(*args, "'args' of " + where, value));
    // `replace` keeps dump() from throwing; toml++ already rejects invalid UTF-8, so this is a
    // second line of defense only.
    out.args_json = value.dump(-1, ' ', false, json::error_handler_t::replace);
    return {};
  }

  caf::error to_json(const toml::node& node, const std::string& where, json& out) const {
    switch (node.type()) {
      case toml::node_type::table:
        out = json::object();
        for (auto&& [key, value] : *node.as_table())
          TROUPE_TRY(to_json(value, where, out[std::string{key.str()}]));
        return {};
      case toml::node_type::array:
        out = json::array();
        for (const auto& value : *node.as_array())
          TROUPE_TRY(to_json(value, where, out.emplace_back()));
        return {};
      case toml::node_type::string: out = node.as_string()->get(); return {};
      case toml::node_type::integer: out = node.as_integer()->get(); return {};
      case toml::node_type::boolean: out = node.as_boolean()->get(); return {};
      case toml::node_type::floating_point:
        out = node.as_floating_point()->get();
        if (!std::isfinite(out.get<double>()))
          return fail(node.source(), "non-finite number in " + where
                                       + "; expected a finite number (JSON has no nan or inf)");
        return {};
      default: {
        // Dates and times have no JSON type; their TOML spelling is the least surprising string.
        std::ostringstream os;
        if (auto* d = node.as_date())
          os << *d;
        else if (auto* tm = node.as_time())
          os << *tm;
        else if (auto* dt = node.as_date_time())
          os << *dt;
        out = os.str();
        return {};
      }
    }
  }

  const std::vector<std::string>& known_tools_;
  scenario& out_;
};

} // namespace

std::string_view to_string(scripted_failure f) {
  switch (f) {
    case scripted_failure::timeout: return "timeout";
    case scripted_failure::rate_limited: return "rate_limited";
    case scripted_failure::server_error: return "server_error";
    default: return "none";
  }
}

caf::expected<scenario> parse_scenario(std::string_view text, const std::string& source,
                                       const std::filesystem::path& base_dir,
                                       const std::vector<std::string>& known_tools) {
  scenario result;
  result.source = source;
  scenario_parser parser{source, known_tools, result};
  TROUPE_TRY(check_toml_limits(text, source));
  toml::table root;
  try {
    root = toml::parse(text, std::string_view{source});
  } catch (const toml::parse_error& e) {
    return parser.fail(e.source(), syntax_error(text, e));
  }
  TROUPE_TRY(parser.parse(root, base_dir));
  TROUPE_TRY(attach_policy(root, source, base_dir, result));
  return result;
}

caf::expected<scenario> load_scenario(const std::filesystem::path& file,
                                      const std::vector<std::string>& known_tools) {
  const std::string source = file.string();
  auto text = read_text_file(source, "scenario file");
  if (!text)
    return std::move(text.error());
  std::error_code ec;
  auto absolute = std::filesystem::absolute(file, ec);
  if (ec)
    return caf::make_error(runtime_errc::invalid_scenario,
                           source + ": cannot resolve the scenario's directory ("
                             + ec.message() + ")");
  return parse_scenario(*text, source, absolute.parent_path(), known_tools);
}

} // namespace troupe

