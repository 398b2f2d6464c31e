#include "sandbox/sandbox_pool.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/detail/pool_protocol.hpp"
#include "sandbox/detail/sandbox_request.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace fs = std::filesystem;
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

} // namespace

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
  // Workers are built per profile once and carry no read-only roots; a
  // server that needs them is long-lived (sandboxed_child) anyway.
  if (!norm->read_only_roots.empty())
    return pool_error(sandbox_errc::invalid_request,
                      "sandbox pool: '" + norm->argv.front() + "' asks for read-only roots ("
                        + norm->read_only_roots.front().string()
                        + (norm->read_only_roots.size() > 1 ? ", ..." : "")
                        + "), which pool workers do not provide; use run_sandboxed or "
                          "sandboxed_child");
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
