// Switching a journal file to WAL (see detail::use_wal in store_impl.hpp).

#include <chrono>
#include <thread>

#include "persistence/detail/store_impl.hpp"

namespace troupe::persistence::detail {

// WAL is a property of the file: only its first opener switches it, and
// that switch needs every other connection gone. Several processes creating
// one journal at once meet here; SQLite answers SQLITE_BUSY to the switch
// without waiting in some of those cases, so it is retried (for the busy
// timeout's 5 s). Openers of a file already in WAL change nothing.
caf::error use_wal(store::impl& s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // The mode after `sql`: the pragma answers with the mode in force, which
  // stays the old one when it could not switch.
  auto mode_after = [&](const char* sql, int& rc) {
    detail::statement st;
    rc = st.prepare(s.db, sql);
    if (rc == SQLITE_OK && (rc = st.step()) == SQLITE_ROW) {
      rc = SQLITE_OK;
      return st.text_at(0);
    }
    return std::string{};
  };
  for (;;) {
    int rc = SQLITE_OK;
    if (mode_after("PRAGMA journal_mode", rc) == "wal")
      return {};
    if (rc == SQLITE_OK && mode_after("PRAGMA journal_mode = WAL", rc) == "wal")
      return {};
    bool busy = rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
    if (!busy)
      return s.fail(rc, "configuring WAL");
    if (std::chrono::steady_clock::now() > deadline)
      return caf::make_error(store_errc::io_error,
                             s.path + ": configuring WAL failed: other processes kept the "
                                      "file busy for 5 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

} // namespace troupe::persistence::detail
