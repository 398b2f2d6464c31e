// `troupe bench journal`: the journal actor's group commit against raw SQLite
// on the same row shape, measured in the same run on the same disk.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include "actors/atoms.hpp"
#include "actors/journal.hpp"
#include "persistence/hash_chain.hpp"
#include "persistence/store.hpp"
#include "persistence/writer_sql.hpp"
#include "schemas/codec.hpp"
#include "schemas/stored_form.hpp"
#include "schemas/errors.hpp"
#include "schemas/json_text.hpp"
#include "tools/troupe/commands.hpp"

namespace troupe::cli {

namespace {

using clock_type = std::chrono::steady_clock;
using done_atom = caf::atom_constant<caf::atom("done")>;

int64_t micros_since(clock_type::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           clock_type::now() - t0)
    .count();
}

event_bytes sample_draft(const std::string& run_id) {
  event ev;
  ev.run_id = run_id; // a top-level run: root and parent empty, as the run actor writes
  ev.ts_us = 1;
  ev.body = tool_result{"call-0001", "echo", true,
                        R"({"i":42,"note":"a typical small tool result"})"};
  return encode(ev);
}

struct appender_state {
  uint64_t to_send = 0;
  uint64_t in_flight = 0;
  std::vector<int64_t> latencies_us;
  caf::error failure;
};

caf::behavior appender(caf::stateful_actor<appender_state>* self,
                       caf::actor journal, event_bytes draft, uint64_t count,
                       unsigned window, bool durable, caf::actor reporter) {
  auto& st = self->state;
  st.to_send = count;
  st.latencies_us.reserve(count);
  persistence::sealed_event prepared;
  auto header = peek_header(draft);
  auto stored = to_stored(draft);
  if (!header || !stored) {
    st.failure = !header ? header.error() : stored.error();
    st.to_send = 0;
  } else {
    prepared = {std::move(*header), {}, std::move(*stored)};
  }
  auto finish_if_done = [=] {
    auto& s = self->state;
    if (s.in_flight == 0 && (s.to_send == 0 || s.failure)) {
      self->send(reporter, done_atom::value, std::move(s.latencies_us),
                 render(s.failure));
      self->quit();
    }
  };
  auto send_one = [=](auto& again) -> void {
    auto& s = self->state;
    --s.to_send;
    ++s.in_flight;
    auto t0 = clock_type::now();
    auto on_ok = [=](uint32_t) {
      auto& s2 = self->state;
      --s2.in_flight;
      s2.latencies_us.push_back(micros_since(t0));
      if (s2.to_send > 0 && !s2.failure)
        again(again);
      finish_if_done();
    };
    auto on_err = [=](caf::error& err) {
      self->state.failure = err;
      --self->state.in_flight;
      finish_if_done();
    };
    if (durable)
      // As runs append: the header and stored form made by the sender.
      self->request(journal, caf::infinite, append_atom::value,
                    durable_atom::value, prepared)
        .then(on_ok, on_err);
    else
      self->request(journal, caf::infinite, append_atom::value, draft)
        .then(on_ok, on_err);
  };
  for (unsigned i = 0; i < window && self->state.to_send > 0; ++i)
    send_one(send_one);
  finish_if_done(); // nothing to send: the draft did not encode
  return {[](caf::unit_t) {}};
}

struct phase_result {
  double events_per_s = 0;
  std::vector<int64_t> latencies_us;
  journal_stats stats;
  std::string error;
};

phase_result run_journal_phase(const bench_journal_options& opts,
                               const std::string& path, bool durable) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  phase_result out;
  journal_config jc;
  jc.path = path;
  auto journal = spawn_journal(sys, jc);
  if (!journal) {
    out.error = render(journal.error());
    return out;
  }
  caf::scoped_actor self{sys};
  auto per = opts.events / opts.appenders;
  auto t0 = clock_type::now();
  for (unsigned a = 0; a < opts.appenders; ++a)
    sys.spawn(appender, *journal, sample_draft("bench-" + std::to_string(a)),
              per + (a < opts.events % opts.appenders ? 1 : 0), opts.window,
              durable, caf::actor{self});
  for (unsigned a = 0; a < opts.appenders; ++a)
    self->receive([&](done_atom, std::vector<int64_t>& lat, std::string& err) {
      out.latencies_us.insert(out.latencies_us.end(), lat.begin(), lat.end());
      if (err != "no error" && out.error.empty())
        out.error = err;
    });
  self->request(*journal, caf::infinite, flush_atom::value)
    .receive([] {}, [&](caf::error& err) { out.error = render(err); });
  auto elapsed = micros_since(t0);
  self->request(*journal, caf::infinite, stats_atom::value)
    .receive([&](journal_stats& s) { out.stats = s; },
             [&](caf::error&) {});
  out.events_per_s = static_cast<double>(opts.events) * 1e6
                     / static_cast<double>(std::max<int64_t>(elapsed, 1));
  self->send_exit(*journal, caf::exit_reason::user_shutdown);
  return out;
}

// The baseline: one connection, the same pragmas, schema and row contents,
// prepared INSERTs, one transaction per batch of the size the journal can
// form at most (appenders x window).
phase_result run_raw_phase(const bench_journal_options& opts,
                           const std::string& path) {
  phase_result out;
  {
    auto created = persistence::store::open(path,
                                            persistence::open_mode::read_write);
    if (!created) {
      out.error = render(created.error());
      return out;
    }
  }
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                  nullptr);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                   "INSERT INTO runs(run_id, created_us, updated_us) "
                   "VALUES('raw', 0, 0)",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, persistence::writer_sql::insert_event, -1, &ins, nullptr);
  sqlite3_bind_int64(ins, 1, 1); // the one run; bindings outlive reset
  sqlite3_bind_text(ins, 3, "tool_result", -1, SQLITE_STATIC);
  // Same row shape as the journal's: the stored (packed, envelope-free) body
  // and one hash chain link per batch, on its last row.
  auto draft = to_stored(sample_draft("raw"));
  auto link = persistence::chain_seed("raw");
  if (!draft || !link) {
    out.error = !draft ? render(draft.error()) : render(link.error());
    return out;
  }
  std::string rows;
  static constexpr char no_link[1] = {0};
  uint64_t batch = uint64_t{opts.appenders} * opts.window;
  auto t0 = clock_type::now();
  for (uint64_t i = 0; i < opts.events;) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (uint64_t j = 0; j < batch && i < opts.events; ++j, ++i) {
      auto seq = static_cast<uint32_t>(i + 1);
      sqlite3_bind_int64(ins, 2, seq);
      sqlite3_bind_int64(ins, 4, static_cast<int64_t>(i));
      sqlite3_bind_blob(ins, 5, draft->data(), static_cast<int>(draft->size()),
                        SQLITE_STATIC);
      sqlite3_bind_int64(ins, 6, checksum(draft->data(), draft->size()));
      persistence::add_chain_row(rows, seq, static_cast<int64_t>(i), draft->data(),
                                 draft->size());
      if (j + 1 == batch || i + 1 == opts.events) {
        link = persistence::chain_next(*link, rows.data(), rows.size());
        rows.clear();
        if (!link) {
          out.error = render(link.error());
          break;
        }
        sqlite3_bind_blob(ins, 7, link->data(), static_cast<int>(link->size()),
                          SQLITE_STATIC);
      } else {
        sqlite3_bind_blob(ins, 7, no_link, 0, SQLITE_STATIC);
      }
      if (sqlite3_step(ins) != SQLITE_DONE && out.error.empty())
        out.error = sqlite3_errmsg(db);
      sqlite3_reset(ins);
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK
        && out.error.empty())
      out.error = sqlite3_errmsg(db);
  }
  auto elapsed = micros_since(t0);
  sqlite3_finalize(ins);
  sqlite3_close(db);
  out.events_per_s = static_cast<double>(opts.events) * 1e6
                     / static_cast<double>(std::max<int64_t>(elapsed, 1));
  return out;
}

// page_count x page_size: the file's size once its WAL is checkpointed.
uint64_t file_bytes(const std::string& path) {
  sqlite3* db = nullptr;
  uint64_t out = 0;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    uint64_t pages = 0, size = 0;
    for (auto [sql, x] : {std::pair{"PRAGMA page_count", &pages}, {"PRAGMA page_size", &size}}) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK
          && sqlite3_step(st) == SQLITE_ROW)
        *x = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
      sqlite3_finalize(st);
    }
    out = pages * size;
  }
  sqlite3_close(db);
  return out;
}

int64_t percentile(std::vector<int64_t>& xs, double p) {
  if (xs.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  std::nth_element(xs.begin(), xs.begin() + static_cast<long>(k), xs.end());
  return xs[k];
}

} // namespace

int bench_journal(const bench_journal_options& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = opts.dir.empty()
                   ? fs::temp_directory_path(ec)
                       / ("troupe-bench-" + std::to_string(::getpid()))
                   : fs::path(opts.dir);
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "troupe: --dir " << dir << ": " << ec.message() << "\n";
    return exit_usage;
  }
  auto progress = [&](const char* what) {
    if (!opts.json)
      std::fprintf(stderr, "%s (%llu events)...\n", what,
                   static_cast<unsigned long long>(opts.events));
  };
  // The baseline runs first so it never pays for write-back the journal
  // phases left behind.
  progress("1/3 raw SQLite baseline");
  auto raw = run_raw_phase(opts, (dir / "raw.db").string());
  progress("2/3 journal actor, durable appends");
  auto durable = run_journal_phase(opts, (dir / "durable.db").string(), true);
  progress("3/3 journal actor, fire-and-forget appends");
  auto ff = run_journal_phase(opts, (dir / "ff.db").string(), false);
  auto durable_file = file_bytes((dir / "durable.db").string());
  auto sample = to_stored(sample_draft("bench-0"));
  auto stored_bytes = sample ? sample->size() : 0;
  if (opts.dir.empty())
    fs::remove_all(dir, ec);
  for (auto* r : {&durable, &ff, &raw})
    if (!r->error.empty()) {
      std::cerr << "troupe: bench journal failed: " << r->error << "\n";
      return exit_failure;
    }
  auto p50 = percentile(durable.latencies_us, 0.50);
  auto p99 = percentile(durable.latencies_us, 0.99);
  double ratio = durable.events_per_s / raw.events_per_s;
  double mean_batch =
    durable.stats.commits == 0
      ? 0.0
      : static_cast<double>(durable.stats.committed)
          / static_cast<double>(durable.stats.commits);
  if (opts.json) {
    nlohmann::ordered_json out{
      {"bench", "journal"},
      {"events", opts.events},
      {"appenders", opts.appenders},
      {"window", opts.window},
      {"durable_events_per_s", durable.events_per_s},
      {"fire_and_forget_events_per_s", ff.events_per_s},
      {"durable_ack_p50_us", p50},
      {"durable_ack_p99_us", p99},
      {"durable_commits", durable.stats.commits},
      {"durable_mean_batch", mean_batch},
      {"raw_sqlite_events_per_s", raw.events_per_s},
      {"raw_batch", uint64_t{opts.appenders} * opts.window},
      {"ratio_durable_vs_raw", ratio},
      {"ratio_target", 0.5},
      {"event_bytes", sample_draft("bench-0").size()},
      {"stored_body_bytes", stored_bytes},
      {"durable_file_bytes", durable_file},
      {"durable_file_bytes_per_event",
       static_cast<double>(durable_file) / static_cast<double>(std::max<uint64_t>(opts.events, 1))}};
    std::cout << to_json_text(out) << std::endl;
  } else {
    std::printf("durable          %12.0f events/s  (ack p50 %lld us, p99 %lld "
                "us; %llu commits, mean batch %.1f)\n",
                durable.events_per_s, static_cast<long long>(p50),
                static_cast<long long>(p99),
                static_cast<unsigned long long>(durable.stats.commits),
                mean_batch);
    std::printf("fire-and-forget  %12.0f events/s\n", ff.events_per_s);
    std::printf("raw SQLite       %12.0f events/s  (batches of %u)\n",
                raw.events_per_s, opts.appenders * opts.window);
    std::printf("ratio durable / raw: %.2f (target >= 0.5: %s)\n", ratio,
                ratio >= 0.5 ? "met" : "NOT MET");
    std::printf("rows: a %zu-byte event stored as %zu bytes; the durable journal file "
                "%.0f bytes per event\n",
                sample_draft("bench-0").size(), stored_bytes,
                static_cast<double>(durable_file)
                  / static_cast<double>(std::max<uint64_t>(opts.events, 1)));
  }
  return exit_ok;
}

} // namespace troupe::cli
