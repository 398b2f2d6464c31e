#pragma once

#include <string>

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
};

} // namespace troupe
