#include "persistence/job_store.hpp"

#include "persistence/detail/job_codes.hpp"
#include "persistence/detail/job_rows.hpp"
#include "persistence/detail/job_store_impl.hpp"

namespace troupe::persistence {

namespace {

caf::error check_submission(const jobs::job& j, size_t index) {
  const char* missing = j.job_id.empty()     ? "job_id"
                        : j.run_id.empty()   ? "run_id"
                        : j.tenant.empty()   ? "tenant"
                        : j.scenario.empty() ? "scenario"
                                             : nullptr;
  if (missing == nullptr)
    return {};
  return caf::make_error(store_errc::invalid_argument,
                         "job " + std::to_string(index) + " of the batch ("
                           + (j.job_id.empty() ? std::string("no id") : j.job_id)
                           + ") has no " + missing + "; nothing was stored");
}

} // namespace

job_store::job_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
job_store::job_store(job_store&&) noexcept = default;
job_store& job_store::operator=(job_store&&) noexcept = default;
job_store::~job_store() = default;

caf::expected<job_store> job_store::open(const std::string& path, bool read_only) {
  auto c = detail::side_connection::open(path, "job queue", read_only);
  if (!c)
    return std::move(c.error());
  auto p = std::make_unique<impl>();
  p->c = std::move(*c);
  if (auto err = p->prepare())
    return err;
  return job_store{std::move(p)};
}

caf::error job_store::impl::prepare() {
  auto select = std::string("SELECT ") + detail::job_columns + " FROM jobs ";
  struct {
    detail::statement* st;
    std::string sql;
  } all[] = {
    {&insert_job,
     "INSERT INTO jobs(job_id, run_id, tenant, key_id, scenario, task, priority, "
     "labels, idempotency_key, status, submitted_us, deadline_us, started_us, "
     "ended_us, not_before_us, attempts, sla_breached, error, starts) VALUES(?1, ?2, ?3, "
     "?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"},
    {&find_by_key, select + "WHERE tenant = ?1 AND idempotency_key = ?2 AND "
                            "idempotency_key != '' AND submitted_us > ?3 "
                            "ORDER BY seq DESC LIMIT 1"},
    {&find_by_job, select + "WHERE job_id = ?1"},
    {&find_by_run, select + "WHERE run_id = ?1"},
    {&compare_and_set,
     "UPDATE jobs SET status = ?3, started_us = ?4, ended_us = ?5, attempts = ?6, "
     "not_before_us = ?7, sla_breached = ?8, error = ?9, starts = ?10 WHERE job_id = ?1 "
     "AND status = ?2"},
  };
  for (auto& x : all)
    if (auto err = c->prepare(*x.st, x.sql, "preparing the job queue"))
      return err;
  return {};
}

caf::expected<std::optional<jobs::job>> job_store::impl::one(detail::statement& st,
                                                             std::string_view doing) {
  std::optional<jobs::job> found;
  auto err = detail::each_row(*c, st, doing, [&]() -> caf::error {
    auto j = detail::read_job(st, c->path());
    if (!j)
      return std::move(j.error());
    found = std::move(*j);
    return {};
  });
  st.reset();
  if (err)
    return err;
  return found;
}

caf::expected<std::vector<inserted_job>> job_store::insert(std::vector<jobs::job> batch) {
  for (size_t i = 0; i < batch.size(); ++i)
    if (auto err = check_submission(batch[i], i))
      return err;
  auto& s = *impl_;
  std::vector<inserted_job> out;
  out.reserve(batch.size());
  auto now = detail::wall_clock_us();
  auto err = s.c->transaction("submitting " + std::to_string(batch.size()) + " jobs",
                              [&]() -> caf::error {
    for (auto& j : batch) {
      if (j.submitted_us == 0)
        j.submitted_us = now;
      if (!j.idempotency_key.empty()) {
        s.find_by_key.bind(1, j.tenant);
        s.find_by_key.bind(2, j.idempotency_key);
        s.find_by_key.bind(3, j.submitted_us - idempotency_window_us);
        auto earlier = s.one(s.find_by_key, "looking up an idempotency key");
        if (!earlier)
          return std::move(earlier.error());
        if (*earlier) {
          out.push_back({std::move(**earlier), true});
          continue;
        }
      }
      if (auto err = s.insert_row(j))
        return err;
      j.status = jobs::job_status::queued;
      j.seq = static_cast<uint64_t>(sqlite3_last_insert_rowid(s.c->db()));
      out.push_back({std::move(j), false});
    }
    return {};
  });
  if (err)
    return err;
  return out;
}

caf::error job_store::impl::insert_row(const jobs::job& j) {
  auto& st = insert_job;
  auto labels = detail::labels_json(j.labels);
  st.bind(1, j.job_id);
  st.bind(2, j.run_id);
  st.bind(3, j.tenant);
  st.bind(4, j.key_id);
  st.bind(5, j.scenario);
  st.bind(6, j.task);
  st.bind(7, static_cast<int64_t>(j.priority));
  st.bind(8, labels);
  st.bind(9, j.idempotency_key);
  st.bind(10, j.submitted_us);
  st.bind(11, j.deadline_us);
  st.bind(12, j.started_us);
  st.bind(13, j.ended_us);
  st.bind(14, j.not_before_us);
  st.bind(15, static_cast<int64_t>(j.attempts));
  st.bind(16, int64_t{j.sla_breached ? 1 : 0});
  st.bind(17, j.error);
  st.bind(18, static_cast<int64_t>(j.starts));
  auto rc = st.step();
  st.reset();
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    return caf::make_error(store_errc::conflict,
                           c->path() + ": job " + j.job_id + " (run " + j.run_id
                             + "): the job id or run id is taken; nothing was stored");
  if (rc != SQLITE_DONE)
    return c->fail(rc, "storing job " + j.job_id);
  return {};
}

caf::expected<std::optional<jobs::job>> job_store::get(const std::string& job_id) {
  impl_->find_by_job.bind(1, job_id);
  return impl_->one(impl_->find_by_job, "reading job " + job_id);
}

caf::expected<std::optional<jobs::job>> job_store::get_by_run(const std::string& run_id) {
  impl_->find_by_run.bind(1, run_id);
  return impl_->one(impl_->find_by_run, "reading the job of run " + run_id);
}

caf::expected<bool> job_store::update(const jobs::job& j, jobs::job_status expected_from) {
  auto& s = *impl_;
  auto& st = s.compare_and_set;
  st.bind(1, j.job_id);
  st.bind(2, detail::status_text(expected_from));
  st.bind(3, detail::status_text(j.status));
  st.bind(4, j.started_us);
  st.bind(5, j.ended_us);
  st.bind(6, static_cast<int64_t>(j.attempts));
  st.bind(7, j.not_before_us);
  st.bind(8, int64_t{j.sla_breached ? 1 : 0});
  st.bind(9, j.error);
  st.bind(10, static_cast<int64_t>(j.starts));
  // One statement in autocommit: atomic, and durable on return like a
  // transaction's COMMIT (synchronous=FULL).
  auto rc = st.step();
  st.reset();
  if (rc != SQLITE_DONE)
    return s.c->fail(rc, "updating job " + j.job_id);
  return sqlite3_changes(s.c->db()) == 1;
}

caf::expected<job_counts> job_store::counts(const std::string& tenant) {
  auto& s = *impl_;
  detail::statement st;
  if (auto err = s.c->prepare(st, "SELECT status, count(*) FROM jobs WHERE tenant = ?1 AND "
                                  "status IN ('queued', 'running') GROUP BY status",
                              "counting jobs"))
    return err;
  st.bind(1, tenant);
  job_counts out;
  auto err = detail::each_row(*s.c, st, "counting the jobs of tenant " + tenant,
                              [&]() -> caf::error {
    auto n = static_cast<uint64_t>(st.int_at(1));
    (st.text_at(0) == "queued" ? out.queued : out.running) = n;
    return {};
  });
  if (err)
    return err;
  return out;
}

caf::expected<tenant_usage> job_store::usage(const std::string& tenant, int64_t day_start_us,
                                             int64_t month_start_us) {
  auto& s = *impl_;
  detail::statement st;
  // updated_us of a finished run is its last event's time, the completion
  // that wrote its tokens and cost: the spend counts in the window it ended in.
  if (auto err = s.c->prepare(st, "SELECT "
                                  "ifnull(sum(CASE WHEN updated_us >= ?2 THEN "
                                  "input_tokens + output_tokens ELSE 0 END), 0), "
                                  "ifnull(sum(CASE WHEN updated_us >= ?3 THEN "
                                  "cost_micro_usd ELSE 0 END), 0) "
                                  "FROM runs WHERE tenant = ?1 AND updated_us >= min(?2, ?3)",
                              "reading a tenant's usage"))
    return err;
  st.bind(1, tenant);
  st.bind(2, day_start_us);
  st.bind(3, month_start_us);
  auto rc = st.step();
  if (rc != SQLITE_ROW)
    return s.c->fail(rc, "reading the usage of tenant " + tenant);
  return tenant_usage{static_cast<uint64_t>(st.int_at(0)),
                      static_cast<uint64_t>(st.int_at(1))};
}

} // namespace troupe::persistence
