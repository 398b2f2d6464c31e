// [delegation] and the agents' `delegates` (docs/scenario-format.md).

#include "core/detail/scenario_delegation.hpp"

#include <algorithm>

#include "core/delegation.hpp"
#include "core/detail/toml_reader.hpp"
#include "core/toml_text.hpp"
#include "schemas/errors.hpp"

namespace troupe::detail {

namespace {

class delegation_parser : toml_reader {
public:
  delegation_parser(const std::string& source, scenario& out)
    : toml_reader(source), out_(out) {}

  caf::error parse(const toml::table& root) {
    TROUPE_TRY(parse_table(root));
    const toml::table* agents = nullptr;
    TROUPE_TRY(section(root, "agents", agents));
    for (auto& [name, agent] : out_.agents)
      TROUPE_TRY(check_agent(agent, *agents->get(name)->as_table()));
    return {};
  }

private:
  caf::error parse_table(const toml::table& root) {
    const toml::table* t = nullptr;
    if (auto err = section(root, "delegation", t); err || !t)
      return err;
    const std::string where = "[delegation]";
    TROUPE_TRY(check_keys(*t, where, {"max_depth", "max_children", "max_runs",
                                      "children_on_end"}));
    auto& l = out_.limits;
    TROUPE_TRY(read_int(*t, where, "max_depth", 0, l.max_depth));
    TROUPE_TRY(read_int(*t, where, "max_children", 1, l.max_children));
    uint32_t max_runs = l.max_descendants + 1;
    TROUPE_TRY(read_int(*t, where, "max_runs", 1, max_runs));
    l.max_descendants = max_runs - 1;
    TROUPE_TRY(read_string(*t, where, "children_on_end", out_.children_on_end));
    if (out_.children_on_end != "cancel" && out_.children_on_end != "wait")
      return fail(t->get("children_on_end")->source(),
                  "unknown children_on_end " + in_quotes(out_.children_on_end) + " in " + where
                    + "; expected \"cancel\" or \"wait\"");
    return {};
  }

  caf::error check_agent(agent_config& agent, const toml::table& t) {
    const std::string where = "[agents." + agent.name + "]";
    auto listed = std::find(agent.tools.begin(), agent.tools.end(), delegate_tool);
    if (agent.delegates.empty()) {
      if (listed != agent.tools.end())
        return fail(t.get("tools")->source(),
                    "agent " + in_quotes(agent.name) + " lists 'delegate' in 'tools' of " + where
                      + " but no 'delegates'; expected delegates = [\"<agent>\", ...]");
      return {};
    }
    const auto& node = *t.get("delegates");
    for (auto& target : agent.delegates) {
      if (out_.agents.count(target) == 0)
        return fail(node.source(), "'delegates' of " + where + " names unknown agent "
                                     + in_quotes(target)
                                     + "; expected agents of [agents]: " + agent_names());
      if (std::count(agent.delegates.begin(), agent.delegates.end(), target) > 1)
        return fail(node.source(), "agent " + in_quotes(target) + " listed twice in 'delegates' of "
                                     + where);
    }
    if (listed == agent.tools.end())
      agent.tools.emplace_back(delegate_tool);
    return {};
  }

  std::string agent_names() const {
    std::vector<std::string> names;
    for (auto& kv : out_.agents)
      names.push_back(kv.first);
    return join(names);
  }

  scenario& out_;
};

} // namespace

caf::error parse_delegation(const toml::table& root, const std::string& source,
                            scenario& out) {
  return delegation_parser{source, out}.parse(root);
}

} // namespace troupe::detail
