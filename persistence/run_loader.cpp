// The one way a whole run is read for folding (resume, replay, show, export,
// diff, crash restarts): every row verified first, so a flipped byte stops
// the load with the run and seq instead of steering a resumed run.

#include "persistence/detail/store_impl.hpp"

namespace troupe::persistence {

caf::error store::for_each_verified_event(
  const std::string& run_id,
  const std::function<caf::error(const stored_event&, event&)>& fn) {
  auto seed = chain_seed(run_id);
  if (!seed)
    return std::move(seed.error());
  event_hash link = *seed;
  uint32_t next = 1;
  integrity_report rep;
  return for_each_event(run_id, [&](const stored_event& row) -> caf::error {
    auto decoded = detail::check_row(row, next, rep);
    if (rep.problems.empty())
      detail::check_link(row, link, rep);
    if (!rep.problems.empty() || !decoded) {
      auto what = rep.problems.empty() ? std::string("does not decode")
                                       : rep.problems.front().what;
      return caf::make_error(store_errc::corrupted,
                             impl_->path + ": run " + run_id + " seq "
                               + std::to_string(row.seq) + " is damaged (" + what
                               + "); the run was not loaded. `troupe doctor --db "
                               + impl_->path + "` lists every damaged row");
    }
    next = row.seq + 1;
    return fn(row, *decoded);
  });
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
