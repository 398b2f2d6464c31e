#pragma once
// Live event streams of runs, for `GET /v1/runs/{id}/events`.
//
// One thread follows the whole journal (persistence/event_feed.hpp: every
// committed event after a cursor, polled every `poll` while anyone
// subscribes) and hands each event to the subscribers of its run, so a
// thousand followers cost one query per poll, not a thousand. A new
// subscriber first gets its run's backlog after `after_seq` (an SSE
// client's Last-Event-ID), read on the same thread, then the live events;
// both paths skip seqs already sent, so a reconnecting client sees every
// event once, with no gap and no duplicate. Only committed events are shown:
// what a client saw survives a crash of the server.
//
// A stream ends after its run's completion event, when the run will never
// start (`end_run`: its job expired or was canceled while queued), when the
// subscriber's `send` returns false (the client went away or is too slow),
// or when the hub stops. `close` is called once in each case but the last
// one (the client is gone).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/expected.hpp>

namespace troupe::persistence {
struct feed_event;
}

namespace troupe::serve {

/// Sees every event committed after the hub started, once, in commit order,
/// on the hub's thread (metrics: serve/metrics_hub.hpp). Must not block.
using event_observer = std::function<void(const persistence::feed_event&)>;

struct event_subscriber {
  /// One SSE event: id (the seq), event (the kind), data (the event as JSON).
  /// Returns false when the stream is gone.
  std::function<bool(const std::string& id, const std::string& event, const std::string& data)>
    send;
  std::function<void()> close;
};

class event_hub {
public:
  /// Opens its own read-only connection to the journal at `db_path`. With
  /// an `observer`, the hub follows the journal even while nobody
  /// subscribes, and hands it every new event.
  [[nodiscard]] static caf::expected<std::unique_ptr<event_hub>>
  start(const std::string& db_path, std::chrono::milliseconds poll = std::chrono::milliseconds{20},
        event_observer observer = {});

  /// Stops the thread and closes every stream.
  ~event_hub();
  event_hub(const event_hub&) = delete;
  event_hub& operator=(const event_hub&) = delete;

  /// Follows `run_id` from after `after_seq`; returns a handle for unsubscribe.
  uint64_t subscribe(std::string run_id, uint32_t after_seq, event_subscriber s);
  void unsubscribe(uint64_t handle);
  /// The run will never start: its streams end (with a `end` event saying why).
  void end_run(const std::string& run_id, const std::string& why);

  [[nodiscard]] size_t subscribers() const;

private:
  struct impl;
  explicit event_hub(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::serve
