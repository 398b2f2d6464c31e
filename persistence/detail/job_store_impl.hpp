#pragma once
// job_store's connection and prepared statements (job_store.cpp, job_list.cpp).

#include <memory>
#include <optional>
#include <string_view>

#include <caf/expected.hpp>

#include "core/jobs/job.hpp"
#include "persistence/detail/side_connection.hpp"
#include "persistence/job_store.hpp"

namespace troupe::persistence {

struct job_store::impl {
  // The connection first: members are destroyed in reverse, so the
  // statements are finalized before it closes.
  std::unique_ptr<detail::side_connection> c;
  detail::statement insert_job;
  detail::statement find_by_key;
  detail::statement find_by_job;
  detail::statement find_by_run;
  detail::statement compare_and_set;

  [[nodiscard]] caf::error prepare();
  [[nodiscard]] caf::error insert_row(const jobs::job& j);

  /// The one row `st` (bound) selects with job_columns, if any; resets `st`.
  [[nodiscard]] caf::expected<std::optional<jobs::job>> one(detail::statement& st,
                                                            std::string_view doing);

  /// Every row `st` (bound) selects with job_columns.
  [[nodiscard]] caf::expected<std::vector<jobs::job>> all(detail::statement& st,
                                                          std::string_view doing);
};

} // namespace troupe::persistence
