#include "actors/sandbox_pool.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

#include <caf/atom.hpp>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/detail/sandbox_request.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace fs = std::filesystem;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

caf::error pool_error(sandbox_errc code, std::string msg) {
  return caf::make_error(code, std::move(msg));
}

std::vector<std::pair<dev_t, ino_t>> identify(const std::vector<fs::path>& roots) {
  std::vector<std::pair<dev_t, ino_t>> out;
  for (const auto& r : roots) {
    struct stat st{};
    if (stat(r.c_str(), &st) == 0)
      out.emplace_back(st.st_dev, st.st_ino);
    else
      out.emplace_back(0, 0);
  }
  return out;
}

std::string errno_text(int err) {
  return std::error_code{err, std::generic_category()}.message();
}

json::binary_t as_binary(const std::string& s) {
  return json::binary_t{std::vector<uint8_t>(s.begin(), s.end())};
}

std::string from_binary(const json& j) {
  const auto& b = j.get_binary();
  return std::string(b.begin(), b.end());
}

json encode_result(const sandbox_result& r) {
  return json{{"exit_code", r.exit_code},
              {"signal", r.signal},
              {"timed_out", r.timed_out},
              {"limit_breached", r.limit_breached},
              {"stdout", as_binary(r.stdout_data)},
              {"stderr", as_binary(r.stderr_data)},
              {"stdout_truncated", r.stdout_truncated},
              {"stderr_truncated", r.stderr_truncated},
              {"stdout_total", r.stdout_bytes_total},
              {"stderr_total", r.stderr_bytes_total},
              {"wall_us", r.wall_us},
              {"isolation", r.isolation}};
}

sandbox_result decode_result(const json& j) {
  sandbox_result r;
  r.exit_code = j.at("exit_code").get<int>();
  r.signal = j.at("signal").get<int>();
  r.timed_out = j.at("timed_out").get<bool>();
  r.limit_breached = j.at("limit_breached").get<bool>();
  r.stdout_data = from_binary(j.at("stdout"));
  r.stderr_data = from_binary(j.at("stderr"));
  r.stdout_truncated = j.at("stdout_truncated").get<bool>();
  r.stderr_truncated = j.at("stderr_truncated").get<bool>();
  r.stdout_bytes_total = j.at("stdout_total").get<uint64_t>();
  r.stderr_bytes_total = j.at("stderr_total").get<uint64_t>();
  r.wall_us = j.at("wall_us").get<uint64_t>();
  r.isolation = j.at("isolation").get<std::string>();
  return r;
}

std::string to_cbor_string(const json& j) {
  auto bytes = json::to_cbor(j);
  return std::string(bytes.begin(), bytes.end());
}

// Only the worker's own errors cross the socket; they are all sandbox_errc.
caf::error error_from_wire(const json& j) {
  auto code = j.at("code").get<uint8_t>();
  auto message = j.at("message").get<std::string>();
  if (code < static_cast<uint8_t>(sandbox_errc::unavailable)
      || code > static_cast<uint8_t>(sandbox_errc::invalid_request))
    code = static_cast<uint8_t>(sandbox_errc::spawn_failed);
  return pool_error(static_cast<sandbox_errc>(code), std::move(message));
}

json error_to_wire(const caf::error& err) {
  uint8_t code = err.category() == caf::atom("sandbox")
                   ? err.code()
                   : static_cast<uint8_t>(sandbox_errc::spawn_failed);
  return json{{"ok", false}, {"code", code}, {"message", render(err)}};
}

} // namespace

// -- wire protocol -------------------------------------------------------------

std::string detail::encode_request(const sandbox_request& req) {
  json argv = json::array();
  for (const auto& a : req.argv)
    argv.push_back(a);
  json roots = json::array();
  for (const auto& r : req.writable_roots)
    roots.push_back(r.string());
  const auto& l = req.limits;
  json j{{"argv", std::move(argv)},
         {"stdin", as_binary(req.stdin_data)},
         {"cwd", req.cwd.string()},
         {"roots", std::move(roots)},
         {"network", req.network},
         {"env", req.env},
         {"limits",
          {{"cpu_seconds", l.cpu_seconds},
           {"address_space_bytes", l.address_space_bytes},
           {"file_size_bytes", l.file_size_bytes},
           {"open_files", l.open_files},
           {"processes", l.processes},
           {"wall_timeout_ms", l.wall_timeout_ms},
           {"output_cap_bytes", l.output_cap_bytes},
           {"tmp_bytes", l.tmp_bytes}}}};
  return to_cbor_string(j);
}

caf::expected<sandbox_request> detail::decode_request(std::string_view bytes) {
  try {
    auto j = json::from_cbor(bytes.begin(), bytes.end());
    sandbox_request req;
    req.argv = j.at("argv").get<std::vector<std::string>>();
    req.stdin_data = from_binary(j.at("stdin"));
    req.cwd = j.at("cwd").get<std::string>();
    for (const auto& r : j.at("roots"))
      req.writable_roots.emplace_back(r.get<std::string>());
    req.network = j.at("network").get<bool>();
    req.env = j.at("env").get<std::map<std::string, std::string>>();
    const auto& l = j.at("limits");
    req.limits.cpu_seconds = l.at("cpu_seconds").get<uint32_t>();
    req.limits.address_space_bytes = l.at("address_space_bytes").get<uint64_t>();
    req.limits.file_size_bytes = l.at("file_size_bytes").get<uint64_t>();
    req.limits.open_files = l.at("open_files").get<uint32_t>();
    req.limits.processes = l.at("processes").get<uint32_t>();
    req.limits.wall_timeout_ms = l.at("wall_timeout_ms").get<uint64_t>();
    req.limits.output_cap_bytes = l.at("output_cap_bytes").get<uint64_t>();
    req.limits.tmp_bytes = l.at("tmp_bytes").get<uint64_t>();
    return req;
  } catch (const json::exception& e) {
    return pool_error(sandbox_errc::protocol_error,
                      std::string{"sandbox worker: malformed request frame: "} + e.what());
  }
}

std::string detail::encode_reply(const caf::expected<sandbox_result>& reply) {
  if (!reply)
    return to_cbor_string(error_to_wire(reply.error()));
  return to_cbor_string(json{{"ok", true}, {"result", encode_result(*reply)}});
}

caf::expected<sandbox_result> detail::decode_reply(std::string_view bytes) {
  try {
    auto j = json::from_cbor(bytes.begin(), bytes.end());
    if (!j.at("ok").get<bool>())
      return error_from_wire(j);
    return decode_result(j.at("result"));
  } catch (const json::exception& e) {
    return pool_error(sandbox_errc::protocol_error,
                      std::string{"sandbox pool: malformed reply frame: "} + e.what());
  }
}

std::string detail::encode_ready(uint32_t uid) {
  return to_cbor_string(json{{"ready", true}, {"uid", uid}});
}

caf::expected<uint32_t> detail::decode_ready(std::string_view bytes) {
  try {
    auto j = json::from_cbor(bytes.begin(), bytes.end());
    if (j.contains("ready") && j.at("ready").get<bool>())
      return j.at("uid").get<uint32_t>();
    return error_from_wire(j);
  } catch (const json::exception& e) {
    return pool_error(sandbox_errc::protocol_error,
                      std::string{"sandbox pool: malformed ready frame: "} + e.what());
  }
}

caf::error detail::write_frame(int fd, std::string_view payload) {
  if (payload.size() > max_frame_bytes)
    return pool_error(sandbox_errc::protocol_error,
                      "sandbox: frame of " + std::to_string(payload.size())
                        + " bytes exceeds the limit of " + std::to_string(max_frame_bytes));
  auto len = static_cast<uint32_t>(payload.size());
  std::string buf(reinterpret_cast<const char*>(&len), sizeof len);
  buf.append(payload);
  size_t off = 0;
  while (off < buf.size()) {
    auto n = send(fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return pool_error(sandbox_errc::worker_crashed,
                        "sandbox: writing a frame: " + errno_text(errno));
    off += static_cast<size_t>(n);
  }
  return caf::none;
}

namespace {

// Reads exactly `n` bytes before `deadline`; `what` names the failure.
caf::error read_exact(int fd, char* out, size_t n, clock_type::time_point deadline,
                      bool* eof_at_start) {
  size_t got = 0;
  while (got < n) {
    int wait = -1;
    if (deadline != clock_type::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - clock_type::now())
                    .count();
      if (left <= 0)
        return pool_error(sandbox_errc::worker_crashed,
                          "sandbox: no answer before the deadline");
      wait = static_cast<int>(std::min<int64_t>(left, 60000));
    }
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, wait);
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc == 0)
      continue; // re-check the deadline
    auto k = recv(fd, out + got, n - got, 0);
    if (k < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (k <= 0) {
      if (eof_at_start != nullptr)
        *eof_at_start = got == 0;
      return pool_error(sandbox_errc::worker_crashed,
                        k == 0 ? std::string{"sandbox: the peer closed the connection"}
                               : "sandbox: reading a frame: " + errno_text(errno));
    }
    got += static_cast<size_t>(k);
  }
  return caf::none;
}

} // namespace

caf::expected<std::string> detail::read_frame(int fd, uint64_t timeout_ms) {
  auto deadline = timeout_ms == 0 ? clock_type::time_point::max()
                                  : clock_type::now()
                                      + std::chrono::milliseconds{timeout_ms};
  uint32_t len = 0;
  if (auto err = read_exact(fd, reinterpret_cast<char*>(&len), sizeof len, deadline,
                            nullptr))
    return err;
  if (len > max_frame_bytes)
    return pool_error(sandbox_errc::protocol_error,
                      "sandbox: frame length " + std::to_string(len)
                        + " exceeds the limit of " + std::to_string(max_frame_bytes));
  std::string payload(len, '\0');
  if (auto err = read_exact(fd, payload.data(), len, deadline, nullptr))
    return err;
  return payload;
}

// -- the pool ------------------------------------------------------------------

struct sandbox_pool::worker {
  pid_t pid = -1;
  int fd = -1; // our end of the socketpair
  std::string key;
  bool network = false;
  std::vector<fs::path> roots;
  // The roots' (device, inode) when the worker mounted them: a root deleted
  // and created again on the host is another directory, which the worker
  // no longer shows.
  std::vector<std::pair<dev_t, ino_t>> root_ids;
  bool busy = false;
  uint32_t calls = 0;
  uint64_t last_used = 0; // pool-wide call counter when it was last picked
};

sandbox_pool::sandbox_pool(pool_config cfg) : cfg_(std::move(cfg)) {
  if (cfg_.max_workers == 0)
    cfg_.max_workers = std::max(cfg_.workers * 2, cfg_.workers + 1);
}

caf::expected<std::unique_ptr<sandbox_pool>> sandbox_pool::start(pool_config cfg) {
  if (access(cfg.worker_binary.c_str(), X_OK) != 0)
    return pool_error(sandbox_errc::spawn_failed,
                      "sandbox pool: worker binary '" + cfg.worker_binary
                        + "' is not executable: " + errno_text(errno));
  sandbox_request probe;
  probe.argv = {"true"};
  probe.writable_roots = cfg.writable_roots;
  probe.network = cfg.network;
  auto norm = detail::normalize_request(probe);
  if (!norm)
    return std::move(norm.error());
  cfg.writable_roots = norm->writable_roots;
  std::unique_ptr<sandbox_pool> pool{new sandbox_pool(std::move(cfg))};
  pool->default_key_ = detail::profile_key(pool->cfg_.network, pool->cfg_.writable_roots);
  for (size_t i = 0; i < pool->cfg_.workers; ++i) {
    auto w = pool->spawn_worker(pool->cfg_.network, pool->cfg_.writable_roots);
    if (!w)
      return std::move(w.error()); // the destructor stops those already started
    std::lock_guard<std::mutex> lk{pool->mu_};
    pool->workers_.push_back(std::move(*w));
  }
  pool->maintainer_ = std::thread{[p = pool.get()] { p->maintain(); }};
  return pool;
}

sandbox_pool::~sandbox_pool() {
  {
    std::lock_guard<std::mutex> lk{mu_};
    stopping_ = true;
  }
  maint_cv_.notify_all();
  idle_cv_.notify_all();
  if (maintainer_.joinable())
    maintainer_.join();
  std::unique_lock<std::mutex> lk{mu_};
  while (!workers_.empty())
    retire_locked(workers_.back().get(), false);
  // Closing the sockets asks every worker to exit; give them a moment, then
  // kill what is left so the destructor cannot hang.
  auto deadline = clock_type::now() + std::chrono::seconds{2};
  while (!exiting_.empty() && clock_type::now() < deadline) {
    reap_locked();
    if (!exiting_.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  for (auto& e : exiting_) {
    kill(e.pid, SIGKILL);
    while (waitpid(e.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

caf::expected<std::unique_ptr<sandbox_pool::worker>>
sandbox_pool::spawn_worker(bool network, const std::vector<fs::path>& roots) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return pool_error(sandbox_errc::spawn_failed,
                      "sandbox pool: socketpair: " + errno_text(errno));
  auto ids = identify(roots); // before the worker mounts them
  std::vector<std::string> args{cfg_.worker_binary, "--fd", "3"};
  if (network)
    args.emplace_back("--network");
  for (const auto& r : roots) {
    args.emplace_back("--root");
    args.push_back(r.string());
  }
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  char* envp[] = {nullptr}; // nothing of ours (secrets) reaches the worker
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  // dup2 clears close-on-exec on fd 3 (glibc also when sv[1] is already 3).
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  // Its own session, so a terminal's Ctrl-C reaches troupe, not its
  // workers (they exit when troupe closes their sockets), and no signal
  // blocked in the calling thread stays blocked in the worker.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, cfg_.worker_binary.c_str(), &fa, &attr, argv.data(), envp);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    return pool_error(sandbox_errc::spawn_failed,
                      "sandbox pool: starting '" + cfg_.worker_binary
                        + "': " + errno_text(rc));
  }
  auto w = std::make_unique<worker>();
  w->pid = pid;
  w->fd = sv[0];
  w->network = network;
  w->roots = roots;
  w->root_ids = std::move(ids);
  w->key = detail::profile_key(network, roots);
  auto fail = [&](caf::error err) -> caf::error {
    close(w->fd);
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> lk{mu_};
    ++stats_.start_failures;
    return err;
  };
  auto frame = detail::read_frame(w->fd, cfg_.start_timeout_ms);
  if (!frame)
    return fail(pool_error(sandbox_errc::spawn_failed,
                           "sandbox pool: worker '" + cfg_.worker_binary + "' (pid "
                             + std::to_string(pid) + ") did not report ready: "
                             + render(frame.error())));
  auto ready = detail::decode_ready(*frame);
  if (!ready)
    return fail(std::move(ready.error()));
  std::lock_guard<std::mutex> lk{mu_};
  ++stats_.started;
  return w;
}

caf::expected<sandbox_pool::worker*>
sandbox_pool::acquire(const sandbox_request& norm, const std::string& key) {
  auto ids = identify(norm.writable_roots);
  std::unique_lock<std::mutex> lk{mu_};
  for (;;) {
    if (stopping_)
      return pool_error(sandbox_errc::spawn_failed, "sandbox pool: shutting down");
    // The least recently used idle worker of the profile: a worker resets
    // its /tmp after answering, and the longest idle one has surely done so.
    worker* pick = nullptr;
    for (size_t i = 0; i < workers_.size(); ++i) {
      auto* w = workers_[i].get();
      if (w->busy || w->key != key)
        continue;
      // An idle worker never writes: anything readable is EOF, i.e. the
      // worker died while idle. Replace it rather than lose a call to it.
      pollfd p{w->fd, POLLIN, 0};
      if (poll(&p, 1, 0) != 0) {
        ++stats_.crashed;
        retire_locked(w, true);
        --i;
        continue;
      }
      if (w->root_ids != ids) {
        ++stats_.evicted; // shows a directory that is no longer the root
        retire_locked(w, false);
        --i;
        continue;
      }
      if (pick == nullptr || w->last_used < pick->last_used)
        pick = w;
    }
    if (pick != nullptr) {
      pick->busy = true;
      pick->last_used = ++picks_;
      return pick;
    }
    if (workers_.size() + starting_ < cfg_.max_workers) {
      ++starting_;
      lk.unlock();
      auto w = spawn_worker(norm.network, norm.writable_roots);
      lk.lock();
      --starting_;
      if (!w) {
        idle_cv_.notify_one();
        return std::move(w.error());
      }
      (*w)->busy = true;
      workers_.push_back(std::move(*w));
      return workers_.back().get();
    }
    auto other = std::find_if(workers_.begin(), workers_.end(),
                              [&](const auto& w) { return !w->busy && w->key != key; });
    if (other != workers_.end()) {
      ++stats_.evicted;
      retire_locked(other->get(), false);
      continue;
    }
    idle_cv_.wait(lk);
  }
}

void sandbox_pool::retire_locked(worker* w, bool kill_now) {
  close(w->fd);
  if (kill_now)
    kill(w->pid, SIGKILL);
  exiting_.push_back({w->pid, clock_type::now(), kill_now});
  workers_.erase(std::find_if(workers_.begin(), workers_.end(),
                              [w](const auto& p) { return p.get() == w; }));
  maint_cv_.notify_one();
}

void sandbox_pool::release(worker* w, outcome how) {
  std::lock_guard<std::mutex> lk{mu_};
  ++w->calls;
  ++stats_.calls;
  if (how == outcome::crashed) {
    ++stats_.crashed;
    retire_locked(w, true);
  } else if (how == outcome::breach) {
    ++stats_.retired_breach;
    retire_locked(w, false);
  } else if (w->calls >= cfg_.max_calls_per_worker) {
    ++stats_.retired_max_calls;
    retire_locked(w, false);
  } else {
    w->busy = false;
  }
  idle_cv_.notify_one();
}

caf::expected<sandbox_result> sandbox_pool::run(const sandbox_request& req) {
  auto norm = detail::normalize_request(req);
  if (!norm)
    return std::move(norm.error());
  auto key = detail::profile_key(norm->network, norm->writable_roots);
  auto frame = detail::encode_request(*norm);
  const auto& argv0 = norm->argv.front();
  // A request that could not be written never reached the worker, so it is
  // safe to try it once more on another one.
  for (int attempt = 0;; ++attempt) {
    auto w = acquire(*norm, key);
    if (!w)
      return std::move(w.error());
    auto* wk = *w;
    if (auto err = detail::write_frame(wk->fd, frame)) {
      release(wk, outcome::crashed);
      if (attempt == 0)
        continue;
      return pool_error(sandbox_errc::worker_crashed,
                        "sandbox pool: worker pid " + std::to_string(wk->pid)
                          + " was gone before '" + argv0 + "' could be sent: "
                          + render(err));
    }
    uint64_t wait_ms = norm->limits.wall_timeout_ms == 0
                         ? 0
                         : norm->limits.wall_timeout_ms + cfg_.reply_grace_ms;
    auto pid = wk->pid;
    auto reply = detail::read_frame(wk->fd, wait_ms);
    if (!reply) {
      release(wk, outcome::crashed);
      return pool_error(sandbox_errc::worker_crashed,
                        "sandbox pool: worker pid " + std::to_string(pid)
                          + " failed during '" + argv0 + "' (" + render(reply.error())
                          + "); the worker was replaced and the call's outcome is "
                            "unknown");
    }
    auto res = detail::decode_reply(*reply);
    if (!res) {
      // A garbled reply means the worker cannot be trusted; a setup failure
      // in the worker may have left state behind; a bad request did not.
      auto how = res.error() == sandbox_errc::protocol_error  ? outcome::crashed
                 : res.error() == sandbox_errc::invalid_request ? outcome::reusable
                                                                : outcome::breach;
      release(wk, how);
      return res;
    }
    release(wk, res->limit_breached ? outcome::breach : outcome::reusable);
    return res;
  }
}

pool_stats sandbox_pool::stats() const {
  std::lock_guard<std::mutex> lk{mu_};
  auto s = stats_;
  s.live = workers_.size();
  s.busy = static_cast<size_t>(
    std::count_if(workers_.begin(), workers_.end(), [](const auto& w) { return w->busy; }));
  s.idle = s.live - s.busy;
  return s;
}

size_t sandbox_pool::default_deficit_locked() const {
  auto have = static_cast<size_t>(std::count_if(
    workers_.begin(), workers_.end(), [&](const auto& w) { return w->key == default_key_; }));
  return have >= cfg_.workers ? 0 : cfg_.workers - have;
}

void sandbox_pool::reap_locked() {
  auto now = clock_type::now();
  for (auto it = exiting_.begin(); it != exiting_.end();) {
    auto r = waitpid(it->pid, nullptr, WNOHANG);
    if (r == it->pid || (r < 0 && errno == ECHILD)) {
      it = exiting_.erase(it);
      continue;
    }
    // A worker asked to exit finishes its call's cleanup first; one that
    // does not exit within 2 s is stuck and gets killed.
    if (!it->killed && now - it->since > std::chrono::seconds{2}) {
      kill(it->pid, SIGKILL);
      it->killed = true;
    }
    ++it;
  }
}

// Reaps retired workers and keeps the default profile's workers started, so
// replacements are ready before the next call needs them.
void sandbox_pool::maintain() {
  std::unique_lock<std::mutex> lk{mu_};
  auto backoff_until = clock_type::time_point{};
  while (!stopping_) {
    reap_locked();
    bool can_start = default_deficit_locked() > 0
                     && workers_.size() + starting_ < cfg_.max_workers
                     && clock_type::now() >= backoff_until;
    if (can_start) {
      ++starting_;
      lk.unlock();
      auto w = spawn_worker(cfg_.network, cfg_.writable_roots);
      lk.lock();
      --starting_;
      if (w)
        workers_.push_back(std::move(*w));
      else
        backoff_until = clock_type::now() + std::chrono::seconds{1};
      idle_cv_.notify_all();
      continue;
    }
    if (!exiting_.empty() || backoff_until > clock_type::now())
      maint_cv_.wait_for(lk, std::chrono::milliseconds{10});
    else
      maint_cv_.wait(lk);
  }
}

// The installed layout puts the worker next to `troupe`; a developer may
// have it on the PATH instead.
std::string find_sandbox_worker(const std::string& given) {
  if (!given.empty())
    return given;
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto next = self.parent_path() / "troupe-sandbox-worker";
    if (access(next.c_str(), X_OK) == 0)
      return next.string();
  }
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    size_t start = 0;
    while (start <= p.size()) {
      auto end = p.find(':', start);
      auto dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
      auto cand = fs::path{dir.empty() ? "." : dir} / "troupe-sandbox-worker";
      if (access(cand.c_str(), X_OK) == 0)
        return cand.string();
      if (end == std::string::npos)
        break;
      start = end + 1;
    }
  }
  return {};
}


} // namespace troupe
