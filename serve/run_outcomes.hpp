#pragma once
// How a job's run went, read back from the journal for the job dispatcher:
// whether the run exists, how it ended, and what its model last failed
// with (which tells an unreachable endpoint from the agent's own failure,
// core/jobs/job_retry.hpp). A read-only connection of its own, used by one
// thread at a time (recovery, then the dispatcher thread).

#include <string>

#include <caf/expected.hpp>

#include "persistence/store.hpp"

namespace troupe::serve {

class run_outcomes {
public:
  [[nodiscard]] static caf::expected<run_outcomes> open(const std::string& db_path);

  /// The run's row; store_errc::unknown_run when it never reached the journal.
  [[nodiscard]] caf::expected<persistence::run_info> find(const std::string& run_id);
  /// The reason its completion gives ("" when unreadable).
  [[nodiscard]] std::string completion_reason(const std::string& run_id);
  /// The failure of its last failed model reply ("" when it had none or the
  /// journal cannot say).
  [[nodiscard]] std::string last_model_failure(const std::string& run_id);

private:
  explicit run_outcomes(persistence::store journal) : journal_(std::move(journal)) {}
  persistence::store journal_;
};

} // namespace troupe::serve
