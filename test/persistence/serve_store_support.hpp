#pragma once
// A journal for the serve stores' tests: a fresh file created by the journal
// writer (as `troupe serve` finds it), and job builders.

#include <string>
#include <utility>

#include <boost/test/unit_test.hpp>

#include "core/jobs/job.hpp"
#include "persistence/job_store.hpp"
#include "persistence/store.hpp"
#include "persistence/tenant_store.hpp"
#include "schemas/errors.hpp"
#include "test/support/temp_dir.hpp"

namespace troupe::test {

/// 2024-11-19 in µs, as the event builders count.
inline constexpr int64_t t0_us = 1732000000000000;
inline constexpr int64_t hour_us = int64_t{3600} * 1000000;

struct serve_journal {
  temp_dir dir{"troupe-serve-store"};
  std::string path = dir.file("serve.db");

  serve_journal() {
    auto db = persistence::store::open(path, persistence::open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
  }

  persistence::job_store jobs() {
    auto s = persistence::job_store::open(path);
    BOOST_REQUIRE_MESSAGE(s, render(s));
    return std::move(*s);
  }

  persistence::tenant_store tenants() {
    auto s = persistence::tenant_store::open(path);
    BOOST_REQUIRE_MESSAGE(s, render(s));
    return std::move(*s);
  }
};

/// A submission of `tenant` named `name` (job "job-<name>", run "run-<name>").
inline jobs::job submission(const std::string& name, const std::string& tenant = "acme",
                            const std::string& key = {}, int64_t submitted_us = t0_us) {
  jobs::job j;
  j.job_id = "job-" + name;
  j.run_id = "run-" + name;
  j.tenant = tenant;
  j.key_id = "k_0123456789abcdef";
  j.scenario = "echo";
  j.task = "say " + name;
  j.idempotency_key = key;
  j.submitted_us = submitted_us;
  return j;
}

} // namespace troupe::test
