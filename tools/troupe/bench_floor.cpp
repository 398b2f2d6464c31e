#include "tools/troupe/bench_floor.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>
#include <unordered_map>

#include "persistence/store.hpp"
#include "persistence/writer_sql.hpp"
#include "schemas/errors.hpp"

namespace troupe::cli {

fsync_floor measure_fsync_floor(const std::string& dir, double seconds) {
  using clock_type = std::chrono::steady_clock;
  fsync_floor out;
  auto path = dir + "/fsync-floor.bin";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    out.error = path + ": " + std::strerror(errno);
    return out;
  }
  std::vector<char> page(4096, 'x');
  std::vector<double> lat_us;
  auto start = clock_type::now();
  auto budget = std::chrono::duration<double>(seconds);
  while (lat_us.size() < 20 || clock_type::now() - start < budget) {
    auto t0 = clock_type::now();
    if (::write(fd, page.data(), page.size()) != static_cast<ssize_t>(page.size())
        || ::fdatasync(fd) != 0) {
      out.error = path + ": " + std::strerror(errno);
      break;
    }
    lat_us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  auto total_s = std::chrono::duration<double>(clock_type::now() - start).count();
  ::close(fd);
  ::unlink(path.c_str());
  if (lat_us.empty())
    return out;
  out.syncs = lat_us.size();
  out.per_s = static_cast<double>(lat_us.size()) / total_s;
  std::sort(lat_us.begin(), lat_us.end());
  auto at = [&](double p) {
    return lat_us[static_cast<size_t>(p * static_cast<double>(lat_us.size() - 1))];
  };
  out.p50_us = at(0.5);
  out.p99_us = at(0.99);
  return out;
}

namespace {

/// One events row as the source journal holds it.
struct event_row {
  int64_t run = 0;
  int64_t seq = 0;
  std::string kind;
  int64_t ts_us = 0;
  std::string body;
  int64_t crc = 0;
  std::string hash;
};

/// One runs row's columns that an insert sets.
struct run_row {
  std::string run_id, parent_run_id, root_run_id, agent, tenant;
  int64_t created_us = 0;
};

std::string blob(sqlite3_stmt* st, int col) {
  auto* p = static_cast<const char*>(sqlite3_column_blob(st, col));
  return p == nullptr ? std::string{} : std::string(p, sqlite3_column_bytes(st, col));
}

std::string text(sqlite3_stmt* st, int col) {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p == nullptr ? std::string{} : std::string(p);
}

// A connection and its statements, closed whatever happens.
struct connection {
  sqlite3* db = nullptr;
  std::vector<sqlite3_stmt*> statements;
  ~connection() {
    for (auto* st : statements)
      sqlite3_finalize(st);
    sqlite3_close(db);
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK)
      return nullptr;
    statements.push_back(st);
    return st;
  }
  std::string error(const std::string& doing) const {
    return doing + ": " + (db == nullptr ? "out of memory" : sqlite3_errmsg(db));
  }
};

std::string read_source(const std::string& from, std::vector<event_row>& events,
                        std::unordered_map<int64_t, run_row>& runs) {
  connection src;
  if (sqlite3_open_v2(from.c_str(), &src.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return src.error(from + ": opening");
  auto* rs = src.prepare("SELECT id, run_id, parent_run_id, root_run_id, agent, tenant, "
                         "created_us FROM runs");
  auto* es = src.prepare("SELECT run, seq, kind, ts_us, body, crc, hash FROM events ORDER BY id");
  if (rs == nullptr || es == nullptr)
    return src.error(from + ": reading");
  while (sqlite3_step(rs) == SQLITE_ROW)
    runs[sqlite3_column_int64(rs, 0)] = {text(rs, 1), text(rs, 2), text(rs, 3),
                                         text(rs, 4), text(rs, 5), sqlite3_column_int64(rs, 6)};
  while (sqlite3_step(es) == SQLITE_ROW)
    events.push_back({sqlite3_column_int64(es, 0), sqlite3_column_int64(es, 1), text(es, 2),
                      sqlite3_column_int64(es, 3), blob(es, 4), sqlite3_column_int64(es, 5),
                      blob(es, 6)});
  return {};
}

} // namespace

storage_floor measure_storage_floor(const std::string& from, const std::string& to,
                                    uint64_t batch) {
  using clock_type = std::chrono::steady_clock;
  storage_floor out;
  std::vector<event_row> events;
  std::unordered_map<int64_t, run_row> runs;
  out.error = read_source(from, events, runs);
  if (!out.error.empty())
    return out;
  {
    // The journal's own schema and WAL mode, made by the store.
    auto created = persistence::store::open(to, persistence::open_mode::read_write);
    if (!created) {
      out.error = render(created.error());
      return out;
    }
  }
  connection dst;
  if (sqlite3_open_v2(to.c_str(), &dst.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK
      || sqlite3_exec(dst.db, "PRAGMA synchronous = FULL", nullptr, nullptr, nullptr)
           != SQLITE_OK)
  {
    out.error = dst.error(to + ": opening");
    return out;
  }
  // The statements of the journal's writer.
  auto* ins = dst.prepare(persistence::writer_sql::insert_event);
  auto* ins_run = dst.prepare(persistence::writer_sql::insert_run);
  auto* pos = dst.prepare(persistence::writer_sql::update_position);
  if (ins == nullptr || ins_run == nullptr || pos == nullptr) {
    out.error = dst.error(to + ": preparing");
    return out;
  }
  auto step = [&](sqlite3_stmt* st) {
    auto rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
  };
  std::unordered_map<int64_t, int64_t> run_ids;          // source id -> ours
  std::unordered_map<int64_t, std::pair<int64_t, int64_t>> touched; // ours -> seq, ts
  batch = std::max<uint64_t>(batch, 1);
  auto t0 = clock_type::now();
  for (size_t i = 0; i < events.size() && out.error.empty();) {
    sqlite3_exec(dst.db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    touched.clear();
    for (uint64_t n = 0; n < batch && i < events.size(); ++n, ++i) {
      auto& e = events[i];
      auto id = run_ids.find(e.run);
      if (id == run_ids.end()) {
        auto& r = runs[e.run];
        sqlite3_bind_text(ins_run, 1, r.run_id.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_run, 2, r.parent_run_id.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_run, 3, r.root_run_id.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_run, 4, r.agent.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_run, 5, r.tenant.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins_run, 6, r.created_us);
        if (!step(ins_run)) {
          out.error = dst.error(to + ": inserting run " + r.run_id);
          break;
        }
        id = run_ids.emplace(e.run, sqlite3_last_insert_rowid(dst.db)).first;
      }
      sqlite3_bind_int64(ins, 1, id->second);
      sqlite3_bind_int64(ins, 2, e.seq);
      sqlite3_bind_text(ins, 3, e.kind.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_int64(ins, 4, e.ts_us);
      sqlite3_bind_blob(ins, 5, e.body.data(), static_cast<int>(e.body.size()), SQLITE_STATIC);
      sqlite3_bind_int64(ins, 6, e.crc);
      sqlite3_bind_blob(ins, 7, e.hash.data(), static_cast<int>(e.hash.size()), SQLITE_STATIC);
      if (!step(ins)) {
        out.error = dst.error(to + ": inserting an event");
        break;
      }
      touched[id->second] = {e.seq, e.ts_us};
      ++out.rows;
    }
    for (auto& [run, at] : touched) {
      sqlite3_bind_int64(pos, 1, run);
      sqlite3_bind_int64(pos, 2, at.first);
      sqlite3_bind_int64(pos, 3, at.second);
      if (!step(pos) && out.error.empty())
        out.error = dst.error(to + ": updating run positions");
    }
    if (sqlite3_exec(dst.db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK
        && out.error.empty())
      out.error = dst.error(to + ": committing");
    ++out.commits;
  }
  out.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  return out;
}

int64_t process_cpu_us() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) {
    return static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

} // namespace troupe::cli
