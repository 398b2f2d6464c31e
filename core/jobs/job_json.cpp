#include "core/jobs/job_json.hpp"

#include <algorithm>
#include <set>

#include "core/envelope.hpp"
#include "core/jobs/utc_time.hpp"
#include "core/providers/detail/wire_json.hpp"
#include "core/runtime_errc.hpp"
#include "schemas/errors.hpp"

namespace troupe::jobs {

namespace {

using providers::detail::parse_message;
using providers::detail::type_name;
using body_json = providers::detail::json;

// The bodies are flat (an object holding strings and one array of strings):
// anything deeper is refused before it is parsed.
constexpr int max_body_depth = 8;

struct duplicate_key {
  std::string key;
};

caf::error invalid(std::string what) {
  return caf::make_error(runtime_errc::invalid_arguments, std::move(what));
}

// A client's value echoed in an error, short and printable.
std::string shown(std::string_view s) {
  return "\"" + escape_unprintable(s, 80) + "\"";
}

// nlohmann keeps one of two equal keys silently; a body that says two
// things is refused instead, so no reader can take the other one.
caf::expected<body_json> parse_object(std::string_view body) {
  if (!providers::detail::within_depth(body, max_body_depth))
    return invalid("body: nested deeper than " + std::to_string(max_body_depth) + " levels");
  std::vector<std::set<std::string>> open;
  auto check_keys = [&](int, body_json::parse_event_t ev, body_json& parsed) {
    using pe = body_json::parse_event_t;
    if (ev == pe::object_start)
      open.emplace_back();
    else if (ev == pe::object_end && !open.empty())
      open.pop_back();
    else if (ev == pe::key && !open.empty()
             && !open.back().insert(parsed.get<std::string>()).second)
      throw duplicate_key{parsed.get<std::string>()};
    return true;
  };
  body_json j;
  try {
    j = body_json::parse(body.begin(), body.end(), check_keys);
  } catch (const duplicate_key& d) {
    return invalid("body: the key " + shown(d.key) + " appears twice");
  } catch (const body_json::exception& e) {
    return invalid("body is not JSON: " + parse_message(e));
  }
  if (!j.is_object())
    return invalid(std::string{"body: expected a JSON object, got "} + type_name(j));
  return j;
}

caf::error refuse_unknown(const body_json& j, std::initializer_list<std::string_view> known) {
  for (auto& [key, value] : j.items()) {
    (void)value;
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (auto k : known)
        list += (list.empty() ? "" : ", ") + std::string{k};
      return invalid("unknown field " + shown(key) + " (the fields are: " + list + ")");
    }
  }
  return {};
}

// The member `key`, or nullptr when absent or null (an optional field).
const body_json* member(const body_json& j, const char* key) {
  auto i = j.find(key);
  return i == j.end() || i->is_null() ? nullptr : &*i;
}

caf::expected<std::string> string_field(const body_json& j, const char* key, bool required) {
  auto v = member(j, key);
  if (!v) {
    if (required)
      return invalid(std::string{key} + ": required");
    return std::string{};
  }
  if (!v->is_string())
    return invalid(std::string{key} + ": expected a string, got " + type_name(*v));
  return v->get<std::string>();
}

bool is_name_char(char c, std::string_view extra) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || extra.find(c) != std::string_view::npos;
}

bool all_of_chars(std::string_view s, std::string_view extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) { return is_name_char(c, extra); });
}

caf::error check_task(const std::string& task) {
  if (task.empty())
    return invalid("task: must not be empty");
  if (task.size() > max_task_bytes)
    return invalid("task: " + std::to_string(task.size()) + " bytes, more than the "
                   + std::to_string(max_task_bytes) + " allowed");
  if (auto nul = task.find('\0'); nul != std::string::npos)
    return invalid("task: contains a NUL character at byte " + std::to_string(nul));
  return {};
}

caf::expected<job_priority> priority_field(const body_json& j) {
  auto text = string_field(j, "priority", false);
  if (!text)
    return std::move(text.error());
  if (text->empty() && !member(j, "priority"))
    return job_priority::normal;
  if (auto p = job_priority_from(*text))
    return *p;
  return invalid("priority: expected one of \"high\", \"normal\", \"low\", got " + shown(*text));
}

caf::expected<uint64_t> deadline_field(const body_json& j) {
  auto v = member(j, "deadline_ms");
  if (!v)
    return uint64_t{0};
  auto range = "an integer from 1 to " + std::to_string(max_deadline_ms) + " (7 days)";
  if (v->is_number_unsigned()) {
    auto ms = v->get<uint64_t>();
    if (ms >= 1 && ms <= max_deadline_ms)
      return ms;
    return invalid("deadline_ms: " + std::to_string(ms) + " is out of range: expected " + range);
  }
  if (v->is_number_integer())
    return invalid("deadline_ms: " + std::to_string(v->get<int64_t>())
                   + " is out of range: expected " + range);
  return invalid("deadline_ms: expected " + range + ", got "
                 + (v->is_number_float() ? std::string{"a fractional or too large number"}
                                         : std::string{type_name(*v)}));
}

caf::expected<std::vector<std::string>> labels_field(const body_json& j) {
  std::vector<std::string> out;
  auto v = member(j, "labels");
  if (!v)
    return out;
  if (!v->is_array())
    return invalid(std::string{"labels: expected an array of strings, got "} + type_name(*v));
  if (v->size() > max_labels)
    return invalid("labels: " + std::to_string(v->size()) + " labels, more than the "
                   + std::to_string(max_labels) + " allowed");
  for (size_t i = 0; i < v->size(); ++i) {
    auto& l = (*v)[i];
    auto where = "labels[" + std::to_string(i) + "]";
    if (!l.is_string())
      return invalid(where + ": expected a string, got " + type_name(l));
    auto text = l.get<std::string>();
    if (!valid_label(text))
      return invalid(where + ": " + shown(text) + " is not a label: 1 to "
                     + std::to_string(max_label_bytes)
                     + " characters of A-Z a-z 0-9 _ . : = -");
    if (std::find(out.begin(), out.end(), text) != out.end())
      return invalid(where + ": " + shown(text) + " appears twice");
    out.push_back(std::move(text));
  }
  return out;
}

nlohmann::json instant(int64_t us) {
  return us == 0 ? nlohmann::json(nullptr) : nlohmann::json(rfc3339_utc(us));
}

} // namespace

bool valid_scenario_name(std::string_view name) {
  return !name.empty() && name.size() <= max_scenario_name && all_of_chars(name, "_.-");
}

bool valid_label(std::string_view label) {
  return !label.empty() && label.size() <= max_label_bytes && all_of_chars(label, "_.:=-");
}

nlohmann::json to_json(const job& j) {
  return {
    {"job_id", j.job_id},
    {"run_id", j.run_id},
    {"status", to_string(j.status)},
    {"scenario", j.scenario},
    {"task", j.task},
    {"priority", to_string(j.priority)},
    {"labels", j.labels},
    {"tenant", j.tenant},
    {"submitted", rfc3339_utc(j.submitted_us)},
    {"submitted_us", j.submitted_us},
    {"started", instant(j.started_us)},
    {"started_us", j.started_us},
    {"ended", instant(j.ended_us)},
    {"ended_us", j.ended_us},
    {"deadline", instant(j.deadline_us)},
    {"deadline_us", j.deadline_us},
    {"not_before", instant(j.not_before_us)},
    {"not_before_us", j.not_before_us},
    {"attempts", j.attempts},
    {"sla_breached", j.sla_breached},
    {"error", j.error},
  };
}

caf::expected<submission> parse_submission(std::string_view body) {
  auto j = parse_object(body);
  if (!j)
    return std::move(j.error());
  TROUPE_TRY(refuse_unknown(*j, {"scenario", "task", "priority", "deadline_ms", "labels"}));
  submission s;
  auto scenario = string_field(*j, "scenario", true);
  if (!scenario)
    return std::move(scenario.error());
  if (!valid_scenario_name(*scenario))
    return invalid("scenario: " + shown(*scenario) + " is not a scenario name: 1 to "
                   + std::to_string(max_scenario_name)
                   + " characters of A-Z a-z 0-9 _ . -");
  s.scenario = std::move(*scenario);
  auto task = string_field(*j, "task", true);
  if (!task)
    return std::move(task.error());
  TROUPE_TRY(check_task(*task));
  s.task = std::move(*task);
  auto priority = priority_field(*j);
  if (!priority)
    return std::move(priority.error());
  s.priority = *priority;
  auto deadline = deadline_field(*j);
  if (!deadline)
    return std::move(deadline.error());
  s.deadline_ms = *deadline;
  auto labels = labels_field(*j);
  if (!labels)
    return std::move(labels.error());
  s.labels = std::move(*labels);
  return s;
}

caf::expected<approval_answer> parse_decision(std::string_view body) {
  auto j = parse_object(body);
  if (!j)
    return std::move(j.error());
  TROUPE_TRY(refuse_unknown(*j, {"decision", "reason"}));
  auto decision = string_field(*j, "decision", true);
  if (!decision)
    return std::move(decision.error());
  if (*decision != "approve" && *decision != "deny")
    return invalid("decision: expected \"approve\" or \"deny\", got " + shown(*decision));
  auto reason = string_field(*j, "reason", false);
  if (!reason)
    return std::move(reason.error());
  if (reason->size() > max_reason_bytes)
    return invalid("reason: " + std::to_string(reason->size()) + " bytes, more than the "
                   + std::to_string(max_reason_bytes) + " allowed");
  return approval_answer{*decision == "approve", std::move(*reason)};
}

} // namespace troupe::jobs
