// [mcp.NAME] of a scenario (docs/scenario-format.md): how to reach one MCP
// server, which of its tools agents see, and what its sandbox holds.

#include "core/detail/scenario_mcp.hpp"

#include "core/detail/toml_reader.hpp"
#include "core/glob.hpp"
#include "core/mcp/mcp_catalog.hpp"
#include "schemas/errors.hpp"

namespace troupe::detail {

namespace {

const key_vector mcp_keys = {"command",    "url",          "env",
                             "secrets",    "tools",        "read_only",
                             "bearer_secret", "startup_timeout_ms", "call_timeout_ms",
                             "memory_mb",  "cpu_seconds",  "processes",
                             "open_files", "tmp_mb"};

std::string expand_workspace(std::string text, const std::string& workspace) {
  static const std::string token = "${workspace}";
  for (auto at = text.find(token); at != std::string::npos;
       at = text.find(token, at + workspace.size()))
    text.replace(at, token.size(), workspace);
  return text;
}

class mcp_tables_parser : toml_reader {
public:
  mcp_tables_parser(const std::string& source, const std::filesystem::path& base_dir,
                    scenario& out)
    : toml_reader(source), base_dir_(absolute_dir(base_dir)), out_(out) {}

  caf::error parse(const toml::table& root) {
    const toml::table* section_table = nullptr;
    if (auto err = section(root, "mcp", section_table); err || !section_table)
      return err;
    for (auto&& [key, value] : *section_table) {
      std::string name{key.str()};
      const auto* t = value.as_table();
      if (!t)
        return wrong_type(value, name, "[mcp]", "a table [mcp." + name + "]");
      if (!valid_mcp_server_name(name))
        return fail(key.source(), "server name " + in_quotes(name)
                                    + " in [mcp] is not 1 to 32 letters, digits or '-'; "
                                      "expected a name without '_' (tools are NAME__tool)");
      TROUPE_TRY(parse_server(name, *t));
    }
    return {};
  }

private:
  caf::error parse_server(const std::string& name, const toml::table& t) {
    const std::string where = "[mcp." + name + "]";
    TROUPE_TRY(check_keys(t, where, mcp_keys));
    mcp_server_config s;
    s.name = name;
    auto workspace = out_.workspace_root.string();
    TROUPE_TRY(read_strings(t, where, "command", s.command));
    TROUPE_TRY(read_string(t, where, "url", s.url));
    if (s.command.empty() == s.url.empty())
      return fail(t.source(), where + " needs exactly one of 'command' (a stdio server's argv) "
                                      "and 'url' (a Streamable HTTP endpoint)");
    for (auto& arg : s.command)
      arg = expand_workspace(arg, workspace);
    // A program named by a relative path is the scenario's (like a relative
    // workspace root); a bare name is looked up in the sandbox's PATH.
    if (!s.command.empty() && s.command[0].find('/') != std::string::npos
        && s.command[0][0] != '/')
      s.command[0] = (base_dir_ / s.command[0]).lexically_normal().string();
    if (!s.url.empty() && s.url.rfind("http://", 0) != 0 && s.url.rfind("https://", 0) != 0)
      return fail(t.get("url")->source(), "'url' in " + where + " is " + in_quotes(s.url)
                                            + "; expected an http:// or https:// URL");
    TROUPE_TRY(parse_env(t, where, workspace, s));
    TROUPE_TRY(read_strings(t, where, "secrets", s.secrets));
    TROUPE_TRY(read_strings(t, where, "tools", s.tools));
    if (!t.get("tools"))
      return missing(t, "tools", where, "globs over the server's tool names agents may see, "
                                        "e.g. [\"*\"] or [\"read_*\"]");
    for (auto& pattern : s.tools)
      if (auto err = check_glob(pattern, glob_kind::name))
        return fail(t.get("tools")->source(), "tool pattern " + in_quotes(pattern) + " in "
                                                + where + ": " + render(err));
    std::vector<std::string> read_only;
    TROUPE_TRY(read_strings(t, where, "read_only", read_only));
    for (auto& p : read_only) {
      std::filesystem::path path = expand_workspace(p, workspace);
      s.read_only.push_back(path.is_absolute() ? path.lexically_normal()
                                               : (base_dir_ / path).lexically_normal());
    }
    TROUPE_TRY(read_string(t, where, "bearer_secret", s.bearer_secret));
    if (!s.bearer_secret.empty() && !contains(s.secrets, s.bearer_secret))
      return fail(t.get("bearer_secret")->source(),
                  "'bearer_secret' in " + where + " names " + in_quotes(s.bearer_secret)
                    + ", which 'secrets' does not list; expected one of the server's secrets");
    if (!s.url.empty())
      for (const char* stdio_only : {"env", "read_only", "memory_mb", "cpu_seconds", "processes",
                                     "open_files", "tmp_mb"})
        if (t.get(stdio_only))
          return fail(t.get(stdio_only)->source(), in_quotes(stdio_only) + " in " + where
                                                     + " is for stdio servers ('command')");
    TROUPE_TRY(read_int(t, where, "startup_timeout_ms", 1, s.startup_timeout_ms));
    TROUPE_TRY(read_int(t, where, "call_timeout_ms", 1, s.call_timeout_ms));
    uint64_t memory_mb = s.limits.address_space_bytes / sandbox_mib;
    uint64_t tmp_mb = s.limits.tmp_bytes / sandbox_mib;
    TROUPE_TRY(read_int(t, where, "memory_mb", 64, memory_mb));
    TROUPE_TRY(read_int(t, where, "tmp_mb", 1, tmp_mb));
    TROUPE_TRY(read_int(t, where, "cpu_seconds", 1, s.limits.cpu_seconds));
    TROUPE_TRY(read_int(t, where, "processes", 1, s.limits.processes));
    TROUPE_TRY(read_int(t, where, "open_files", 16, s.limits.open_files));
    s.limits.address_space_bytes = memory_mb * sandbox_mib;
    s.limits.tmp_bytes = tmp_mb * sandbox_mib;
    out_.mcp_servers.emplace(name, std::move(s));
    return {};
  }

  caf::error parse_env(const toml::table& t, const std::string& where,
                       const std::string& workspace, mcp_server_config& s) {
    const auto* node = t.get("env");
    if (!node)
      return {};
    const auto* env = node->as_table();
    if (!env)
      return wrong_type(*node, "env", where, "a table of strings, e.g. env = { LOG = \"1\" }");
    for (auto&& [key, value] : *env) {
      std::string name{key.str()};
      if (name.empty() || name.find('=') != std::string::npos)
        return fail(key.source(), "environment name " + in_quotes(name) + " in " + where
                                    + " is empty or has '='");
      const auto* str = value.as_string();
      if (!str)
        return wrong_type(value, name, where + ".env", "a string");
      s.env.emplace(name, expand_workspace(str->get(), workspace));
    }
    return {};
  }

  static std::filesystem::path absolute_dir(const std::filesystem::path& dir) {
    std::error_code ec; // parse_workspace already reported an unresolvable one
    auto abs = std::filesystem::absolute(dir, ec);
    return ec ? dir : abs;
  }

  std::filesystem::path base_dir_;
  scenario& out_;
};

} // namespace

caf::error parse_mcp_tables(const toml::table& root, const std::string& source,
                            const std::filesystem::path& base_dir, scenario& out) {
  return mcp_tables_parser{source, base_dir, out}.parse(root);
}

} // namespace troupe::detail
