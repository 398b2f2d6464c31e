// The store's side of run ownership (persistence/run_owner.hpp): claiming a
// run, renewing leases, and the check append makes for every run it writes.

#include <string>

#include "persistence/detail/store_impl.hpp"
#include "persistence/run_owner.hpp"

namespace troupe::persistence {

namespace {

std::string describe_holder(const std::string& owner, int64_t lease_until_us,
                            int64_t now_us) {
  auto left_ms = (lease_until_us - now_us) / 1000;
  return "process " + owner + " (lease "
         + (left_ms > 0 ? "for " + std::to_string(left_ms) + " ms more" : "expired") + ")";
}

} // namespace

caf::error store::write_as(std::string owner, int64_t lease_us) {
  auto& s = *impl_;
  if (s.mode != open_mode::read_write)
    return caf::make_error(store_errc::io_error,
                           s.path + ": a read-only store writes for no owner");
  struct {
    detail::statement* stmt;
    const char* sql;
  } all[] = {
    {&s.find_owner, "SELECT owner FROM run_owners WHERE run_id = ?1"},
    {&s.insert_owner, "INSERT INTO run_owners(run_id, owner, lease_until_us, acquired_us) "
                      "VALUES(?1, ?2, ?3, ?4)"},
    {&s.release_owner, "DELETE FROM run_owners WHERE run_id = ?1"},
    {&s.data_version, "PRAGMA data_version"},
  };
  for (auto& x : all)
    if (auto rc = x.stmt->prepare(s.db, x.sql); rc != SQLITE_OK)
      return s.fail(rc, "preparing the ownership checks");
  s.owner = std::move(owner);
  s.lease_us = lease_us;
  return {};
}

namespace detail {

caf::error check_owned(store::impl& s) {
  if (s.owner.empty())
    return {};
  auto& st = s.data_version;
  auto rc = st.step();
  auto version = rc == SQLITE_ROW ? st.int_at(0) : -1;
  st.reset();
  if (rc != SQLITE_ROW)
    return s.fail(rc, "reading the journal's data version");
  if (version != s.owned_as_of) {
    s.owned.clear();
    s.owned_as_of = version;
  }
  return {};
}

void remember_owned(store::impl& s, bool committed,
                    const std::vector<std::string_view>& written,
                    const std::vector<std::string_view>& released) {
  if (s.owner.empty())
    return;
  if (!committed) {
    // The rollback undid the owner rows new runs took.
    s.owned.clear();
    s.owned_as_of = -1;
    return;
  }
  for (auto run_id : written)
    s.owned.emplace(run_id);
  for (auto run_id : released)
    s.owned.erase(std::string(run_id));
}

caf::expected<bool> may_write(store::impl& s, const sealed_event& ev, int64_t now_us) {
  if (s.owner.empty() || s.owned.count(ev.header.run_id) != 0)
    return true;
  auto& find = s.find_owner;
  find.bind(1, ev.header.run_id);
  auto rc = find.step();
  std::string holder = rc == SQLITE_ROW ? find.text_at(0) : std::string{};
  find.reset();
  if (rc == SQLITE_ROW)
    return holder == s.owner;
  if (rc != SQLITE_DONE)
    return s.fail(rc, "looking up the owner of run " + ev.header.run_id);
  // No holder: a new run's first event takes it; an existing run must be
  // claimed (store::claim_run) before anyone writes to it again.
  if (ev.header.seq != 1)
    return false;
  auto& ins = s.insert_owner;
  ins.bind(1, ev.header.run_id);
  ins.bind(2, s.owner);
  ins.bind(3, now_us + s.lease_us);
  ins.bind(4, now_us);
  rc = ins.step();
  ins.reset();
  if (rc != SQLITE_DONE)
    return s.fail(rc, "taking ownership of run " + ev.header.run_id);
  return true;
}

caf::error release_run(store::impl& s, const std::string& run_id) {
  if (s.owner.empty())
    return {};
  auto& del = s.release_owner;
  del.bind(1, run_id);
  auto rc = del.step();
  del.reset();
  return rc == SQLITE_DONE ? caf::error{} : s.fail(rc, "releasing run " + run_id);
}

} // namespace detail

caf::error store::claim_run(const std::string& run_id, int64_t now_us) {
  auto& s = *impl_;
  if (s.owner.empty())
    return caf::make_error(store_errc::io_error,
                           s.path + ": claiming run " + run_id + " needs a writer (write_as)");
  if (auto err = s.exec("BEGIN IMMEDIATE", "locking the journal to claim run " + run_id))
    return err;
  auto claim = [&]() -> caf::error {
    detail::statement st;
    if (auto rc = st.prepare(s.db, "SELECT status FROM runs WHERE run_id = ?1"); rc != SQLITE_OK)
      return s.fail(rc, "reading run " + run_id);
    st.bind(1, run_id);
    auto rc = st.step();
    if (rc == SQLITE_DONE)
      return caf::make_error(store_errc::unknown_run, s.path + ": no run " + run_id);
    if (rc != SQLITE_ROW)
      return s.fail(rc, "reading run " + run_id);
    if (st.text_at(0) != "running")
      return caf::make_error(store_errc::run_finished,
                             s.path + ": run " + run_id + " already ended ("
                               + st.text_at(0) + ")");
    detail::statement own;
    if (auto rc2 = own.prepare(s.db, "SELECT owner, lease_until_us FROM run_owners "
                                     "WHERE run_id = ?1");
        rc2 != SQLITE_OK)
      return s.fail(rc2, "reading the owner of run " + run_id);
    own.bind(1, run_id);
    rc = own.step();
    if (rc == SQLITE_ROW) {
      auto holder = own.text_at(0);
      auto until = own.int_at(1);
      // A holder known to be alive keeps the run even past its lease (it may
      // only be stalled); one known to be gone loses it at once; one we
      // cannot see (another machine) loses it when its lease expires.
      auto holder_is = liveness_of(holder);
      bool free = holder == s.owner || holder_is == owner_liveness::gone
                  || (until < now_us && holder_is != owner_liveness::alive);
      if (!free)
        return caf::make_error(store_errc::run_owned,
                               s.path + ": run " + run_id + " is driven by "
                                 + describe_holder(holder, until, now_us));
    } else if (rc != SQLITE_DONE) {
      return s.fail(rc, "reading the owner of run " + run_id);
    }
    detail::statement take;
    if (auto rc3 = take.prepare(s.db, "INSERT OR REPLACE INTO run_owners"
                                      "(run_id, owner, lease_until_us, acquired_us) "
                                      "VALUES(?1, ?2, ?3, ?4)");
        rc3 != SQLITE_OK)
      return s.fail(rc3, "claiming run " + run_id);
    take.bind(1, run_id);
    take.bind(2, s.owner);
    take.bind(3, now_us + s.lease_us);
    take.bind(4, now_us);
    if (auto rc4 = take.step(); rc4 != SQLITE_DONE)
      return s.fail(rc4, "claiming run " + run_id);
    return {};
  };
  auto err = claim();
  if (!err)
    err = s.exec("COMMIT", "committing the claim of run " + run_id);
  if (err)
    troupe::ignore_error(s.exec("ROLLBACK", "rolling back a claim"),
                         "the reason the claim failed is reported");
  // Positions cached before the claim may predate another owner's writes.
  s.cursors.erase(run_id);
  return err;
}

caf::error store::renew_leases(int64_t now_us) {
  auto& s = *impl_;
  if (s.owner.empty())
    return {};
  detail::statement st;
  if (auto rc = st.prepare(s.db, "UPDATE run_owners SET lease_until_us = ?2 WHERE owner = ?1");
      rc != SQLITE_OK)
    return s.fail(rc, "renewing leases");
  st.bind(1, s.owner);
  st.bind(2, now_us + s.lease_us);
  auto rc = st.step();
  return rc == SQLITE_DONE ? caf::error{} : s.fail(rc, "renewing leases");
}

} // namespace troupe::persistence
