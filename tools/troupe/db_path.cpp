// The --db check of the commands that may create the journal (run, resume,
// import, approve, deny). Read commands get the same refusal from
// store::open(read_only); a writer must check before SQLite opens the path,
// because SQLite would create its own files beside it (PATH-journal, PATH-wal)
// even when PATH is /dev/null, a FIFO or a directory.

#include <filesystem>
#include <system_error>

#include "persistence/store_errc.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

caf::error check_db_path(const std::string& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec); // follows symlinks, as SQLite does
  if (ec || st.type() == std::filesystem::file_type::not_found)
    return caf::none; // absent: the journal writer creates it
  if (st.type() != std::filesystem::file_type::regular)
    return caf::make_error(persistence::store_errc::not_a_journal,
                           path + ": not a regular file");
  return caf::none;
}

} // namespace troupe::cli
