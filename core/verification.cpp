#include "core/verification.hpp"

#include <nlohmann/json.hpp>

#include "core/event_summary.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

bool runs_a_command(const gate_check& c) {
  return c.kind == "command_succeeds" || c.kind == "test_passes";
}

} // namespace

bool valid_check_kind(std::string_view kind) {
  return kind == "file_exists" || kind == "command_succeeds" || kind == "test_passes"
         || kind == "json_matches" || kind == "approved_by";
}

json verify_request(const std::vector<gate_check>& checks, const policy& governance,
                    const std::string& agent, const std::string& tenant) {
  json list = json::array();
  for (auto& c : checks) {
    if (c.kind == "approved_by")
      continue;
    json item = {{"name", c.name}, {"kind", c.kind}};
    if (!c.path.empty())
      item["path"] = c.path;
    if (!c.schema.empty())
      item["schema"] = c.schema;
    if (runs_a_command(c)) {
      item["argv"] = c.argv;
      auto verdict = decide(governance, call_context{"shell", json{{"argv", c.argv}}, agent, "",
                                                     tenant});
      if (verdict.decision != decision_kind::allow)
        item["denied"] = "not allowed by rule " + verdict.rule_id + ": " + verdict.reason;
    }
    list.push_back(std::move(item));
  }
  return json{{"checks", std::move(list)}};
}

verification verification_of(uint32_t attempt, const std::vector<gate_check>& checks, bool tool_ok,
                             const std::string& output) {
  verification v;
  v.attempt = attempt;
  auto doc = json::parse(output, nullptr, false);
  auto results = doc.is_object() ? doc.find("results") : doc.end();
  if (!tool_ok || doc.is_discarded() || !doc.is_object() || results == doc.end()
      || !results->is_array()) {
    for (auto& c : checks)
      if (c.kind != "approved_by")
        v.results.push_back({c.name, c.kind, false, "the checks did not run: " + one_line(output, 300)});
    return v;
  }
  auto str = [](const json& o, const char* key) {
    auto i = o.find(key);
    return i != o.end() && i->is_string() ? i->get<std::string>() : std::string{};
  };
  auto num = [](const json& o, const char* key) {
    auto i = o.find(key);
    return i != o.end() && i->is_number_unsigned() ? i->get<uint64_t>() : uint64_t{0};
  };
  for (auto& r : *results) {
    if (!r.is_object())
      continue;
    auto ok = r.find("ok");
    v.results.push_back({str(r, "name"), str(r, "kind"), ok != r.end() && ok->is_boolean() && ok->get<bool>(),
                         str(r, "output"), str(r, "sha256"), num(r, "bytes"), num(r, "lines")});
  }
  v.passed = !v.results.empty();
  for (auto& r : v.results)
    v.passed = v.passed && r.ok;
  return v;
}

std::string verification_report(const verification& v) {
  std::string out = "attempt " + std::to_string(v.attempt) + (v.passed ? " passed" : " failed");
  for (auto& r : v.results) {
    out += "\n  [" + std::string(r.ok ? "ok" : "failed") + "] " + r.name + " (" + r.kind + ")";
    if (!r.ok && !r.output.empty())
      out += ": " + one_line(r.output, 400);
  }
  return out;
}

std::string fix_turn_text(const std::string& report, uint32_t attempt, uint32_t max_attempts) {
  return "You called `complete`, but the checks of your task failed (" + report
         + "\n). Fix what they report, then call `complete` again. Attempt "
         + std::to_string(attempt) + " of " + std::to_string(max_attempts) + " is used.";
}

std::optional<artifact> artifact_of(const verification& v, const std::string& path,
                                    const std::string& role, const std::string& phase) {
  for (auto& r : v.results)
    if (r.kind == "file_exists" && r.ok && r.name == "artifact")
      return artifact{path, r.sha256, r.bytes, r.lines, role, phase};
  return std::nullopt;
}

gate_check artifact_check(const std::string& path) {
  return gate_check{"artifact", "file_exists", path, {}, "", ""};
}

} // namespace troupe
