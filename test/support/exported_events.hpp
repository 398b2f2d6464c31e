#pragma once
// A run's events as `troupe export` writes them (JSON lines), for CLI tests.

#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "test/support/run_command.hpp"

namespace troupe::test {

/// The events of `run_id` in journal `db`, exported by the binary `troupe`.
inline std::vector<nlohmann::json> exported_events(const std::string& troupe,
                                                   const std::string& run_id,
                                                   const std::string& db) {
  auto out = run_command({troupe, "export", run_id, "--db", db});
  BOOST_REQUIRE_MESSAGE(out.exit_code == 0, out.err);
  std::vector<nlohmann::json> events;
  std::istringstream in(out.out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      events.push_back(nlohmann::json::parse(line));
  return events;
}

/// The bodies of the events of `kind`, in order.
inline std::vector<nlohmann::json> of_kind(const std::vector<nlohmann::json>& events,
                                           const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (auto& e : events)
    if (e["kind"] == kind)
      out.push_back(e[kind]);
  return out;
}

} // namespace troupe::test
