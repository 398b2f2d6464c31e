// job_store's listings: the API's pages and the dispatcher's views.

#include "persistence/detail/job_codes.hpp"
#include "persistence/detail/job_rows.hpp"
#include "persistence/detail/job_store_impl.hpp"

namespace troupe::persistence {

namespace {

constexpr uint32_t max_page = 1000;

} // namespace

caf::expected<std::vector<jobs::job>> job_store::impl::all(detail::statement& st,
                                                           std::string_view doing) {
  std::vector<jobs::job> out;
  auto err = detail::each_row(*c, st, doing, [&]() -> caf::error {
    auto j = detail::read_job(st, c->path());
    if (!j)
      return std::move(j.error());
    out.push_back(std::move(*j));
    return {};
  });
  if (err)
    return err;
  return out;
}

// Newest first by seq, and each page strictly below the last seq of the one
// before: jobs submitted meanwhile get higher seqs, so a walk neither repeats
// nor skips a job. Fetching one row more than the limit tells whether there
// is a next page without a second query.
caf::expected<job_page> job_store::list(const job_filter& f) {
  if (f.limit < 1 || f.limit > max_page)
    return caf::make_error(store_errc::invalid_argument,
                           "limit " + std::to_string(f.limit) + " is out of range 1.."
                             + std::to_string(max_page));
  uint64_t before = 0;
  if (!f.cursor.empty()) {
    auto seq = detail::decode_cursor(f.cursor);
    if (!seq)
      return std::move(seq.error());
    before = *seq;
  }
  auto& s = *impl_;
  std::string sql = std::string("SELECT ") + detail::job_columns + " FROM jobs WHERE 1";
  if (!f.tenant.empty())
    sql += " AND tenant = ?1";
  if (f.status)
    sql += " AND status = ?2";
  if (f.label)
    sql += " AND EXISTS (SELECT 1 FROM json_each(jobs.labels) WHERE json_each.value = ?3)";
  if (before != 0)
    sql += " AND seq < ?4";
  sql += " ORDER BY seq DESC LIMIT ?5";
  detail::statement st;
  if (auto err = s.c->prepare(st, sql, "listing jobs"))
    return err;
  st.bind(1, f.tenant);
  if (f.status)
    st.bind(2, detail::status_text(*f.status));
  if (f.label)
    st.bind(3, *f.label);
  st.bind(4, static_cast<int64_t>(before));
  st.bind(5, static_cast<int64_t>(f.limit) + 1);
  auto rows = s.all(st, "listing jobs");
  if (!rows)
    return std::move(rows.error());
  job_page page;
  page.jobs = std::move(*rows);
  if (page.jobs.size() > f.limit) {
    page.jobs.resize(f.limit);
    page.next_cursor = detail::encode_cursor(page.jobs.back().seq);
  }
  return page;
}

caf::expected<std::vector<jobs::job>> job_store::queued() {
  auto& s = *impl_;
  detail::statement st;
  if (auto err = s.c->prepare(st, std::string("SELECT ") + detail::job_columns
                                    + " FROM jobs WHERE status = 'queued' "
                                      "ORDER BY priority, seq",
                              "listing queued jobs"))
    return err;
  return s.all(st, "listing queued jobs");
}

caf::expected<std::vector<jobs::job>> job_store::running() {
  auto& s = *impl_;
  detail::statement st;
  if (auto err = s.c->prepare(st, std::string("SELECT ") + detail::job_columns
                                    + " FROM jobs WHERE status = 'running' ORDER BY seq",
                              "listing running jobs"))
    return err;
  return s.all(st, "listing running jobs");
}

} // namespace troupe::persistence
