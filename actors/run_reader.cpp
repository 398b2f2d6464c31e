#include "actors/run_reader.hpp"

#include "persistence/store_errc.hpp"

namespace troupe {

caf::expected<rebuilt_run> read_run(persistence::store& db, const std::string& run_id,
                                    rebuild_scope scope,
                                    const std::function<void(const event&)>& each) {
  run_rebuilder rb(scope);
  uint64_t events = 0;
  auto err = db.for_each_verified_event(run_id, [&](const persistence::stored_event&,
                                                    event& ev) {
    ++events;
    if (each)
      each(ev);
    rb.add(std::move(ev));
    return caf::error{};
  });
  if (err)
    return err;
  if (events == 0)
    return caf::make_error(persistence::store_errc::unknown_run,
                           db.path() + ": no run " + run_id);
  return std::move(rb).finish();
}

} // namespace troupe
