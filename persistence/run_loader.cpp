// The one way a whole run is read for folding (resume, replay, show, export,
// diff, crash restarts): every row verified first, so a flipped byte stops
// the load with the run and seq instead of steering a resumed run.

#include "persistence/detail/store_impl.hpp"

namespace troupe::persistence {

caf::error store::for_each_verified_event(
  const std::string& run_id,
  const std::function<caf::error(const stored_event&, event&)>& fn) {
  detail::chain_checker chain;
  if (auto err = chain.start(run_id))
    return err;
  uint32_t next = 1;
  integrity_report rep;
  // A batch's rows are only trusted once its link, on its last row, checks;
  // they wait here until then.
  std::vector<std::pair<stored_event, event>> batch;
  auto damaged = [&](uint32_t seq, const std::string& what) {
    return caf::make_error(store_errc::corrupted,
                           impl_->path + ": run " + run_id + " seq " + std::to_string(seq)
                             + " is damaged (" + what
                             + "); the run was not loaded. `troupe doctor --db " + impl_->path
                             + "` lists every damaged row");
  };
  auto err = for_each_event(run_id, [&](const stored_event& row) -> caf::error {
    auto decoded = detail::check_row(row, next, rep);
    if (!rep.problems.empty() || !decoded)
      return damaged(row.seq, rep.problems.empty() ? std::string("does not decode")
                                                   : rep.problems.front().what);
    next = row.seq + 1;
    batch.emplace_back(row, std::move(*decoded));
    if (!chain.add(row, true, rep))
      return caf::error{};
    if (!rep.problems.empty())
      return damaged(row.seq, rep.problems.front().what);
    for (auto& [r, ev] : batch)
      if (auto err = fn(r, ev))
        return err;
    batch.clear();
    return caf::error{};
  });
  if (err)
    return err;
  chain.finish(rep);
  if (!rep.problems.empty())
    return damaged(rep.problems.front().seq, rep.problems.front().what);
  return {};
}

caf::expected<std::vector<event>> store::load_run(const std::string& run_id) {
  std::vector<event> out;
  auto err = for_each_verified_event(run_id, [&](const stored_event&, event& ev) {
    out.push_back(std::move(ev));
    return caf::error{};
  });
  if (err)
    return err;
  if (out.empty())
    return caf::make_error(store_errc::unknown_run,
                           impl_->path + ": no run " + run_id);
  return out;
}

} // namespace troupe::persistence
