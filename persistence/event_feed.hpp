#pragma once
// A read-only feed of the journal's events in commit order, for live
// followers in other threads or processes (`troupe serve`'s event streams).
// The events table's rowid grows with every commit (one writer appends in
// order), so "every event after rowid N" is a gap-free cursor over the
// whole journal; a follower that also reads one run's backlog dedupes by
// seq. Only committed events are ever seen: what a follower is shown
// survives a crash. Its own connection; not thread-safe (one per thread).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "persistence/store_errc.hpp"

namespace troupe::persistence {

struct feed_event {
  int64_t position = 0; ///< the row's id: the feed's cursor
  std::string run_id;
  uint32_t seq = 0;
  std::string kind;
  std::string body; ///< the encoded event (schemas/codec.hpp)
};

class event_feed {
public:
  /// Opens the journal at `path` read-only (it must exist).
  [[nodiscard]] static caf::expected<event_feed> open(const std::string& path);

  event_feed(event_feed&&) noexcept;
  event_feed& operator=(event_feed&&) noexcept;
  ~event_feed();

  /// The position of the newest committed event (0: none).
  [[nodiscard]] caf::expected<int64_t> head();
  /// Up to `limit` events after `position`, oldest first.
  [[nodiscard]] caf::expected<std::vector<feed_event>> after(int64_t position, size_t limit);
  /// Up to `limit` events of one run with seq above `after_seq`, in seq order.
  [[nodiscard]] caf::expected<std::vector<feed_event>>
  of_run(const std::string& run_id, uint32_t after_seq, size_t limit);

private:
  struct impl;
  explicit event_feed(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::persistence
