// `troupe import`: JSON lines back into a journal. Every line is checked
// before the journal is opened, and the import is one transaction, so a bad
// file or a conflict leaves the journal as it was.

#include "schemas/json_text.hpp"
#include "tools/troupe/import_command.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_import.hpp"

namespace troupe::cli {

namespace {

using persistence::sealed_event;

bool blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

int bad_input(const std::string& what) {
  std::cerr << "troupe: " << what << std::endl;
  return exit_usage;
}

/// A run's envelope as its first line gave it, and where.
struct first_line {
  std::string parent_run_id;
  std::string root_run_id;
  std::string where;
};

// The journal keeps one envelope per run (its runs row), so lines of one run
// must agree on it. A root naming the run itself means top level, as empty.
std::string envelope_differs(const event_header& h,
                             std::unordered_map<std::string, first_line>& runs,
                             const std::string& where) {
  auto root = h.root_run_id == h.run_id ? std::string{} : h.root_run_id;
  auto [first, fresh] = runs.try_emplace(h.run_id, first_line{h.parent_run_id, root, where});
  if (fresh || (first->second.parent_run_id == h.parent_run_id
                && first->second.root_run_id == root))
    return {};
  return where + ": run " + h.run_id + " seq " + std::to_string(h.seq) + " has parent_run_id '"
         + h.parent_run_id + "' and root_run_id '" + h.root_run_id + "', but "
         + first->second.where + " gave the run '" + first->second.parent_run_id + "' and '"
         + first->second.root_run_id + "': every event of a run carries the same envelope";
}

// Decodes every line of `in` into `out`; returns exit_ok or the exit code of
// the first bad line, which it has reported naming FILE:LINE.
int read_events(std::istream& in, const std::string& file,
                std::vector<sealed_event>& out) {
  std::string line;
  std::unordered_map<std::string, first_line> runs;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (blank(line))
      continue;
    auto where = file + ":" + std::to_string(number);
    auto bytes = from_json(line, where);
    if (!bytes)
      return bad_input(render(bytes.error()));
    auto header = peek_header(*bytes);
    if (!header)
      return bad_input(where + ": " + render(header.error()));
    if (auto why = envelope_differs(*header, runs, where); !why.empty())
      return bad_input(why);
    out.push_back({std::move(*header), std::move(*bytes)});
  }
  if (in.bad())
    return bad_input(file + ": read failed: " + std::strerror(errno));
  return exit_ok;
}

} // namespace

int import_events(const common_options& opts, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return bad_input(file + ": cannot read the export (" + std::strerror(errno)
                     + ")");
  std::vector<sealed_event> events;
  if (auto rc = read_events(in, file, events); rc != exit_ok)
    return rc;
  if (auto err = check_db_path(opts.db))
    return report(err);
  auto db = persistence::store::open(opts.db, persistence::open_mode::read_write);
  if (!db)
    return report(db.error());
  auto rep = db->import_events(events);
  if (!rep) {
    auto rc = report(rep.error());
    // The file and the journal disagree: a data problem, like doctor's.
    if (rep.error() == persistence::store_errc::import_conflict
        || rep.error() == persistence::store_errc::sequence_gap
        || rep.error() == persistence::store_errc::envelope_mismatch)
      return exit_data;
    return rc;
  }
  if (opts.json)
    std::cout << to_json_text(nlohmann::ordered_json{{"db", opts.db},
                                                     {"file", file},
                                                     {"runs", rep->runs},
                                                     {"imported", rep->written},
                                                     {"already_present", rep->present}})
              << std::endl;
  else
    std::printf("imported %llu events of %llu runs (%llu already present)\n",
                static_cast<unsigned long long>(rep->written),
                static_cast<unsigned long long>(rep->runs),
                static_cast<unsigned long long>(rep->present));
  return exit_ok;
}

} // namespace troupe::cli
