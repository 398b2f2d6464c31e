#include "core/jobs/job.hpp"

#include <array>
#include <utility>

namespace troupe::jobs {

namespace {

// One string table per enum: the store, the API and the CLI all read these.
constexpr std::array<std::pair<job_status, std::string_view>, 8> status_names{{
  {job_status::accepted, "accepted"},
  {job_status::queued, "queued"},
  {job_status::running, "running"},
  {job_status::completed, "completed"},
  {job_status::failed, "failed"},
  {job_status::canceled, "canceled"},
  {job_status::expired, "expired"},
  {job_status::dead, "dead"},
}};

constexpr std::array<std::pair<job_priority, std::string_view>, 3> priority_names{{
  {job_priority::high, "high"},
  {job_priority::normal, "normal"},
  {job_priority::low, "low"},
}};

constexpr std::array<std::pair<role, std::string_view>, 4> role_names{{
  {role::viewer, "viewer"},
  {role::submitter, "submitter"},
  {role::operator_, "operator"},
  {role::admin, "admin"},
}};

template <class Enum, size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& table,
                         Enum e) {
  for (auto& [k, v] : table)
    if (k == e)
      return v;
  return "unknown";
}

template <class Enum, size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& table,
                             std::string_view name) {
  for (auto& [k, v] : table)
    if (v == name)
      return k;
  return std::nullopt;
}

} // namespace

std::string_view to_string(job_status s) {
  return name_of(status_names, s);
}

std::optional<job_status> job_status_from(std::string_view s) {
  return value_of(status_names, s);
}

bool is_final(job_status s) {
  switch (s) {
    case job_status::completed:
    case job_status::failed:
    case job_status::canceled:
    case job_status::expired:
    case job_status::dead:
      return true;
    case job_status::accepted:
    case job_status::queued:
    case job_status::running:
      return false;
  }
  return false;
}

std::string_view to_string(job_priority p) {
  return name_of(priority_names, p);
}

std::optional<job_priority> job_priority_from(std::string_view s) {
  return value_of(priority_names, s);
}

std::string_view to_string(role r) {
  return name_of(role_names, r);
}

std::optional<role> role_from(std::string_view s) {
  return value_of(role_names, s);
}

} // namespace troupe::jobs
