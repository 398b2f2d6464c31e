#include "actors/journal.hpp"

#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "actors/run_reader.hpp"
#include "persistence/run_owner.hpp"
#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

struct journal_state {
  static inline const char* name = "troupe.journal";

  journal_config cfg;
  std::shared_ptr<persistence::store> db;
  std::vector<persistence::sealed_event> batch;
  /// Durable appends in `batch`, answered after its COMMIT.
  struct durable_waiter {
    caf::response_promise promise;
    uint32_t seq;
    std::string run_id;
  };
  std::vector<durable_waiter> durable_waiters;
  /// Runs whose append was refused (another process took the run over, or
  /// the inbox was full): every later append to them is refused with the
  /// same error, so their journal stays a prefix of what the run did, also
  /// for quiet appends sent before the run heard of the refusal.
  std::unordered_map<std::string, caf::error> refused;
  std::vector<caf::response_promise> flush_waiters;
  /// Next seq per run, including accepted but uncommitted events.
  std::unordered_map<std::string, uint32_t> last_seq;
  bool commit_scheduled = false;
  /// Times the scheduled commit let newer appends join it (see on_commit).
  unsigned deferrals = 0;
  caf::error failure; ///< sticky: set by a failed commit, cleared by reopen
  journal_stats stats;
};

using journal_actor = caf::stateful_actor<journal_state>;

caf::error not_owner(const journal_state& st, const std::string& run_id) {
  return caf::make_error(journal_errc::not_owner,
                         st.cfg.path + ": run " + run_id
                           + " is not this process's to write: another process took it "
                             "over (our lease expired or it was never claimed here; "
                             "resume claims runs); nothing more is written for it here");
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

caf::error writer_failed(const journal_state& st) {
  return caf::make_error(journal_errc::writer_failed,
                         st.cfg.path + ": journal writer stopped after a "
                                       "failed commit ("
                           + render(st.failure) + "); reopen it");
}

void commit(journal_actor* self) {
  auto& st = self->state;
  st.commit_scheduled = false;
  if (st.batch.empty() && st.flush_waiters.empty())
    return;
  std::vector<std::string> refused;
  auto began = std::chrono::steady_clock::now();
  auto err = st.db->append(st.batch, &refused);
  if (st.cfg.meter && !err && st.batch.size() > refused.size())
    st.cfg.meter->committed(st.batch.size() - refused.size(),
                            std::chrono::duration<double>(std::chrono::steady_clock::now()
                                                          - began)
                              .count());
  if (err) {
    spdlog::error("journal commit of {} events failed: {}", st.batch.size(),
                  render(err));
    st.failure = err;
    st.last_seq.clear();
    auto reply = writer_failed(st);
    for (auto& w : st.durable_waiters)
      w.promise.deliver(reply);
    for (auto& rp : st.flush_waiters)
      rp.deliver(reply);
  } else {
    for (auto& run_id : refused) {
      spdlog::warn("journal {}: run {} was taken over by another process; its "
                   "events from this process are dropped",
                   st.cfg.path, run_id);
      st.refused.emplace(run_id, not_owner(st, run_id));
      st.last_seq.erase(run_id);
    }
    st.stats.committed += st.batch.size();
    st.stats.commits += 1;
    st.stats.largest_batch =
      std::max<uint64_t>(st.stats.largest_batch, st.batch.size());
    for (auto& w : st.durable_waiters)
      if (auto i = st.refused.find(w.run_id); i != st.refused.end())
        w.promise.deliver(i->second);
      else
        w.promise.deliver(w.seq);
    for (auto& rp : st.flush_waiters)
      rp.deliver(caf::unit);
  }
  st.batch.clear();
  st.durable_waiters.clear();
  st.flush_waiters.clear();
}

// Queues a commit behind every append already in the inbox: all of them join
// one transaction. A full batch commits at once.
void schedule_commit(journal_actor* self) {
  auto& st = self->state;
  if (st.batch.size() >= st.cfg.max_batch) {
    commit(self);
    return;
  }
  if (!st.commit_scheduled) {
    st.commit_scheduled = true;
    self->send(self, commit_atom::value);
  }
}

// The checks every append passes before it gets a seq: a writer that has
// failed, and a full inbox, whose refusal sticks to the run (`run_of` names
// it, or nothing when the draft does not say).
template <class RunOf>
caf::error admit(journal_actor* self, RunOf&& run_of) {
  auto& st = self->state;
  if (st.failure)
    return writer_failed(st);
  auto depth = self->mailbox().size();
  if (st.cfg.meter)
    st.cfg.meter->inbox(depth);
  if (depth <= st.cfg.inbox_capacity)
    return {};
  ++st.stats.rejected_busy;
  if (st.cfg.meter)
    st.cfg.meter->rejected_busy();
  auto busy = caf::make_error(journal_errc::busy,
                              st.cfg.path + ": journal inbox over capacity ("
                                + std::to_string(st.cfg.inbox_capacity)
                                + " appends waiting); retry later");
  if (std::optional<std::string> run_id = run_of(); run_id && st.refused.count(*run_id) == 0) {
    spdlog::warn("journal {}: run {}: an append was refused ({}); every later append of "
                 "the run is refused too", st.cfg.path, *run_id, render(busy));
    st.refused.emplace(*run_id,
                       caf::make_error(journal_errc::busy,
                                       "run " + *run_id + ": an earlier append was "
                                         "refused (" + render(busy)
                                         + "); nothing more is written for it"));
  }
  return busy;
}

// The run's last seq, accepted appends included: a sticky refusal, or where
// the next seq is counted.
caf::expected<uint32_t*> position(journal_actor* self, const std::string& run_id) {
  auto& st = self->state;
  if (!st.refused.empty())
    if (auto i = st.refused.find(run_id); i != st.refused.end())
      return i->second;
  auto it = st.last_seq.find(run_id);
  if (it == st.last_seq.end()) {
    auto committed = st.db->last_seq(run_id);
    if (!committed)
      return std::move(committed.error());
    it = st.last_seq.emplace(run_id, *committed).first;
  }
  return &it->second;
}

void enqueue(journal_actor* self, persistence::sealed_event&& ev) {
  auto& st = self->state;
  st.batch.push_back(std::move(ev));
  ++st.stats.accepted;
  if (st.cfg.meter)
    st.cfg.meter->accepted();
}

// Takes the draft by reference: CAF hands a message that has one owner to the
// handler without a copy, so the seq is written into the draft in place.
caf::expected<uint32_t> accept(journal_actor* self, event_bytes& draft) {
  auto run_of = [&]() -> std::optional<std::string> {
    if (auto h = peek_header(draft))
      return std::move(h->run_id);
    return std::nullopt;
  };
  if (auto err = admit(self, run_of))
    return err;
  uint32_t* last = nullptr;
  auto next_seq = [&](const std::string& run_id) -> caf::expected<uint32_t> {
    auto pos = position(self, run_id);
    if (!pos)
      return std::move(pos.error());
    last = *pos;
    return *last + 1;
  };
  auto header = stamp(draft, next_seq);
  if (!header) {
    // The store's and the journal's own refusals (a sticky one) as they are.
    if (header.error().category() == caf::atom("store")
        || header.error().category() == caf::atom("journal"))
      return std::move(header.error());
    return caf::make_error(journal_errc::bad_event,
                           "journal append rejected: " + render(header.error()));
  }
  *last = header->seq;
  auto seq = header->seq;
  enqueue(self, {std::move(*header), std::move(draft), {}});
  return seq;
}

// A run's draft: its header and stored form are made by the run, so only the
// seq is stamped here.
caf::expected<uint32_t> accept(journal_actor* self, persistence::sealed_event& draft) {
  if (auto err = admit(self, [&] { return std::optional<std::string>(draft.header.run_id); }))
    return err;
  auto pos = position(self, draft.header.run_id);
  if (!pos)
    return std::move(pos.error());
  auto seq = ++**pos;
  draft.header.seq = seq;
  enqueue(self, std::move(draft));
  return seq;
}

// Appends that arrived while the batch was forming are still in the inbox;
// letting them join costs them no wait and saves a whole fsync. The number of
// deferrals is bounded, so a steady stream cannot postpone a commit for long.
constexpr unsigned max_deferrals = 2;

void on_commit(journal_actor* self) {
  auto& st = self->state;
  if (st.deferrals < max_deferrals && !self->mailbox().empty()) {
    ++st.deferrals;
    self->send(self, commit_atom::value);
    return;
  }
  st.deferrals = 0;
  commit(self);
}

template <class Draft>
void quiet_append(journal_actor* self, const caf::actor& notify, Draft& draft) {
  auto seq = accept(self, draft);
  if (!seq) {
    self->send(notify, refused_atom::value, std::move(seq.error()));
    return;
  }
  schedule_commit(self);
}

template <class Draft>
caf::result<uint32_t> durable_append(journal_actor* self, Draft& draft) {
  auto& st = self->state;
  auto seq = accept(self, draft);
  if (!seq)
    return std::move(seq.error());
  if (st.cfg.meter)
    st.cfg.meter->durable();
  auto rp = self->make_response_promise<uint32_t>();
  st.durable_waiters.push_back({rp, *seq, st.batch.back().header.run_id});
  schedule_commit(self);
  return rp;
}

caf::behavior journal(journal_actor* self, journal_config cfg,
                      std::shared_ptr<persistence::store> db) {
  self->state.cfg = std::move(cfg);
  self->state.db = std::move(db);
  if (self->state.cfg.renew_interval.count() > 0)
    self->delayed_send(self, self->state.cfg.renew_interval, renew_atom::value);
  return {
    [=](append_atom, event_bytes& draft) -> caf::result<uint32_t> {
      auto seq = accept(self, draft);
      if (!seq)
        return std::move(seq.error());
      schedule_commit(self);
      return *seq;
    },
    [=](append_atom, const caf::actor& notify, event_bytes& draft) {
      quiet_append(self, notify, draft);
    },
    [=](append_atom, const caf::actor& notify, persistence::sealed_event& draft) {
      quiet_append(self, notify, draft);
    },
    [=](append_atom, durable_atom, event_bytes& draft) -> caf::result<uint32_t> {
      return durable_append(self, draft);
    },
    [=](append_atom, durable_atom,
        persistence::sealed_event& draft) -> caf::result<uint32_t> {
      return durable_append(self, draft);
    },
    [=](flush_atom) -> caf::result<void> {
      auto& st = self->state;
      if (st.failure)
        return writer_failed(st);
      if (st.batch.empty())
        return caf::unit;
      auto rp = self->make_response_promise<void>();
      st.flush_waiters.push_back(rp);
      schedule_commit(self);
      return rp;
    },
    [=](commit_atom) { on_commit(self); },
    [=](reopen_atom) -> caf::result<void> {
      auto& st = self->state;
      // Accepted appends hold seqs stamped against the current positions;
      // commit them before the positions are re-read from the file.
      if (!st.failure && !st.batch.empty())
        commit(self);
      auto fresh = persistence::store::open(st.cfg.path,
                                            persistence::open_mode::read_write);
      if (!fresh)
        return std::move(fresh.error());
      if (auto err = fresh->write_as(st.cfg.owner, st.cfg.lease.count()))
        return err;
      st.db = std::make_shared<persistence::store>(std::move(*fresh));
      st.failure = caf::error{};
      st.last_seq.clear();
      spdlog::info("journal {} reopened", st.cfg.path);
      return caf::unit;
    },
    [=](stats_atom) { return self->state.stats; },
    [=](claim_atom, const std::string& run_id) -> caf::result<void> {
      auto& st = self->state;
      if (!st.failure && !st.batch.empty())
        commit(self);
      if (st.failure)
        return writer_failed(st);
      if (auto err = st.db->claim_run(run_id, now_us()))
        return err;
      st.refused.erase(run_id);
      st.last_seq.erase(run_id);
      return caf::unit;
    },
    [=](renew_atom) {
      auto& st = self->state;
      self->delayed_send(self, st.cfg.renew_interval, renew_atom::value);
      if (st.failure)
        return;
      if (auto err = st.db->renew_leases(now_us()))
        spdlog::warn("journal {}: renewing run leases failed (retried in {} ms): {}",
                     st.cfg.path, st.cfg.renew_interval.count(), render(err));
    },
    [=](read_atom, const std::string& run_id) -> caf::result<rebuilt_run> {
      auto& st = self->state;
      if (!st.failure && !st.batch.empty())
        commit(self);
      if (st.failure)
        return writer_failed(st);
      // The one run reader: every row verified and decoded once, here; only
      // the latest checkpoint and the events after it are kept.
      auto run = read_run(*st.db, run_id);
      if (!run)
        return std::move(run.error());
      return std::move(*run);
    },
    [=](unfinished_atom) -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      if (!st.failure && !st.batch.empty())
        commit(self);
      if (st.failure)
        return writer_failed(st);
      auto runs = st.db->list_runs(run_status::running);
      if (!runs)
        return std::move(runs.error());
      // A child whose parent is unfinished too comes back through its
      // parent: the parent's delegate call finds it again.
      std::set<std::string> unfinished;
      for (auto& r : *runs)
        unfinished.insert(r.run_id);
      std::vector<std::string> ids;
      ids.reserve(runs->size());
      for (auto& r : *runs)
        if (r.parent_run_id.empty() || unfinished.count(r.parent_run_id) == 0)
          ids.push_back(std::move(r.run_id));
      return ids;
    },
  };
}

} // namespace

caf::expected<caf::actor> spawn_journal(caf::actor_system& sys,
                                        journal_config cfg) {
  if (cfg.owner.empty())
    cfg.owner = persistence::this_process_owner();
  auto db = persistence::store::open(cfg.path,
                                     persistence::open_mode::read_write);
  if (!db)
    return std::move(db.error());
  if (auto err = db->write_as(cfg.owner, cfg.lease.count()))
    return err;
  auto owned = std::make_shared<persistence::store>(std::move(*db));
  if (cfg.detached)
    return sys.spawn<caf::detached>(journal, cfg, std::move(owned));
  return sys.spawn(journal, cfg, std::move(owned));
}

} // namespace troupe
