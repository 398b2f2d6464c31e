// [teams.NAME], [[run.verify]] and the checks both use
// (docs/scenario-format.md).

#include "core/detail/scenario_team.hpp"

#include <nlohmann/json.hpp>

#include "core/detail/toml_reader.hpp"
#include "core/json_schema.hpp"
#include "core/toml_text.hpp"
#include "core/verification.hpp"
#include "core/workspace.hpp"
#include "schemas/errors.hpp"

namespace troupe::detail {

namespace {

nlohmann::json to_json(const toml::node& n);

nlohmann::json to_json(const toml::table& t) {
  auto out = nlohmann::json::object();
  for (auto&& [k, v] : t)
    out[std::string(k.str())] = to_json(v);
  return out;
}

nlohmann::json to_json(const toml::node& n) {
  if (auto* t = n.as_table())
    return to_json(*t);
  if (auto* a = n.as_array()) {
    auto out = nlohmann::json::array();
    for (auto& x : *a)
      out.push_back(to_json(x));
    return out;
  }
  if (auto* s = n.as_string())
    return s->get();
  if (auto* i = n.as_integer())
    return i->get();
  if (auto* f = n.as_floating_point())
    return f->get();
  if (auto* b = n.as_boolean())
    return b->get();
  return nullptr;
}

class team_parser : toml_reader {
public:
  team_parser(const std::string& source, scenario& out) : toml_reader(source), out_(out) {}

  caf::error parse(const toml::table& root) {
    if (const auto* run = root.get_as<toml::table>("run")) {
      TROUPE_TRY(read_int(*run, "[run]", "max_fix_attempts", 1, out_.max_fix_attempts));
      TROUPE_TRY(read_checks(*run, "[run]", "verify", false, out_.verify));
    }
    const toml::table* teams = nullptr;
    TROUPE_TRY(section(root, "teams", teams));
    if (teams)
      for (auto&& [key, value] : *teams) {
        std::string name{key.str()};
        const auto* t = value.as_table();
        if (!t)
          return wrong_type(value, name, "[teams]", "a table [teams." + name + "]");
        TROUPE_TRY(parse_team(name, *t));
      }
    if (!out_.team.empty() && out_.teams.count(out_.team) == 0) {
      const auto* run = root.get_as<toml::table>("run");
      return fail(run->get("team")->source(), "'team' in [run] names unknown team "
                                                + in_quotes(out_.team)
                                                + "; expected a [teams.<name>] table");
    }
    return {};
  }

private:
  caf::error parse_team(const std::string& name, const toml::table& t) {
    const std::string where = "[teams." + name + "]";
    TROUPE_TRY(check_keys(t, where, {"phases", "max_attempts"}));
    uint32_t max_attempts = 3;
    TROUPE_TRY(read_int(t, where, "max_attempts", 1, max_attempts));
    const auto* node = t.get("phases");
    if (!node)
      return missing(t, "phases", where, "[[teams." + name + ".phases]] tables, in order");
    const auto* phases = node->as_array();
    if (!phases || phases->empty())
      return wrong_type(*node, "phases", where, "a non-empty array of [[teams." + name
                                                  + ".phases]] tables");
    team_config team{name, {}};
    for (auto& item : *phases) {
      const auto* p = item.as_table();
      if (!p)
        return wrong_type(item, "phases", where, "tables");
      team_phase ph;
      ph.max_attempts = max_attempts;
      auto at = where + " phase " + std::to_string(team.phases.size() + 1);
      TROUPE_TRY(check_keys(*p, at, {"name", "role", "task", "gate", "approved_by",
                                     "max_attempts", "skip_if"}));
      TROUPE_TRY(read_string(*p, at, "name", ph.name, "the phase's name"));
      TROUPE_TRY(read_string(*p, at, "role", ph.role, "the agent doing the phase"));
      TROUPE_TRY(read_string(*p, at, "task", ph.task, "what the role must do"));
      TROUPE_TRY(read_int(*p, at, "max_attempts", 1, ph.max_attempts));
      TROUPE_TRY(read_string(*p, at, "approved_by", ph.approver));
      if (out_.agents.count(ph.role) == 0)
        return fail(p->get("role")->source(), "'role' of " + at + " names unknown agent "
                                                + in_quotes(ph.role));
      if (p->get("approved_by") && ph.approver != "person" && out_.agents.count(ph.approver) == 0)
        return fail(p->get("approved_by")->source(),
                    "'approved_by' of " + at + " is " + in_quotes(ph.approver)
                      + "; expected \"person\" or an agent of [agents]");
      for (auto& other : team.phases)
        if (other.name == ph.name)
          return fail(p->get("name")->source(), "phase " + in_quotes(ph.name) + " twice in "
                                                  + where);
      TROUPE_TRY(read_checks(*p, at, "gate", true, ph.gate));
      if (const auto* skip = p->get("skip_if")) {
        const auto* s = skip->as_table();
        if (!s)
          return wrong_type(*skip, "skip_if", at, "a table { first_try, max_files, max_lines }");
        if (team.phases.empty())
          return fail(skip->source(), "'skip_if' of " + at + ": the first phase has no phase "
                                                              "before it to judge by");
        skip_rule rule;
        TROUPE_TRY(check_keys(*s, at + " skip_if", {"first_try", "max_files", "max_lines"}));
        TROUPE_TRY(read_bool(*s, at + " skip_if", "first_try", rule.first_try));
        TROUPE_TRY(read_int(*s, at + " skip_if", "max_files", 0, rule.max_files));
        TROUPE_TRY(read_int(*s, at + " skip_if", "max_lines", 0, rule.max_lines));
        ph.skip_if = rule;
      }
      team.phases.push_back(std::move(ph));
    }
    out_.teams.emplace(name, std::move(team));
    return {};
  }

  // `key`: an array of inline tables, one check each.
  caf::error read_checks(const toml::table& t, const std::string& where, std::string_view key,
                         bool gate, std::vector<gate_check>& out) {
    const auto* node = t.get(key);
    if (!node)
      return {};
    const auto* list = node->as_array();
    if (!list)
      return wrong_type(*node, key, where, "an array of check tables");
    for (auto& item : *list) {
      const auto* c = item.as_table();
      if (!c)
        return wrong_type(item, key, where, "check tables { kind = ..., ... }");
      auto at = in_quotes(key) + " of " + where;
      TROUPE_TRY(check_keys(*c, at, {"name", "kind", "path", "argv", "schema"}));
      gate_check x;
      TROUPE_TRY(read_string(*c, at, "kind", x.kind,
                             "file_exists, command_succeeds, test_passes or json_matches"));
      if (!valid_check_kind(x.kind) || x.kind == "approved_by")
        return fail(c->get("kind")->source(),
                    "unknown check kind " + in_quotes(x.kind) + " in " + at
                      + "; expected file_exists, command_succeeds, test_passes or json_matches"
                      + (gate ? " (an approval is the phase's approved_by)" : ""));
      TROUPE_TRY(read_string(*c, at, "name", x.name));
      if (x.name.empty())
        x.name = x.kind + " " + std::to_string(out.size() + 1);
      bool file = x.kind == "file_exists" || x.kind == "json_matches";
      if (file) {
        TROUPE_TRY(read_string(*c, at, "path", x.path, "a workspace-relative path"));
        if (x.path.empty() || leaves_workspace(x.path))
          return fail(c->get("path")->source(), "'path' in " + at + " is " + in_quotes(x.path)
                                                  + "; expected a path inside the workspace");
      } else {
        TROUPE_TRY(read_strings(*c, at, "argv", x.argv));
        if (x.argv.empty())
          return missing(*c, "argv", at, "the command, as an array of strings");
      }
      if (x.kind == "json_matches") {
        const auto* schema = c->get("schema");
        if (!schema || !schema->is_table())
          return missing(*c, "schema", at, "a JSON Schema, as a table");
        auto doc = to_json(*schema->as_table());
        if (auto err = check_schema(doc))
          return fail(schema->source(), "'schema' in " + at + ": " + render(err));
        x.schema = doc.dump();
      }
      out.push_back(std::move(x));
    }
    return {};
  }

  scenario& out_;
};

} // namespace

caf::error parse_teams(const toml::table& root, const std::string& source, scenario& out) {
  return team_parser{source, out}.parse(root);
}

} // namespace troupe::detail
