#pragma once
// `troupe import FILE`: the events of `troupe export` (one JSON object per
// line, several runs allowed) written back into a journal with their seqs.

#include <string>

#include "tools/troupe/commands.hpp"

namespace troupe::cli {

/// Reads and checks every line of `file` before it opens the journal: a bad
/// line exits 64 naming FILE:LINE and nothing is written. Then imports all
/// events in one transaction into `opts.db` (created if missing) and prints
/// `imported N events of M runs (K already present)`, or with `opts.json`
/// one object `{"db","file","runs","imported","already_present"}`. Importing
/// the same file twice adds nothing. Exit codes: 0 imported; 64 unreadable
/// file or bad line; 65 an event conflicts with the journal (another event
/// at that run and seq) or does not continue its run's seqs, nothing
/// written; otherwise as report().
int import_events(const common_options& opts, const std::string& file);

} // namespace troupe::cli
