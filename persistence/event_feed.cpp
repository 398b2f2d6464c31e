#include "persistence/event_feed.hpp"

#include <filesystem>

#include "persistence/detail/event_rows.hpp"
#include "persistence/detail/sqlite.hpp"
#include "schemas/errors.hpp"
#include "schemas/stored_form.hpp"

namespace troupe::persistence {

struct event_feed::impl {
  std::string path;
  sqlite3* db = nullptr;
  detail::statement head, after, of_run;
  ~impl() {
    // Statements first: closing the handle finalizes nothing for us.
    head = {};
    after = {};
    of_run = {};
    if (db != nullptr)
      sqlite3_close_v2(db);
  }
  caf::error fail(int rc, std::string_view doing) const {
    return detail::sqlite_error(db, rc, path, doing);
  }
  caf::expected<std::vector<feed_event>> rows(detail::statement& st, std::string_view doing) {
    std::vector<feed_event> out;
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
      feed_event e;
      e.position = st.int_at(0);
      e.run_id = st.text_at(1);
      e.seq = static_cast<uint32_t>(st.int_at(2));
      e.kind = st.text_at(3);
      auto parent = st.text_at(6);
      auto root = st.text_at(7);
      event_envelope env{e.run_id, parent, detail::envelope_root(e.run_id, root), e.seq,
                         st.int_at(5)};
      auto where = "run " + e.run_id + " seq " + std::to_string(e.seq);
      auto full = from_stored(st.blob_at(4), st.bytes_at(4), env, where);
      if (!full) {
        st.reset();
        return caf::make_error(store_errc::corrupted,
                               path + ": " + render(full.error())
                                 + "; run `troupe doctor --db " + path + "`");
      }
      e.body.assign(full->begin(), full->end());
      out.push_back(std::move(e));
    }
    st.reset();
    if (rc != SQLITE_DONE)
      return fail(rc, doing);
    return out;
  }
};

event_feed::event_feed(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
event_feed::event_feed(event_feed&&) noexcept = default;
event_feed& event_feed::operator=(event_feed&&) noexcept = default;
event_feed::~event_feed() = default;

caf::expected<event_feed> event_feed::open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return caf::make_error(store_errc::not_found,
                           path + ": no journal database here (pass --db PATH)");
  auto p = std::make_unique<impl>();
  p->path = path;
  if (auto rc = sqlite3_open_v2(path.c_str(), &p->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                nullptr);
      rc != SQLITE_OK)
    return p->fail(rc, "opening the event feed");
  sqlite3_busy_timeout(p->db, 5000);
  constexpr const char* cols = "SELECT e.id, r.run_id, e.seq, e.kind, e.body, e.ts_us, "
                               "r.parent_run_id, r.root_run_id FROM events e "
                               "JOIN runs r ON r.id = e.run ";
  if (auto rc = p->head.prepare(p->db, "SELECT ifnull(max(id), 0) FROM events"); rc != SQLITE_OK)
    return p->fail(rc, "preparing the event feed");
  if (auto rc = p->after.prepare(p->db, std::string(cols) + "WHERE e.id > ?1 ORDER BY e.id LIMIT ?2");
      rc != SQLITE_OK)
    return p->fail(rc, "preparing the event feed");
  if (auto rc = p->of_run.prepare(p->db, std::string(cols)
                                           + "WHERE r.run_id = ?1 AND e.seq > ?2 "
                                             "ORDER BY e.seq LIMIT ?3");
      rc != SQLITE_OK)
    return p->fail(rc, "preparing the event feed");
  return event_feed{std::move(p)};
}

caf::expected<int64_t> event_feed::head() {
  auto& st = impl_->head;
  auto rc = st.step();
  int64_t out = rc == SQLITE_ROW ? st.int_at(0) : 0;
  st.reset();
  if (rc != SQLITE_ROW)
    return impl_->fail(rc, "reading the newest event");
  return out;
}

caf::expected<std::vector<feed_event>> event_feed::after(int64_t position, size_t limit) {
  auto& st = impl_->after;
  st.bind(1, position);
  st.bind(2, static_cast<int64_t>(limit));
  return impl_->rows(st, "reading new events");
}

caf::expected<std::vector<feed_event>>
event_feed::of_run(const std::string& run_id, uint32_t after_seq, size_t limit) {
  auto& st = impl_->of_run;
  st.bind(1, run_id);
  st.bind(2, static_cast<int64_t>(after_seq));
  st.bind(3, static_cast<int64_t>(limit));
  return impl_->rows(st, "reading the events of run " + run_id);
}

} // namespace troupe::persistence
