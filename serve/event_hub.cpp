#include "serve/event_hub.hpp"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "persistence/event_feed.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

namespace troupe::serve {

namespace {

constexpr size_t page = 1000;

struct follower {
  uint64_t handle = 0;
  std::string run_id;
  uint32_t last_seq = 0; ///< the highest seq sent
  event_subscriber sink;
  bool done = false;
};

} // namespace

struct event_hub::impl {
  persistence::event_feed feed;
  std::chrono::milliseconds poll;
  event_observer observer;
  int64_t cursor = 0;

  mutable std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  uint64_t last_handle = 0;
  std::vector<follower> joining;                        // guarded by mu
  std::vector<uint64_t> leaving;                        // guarded by mu
  std::vector<std::pair<std::string, std::string>> ended; // guarded by mu
  size_t count = 0;                                     // guarded by mu

  // Owned by the hub thread.
  std::multimap<std::string, follower> by_run;
  std::thread thread;

  explicit impl(persistence::event_feed f) : feed(std::move(f)) {}

  // Sends one event unless it was sent already; false when the follower ended.
  bool deliver(follower& f, const persistence::feed_event& e, const std::string& json) {
    if (f.done || e.seq <= f.last_seq)
      return !f.done;
    f.last_seq = e.seq;
    if (!f.sink.send(std::to_string(e.seq), e.kind, json)) {
      f.done = true; // gone: nobody to close for
      return false;
    }
    if (e.kind == "completion") {
      f.done = true;
      f.sink.close();
    }
    return !f.done;
  }

  std::string json_of(const persistence::feed_event& e) {
    auto json = to_json(e.body.data(), e.body.size(), "run " + e.run_id + " seq "
                                                        + std::to_string(e.seq));
    if (json)
      return std::move(*json);
    spdlog::error("event stream: {}", render(json.error()));
    return R"({"error":"this event cannot be decoded; run `troupe doctor`"})";
  }

  void backfill(follower& f) {
    while (!f.done) {
      auto rows = feed.of_run(f.run_id, f.last_seq, page);
      if (!rows) {
        spdlog::error("event stream of {}: {}", f.run_id, render(rows.error()));
        f.done = true;
        f.sink.close();
        return;
      }
      for (auto& e : *rows)
        if (!deliver(f, e, json_of(e)))
          break;
      if (rows->size() < page)
        return;
    }
  }

  void follow_new() {
    while (true) {
      auto rows = feed.after(cursor, page);
      if (!rows) {
        spdlog::error("event streams: {}", render(rows.error()));
        return;
      }
      for (auto& e : *rows) {
        cursor = e.position;
        if (observer)
          observer(e);
        auto [lo, hi] = by_run.equal_range(e.run_id);
        if (lo == hi)
          continue;
        auto json = json_of(e);
        for (auto i = lo; i != hi; ++i)
          deliver(i->second, e, json);
      }
      if (rows->size() < page)
        return;
    }
  }

  void sweep() {
    size_t removed = 0;
    for (auto i = by_run.begin(); i != by_run.end();)
      if (i->second.done) {
        i = by_run.erase(i);
        ++removed;
      } else {
        ++i;
      }
    std::lock_guard<std::mutex> guard{mu};
    count -= removed;
  }

  void loop() {
    std::unique_lock<std::mutex> lock{mu};
    while (!stopping) {
      wake.wait_for(lock, poll, [&] { return stopping || !joining.empty(); });
      if (stopping)
        break;
      auto arrivals = std::move(joining);
      auto departures = std::move(leaving);
      auto endings = std::move(ended);
      joining.clear();
      leaving.clear();
      ended.clear();
      bool idle = count == 0;
      lock.unlock();
      for (auto h : departures)
        for (auto& [run, f] : by_run)
          if (f.handle == h)
            f.done = true; // the client left: nothing to close
      for (auto& [run, why] : endings) {
        auto [lo, hi] = by_run.equal_range(run);
        for (auto i = lo; i != hi; ++i)
          if (!i->second.done) {
            i->second.done = true;
            i->second.sink.send("", "end", nlohmann::json{{"reason", why}}.dump());
            i->second.sink.close();
          }
      }
      // Live events first: a newcomer's backfill then reads past the cursor
      // and the dedupe by seq drops what both paths see.
      if (!idle || observer)
        follow_new();
      else if (auto head = feed.head())
        cursor = *head; // nobody listened: skip what nobody wants
      for (auto& f : arrivals) {
        backfill(f);
        by_run.emplace(f.run_id, std::move(f));
      }
      sweep();
      lock.lock();
    }
    lock.unlock();
    for (auto& [run, f] : by_run)
      if (!f.done)
        f.sink.close();
  }
};

event_hub::event_hub(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

event_hub::~event_hub() {
  {
    std::lock_guard<std::mutex> guard{impl_->mu};
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

caf::expected<std::unique_ptr<event_hub>> event_hub::start(const std::string& db_path,
                                                          std::chrono::milliseconds poll,
                                                          event_observer observer) {
  auto feed = persistence::event_feed::open(db_path);
  if (!feed)
    return std::move(feed.error());
  auto p = std::make_unique<impl>(std::move(*feed));
  p->poll = poll;
  p->observer = std::move(observer);
  auto head = p->feed.head();
  if (!head)
    return std::move(head.error());
  p->cursor = *head;
  auto* raw = p.get();
  p->thread = std::thread([raw] { raw->loop(); });
  return std::unique_ptr<event_hub>(new event_hub(std::move(p)));
}

uint64_t event_hub::subscribe(std::string run_id, uint32_t after_seq, event_subscriber s) {
  uint64_t handle;
  {
    std::lock_guard<std::mutex> guard{impl_->mu};
    handle = ++impl_->last_handle;
    impl_->joining.push_back(follower{handle, std::move(run_id), after_seq, std::move(s)});
    ++impl_->count;
  }
  impl_->wake.notify_all();
  return handle;
}

void event_hub::unsubscribe(uint64_t handle) {
  std::lock_guard<std::mutex> guard{impl_->mu};
  impl_->leaving.push_back(handle);
}

void event_hub::end_run(const std::string& run_id, const std::string& why) {
  std::lock_guard<std::mutex> guard{impl_->mu};
  impl_->ended.emplace_back(run_id, why);
}

size_t event_hub::subscribers() const {
  std::lock_guard<std::mutex> guard{impl_->mu};
  return impl_->count;
}

} // namespace troupe::serve
