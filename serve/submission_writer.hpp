#pragma once
// Makes submissions durable in batches: every job accepted while the
// previous commit was running goes into the next one (group commit), so a
// burst of submissions pays one fsync, not one each. A client hears `202`
// only after its job's commit: an acknowledged job survives kill -9.

#include <functional>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "persistence/job_store.hpp"

namespace troupe::serve {

using submission_done = std::function<void(caf::expected<persistence::inserted_job>)>;

class submission_writer {
public:
  [[nodiscard]] static caf::expected<std::unique_ptr<submission_writer>>
  start(const std::string& db_path);
  /// Commits what is queued, then stops.
  ~submission_writer();
  submission_writer(const submission_writer&) = delete;
  submission_writer& operator=(const submission_writer&) = delete;

  /// Queues `j`; `done` runs on the writer's thread once it is durable (or
  /// failed), with the stored job or, for a repeated idempotency key, the
  /// job submitted first.
  void submit(jobs::job j, submission_done done);

private:
  struct impl;
  explicit submission_writer(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::serve
