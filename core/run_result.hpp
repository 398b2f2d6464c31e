#pragma once

#include <string>
#include <vector>

#include "schemas/event.hpp"

namespace troupe {

/// The end of a run as its caller sees it.
struct run_result {
  std::string run_id;
  run_status status = run_status::failed;
  std::string answer;
  std::string summary;
  std::string reason; ///< the limit or failure that ended the run, if any
  kpis totals;
  uint32_t verification_attempts = 0; ///< runs of the task's checks
  std::vector<artifact> artifacts;    ///< files the run produced (journaled)
};

} // namespace troupe
