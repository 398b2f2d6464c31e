#include "tools/troupe/bench_serve_server.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/jobs/job.hpp"
#include "core/runtime_errc.hpp"
#include "persistence/store.hpp"
#include "persistence/tenant_store.hpp"
#include "tools/troupe/proc_status.hpp"

extern char** environ;

namespace troupe::cli {

namespace {

namespace fs = std::filesystem;

// Three turns, then done: the load's jobs.
constexpr const char* bench_scenario = R"([run]
agent = "lead"
task  = "Echo twice, then finish."

[workspace]
root = "@ROOT@/work/bench"

[models.script]
provider = "script"

[agents.lead]
model = "script"
tools = ["echo", "complete"]

[[script.lead]]
tool_calls = [ { name = "echo", args = { text = "one" } } ]
usage = { input = 100, output = 20 }

[[script.lead]]
tool_calls = [ { name = "echo", args = { text = "two" } } ]
usage = { input = 110, output = 20 }

[[script.lead]]
tool_calls = [ { name = "complete", args = { status = "success", answer = "echoed" } } ]
usage = { input = 120, output = 10 }
)";

// Its one write asks for approval: the run waits, live, while the
// subscribers connect, and ends once the bench approves.
constexpr const char* gated_scenario = R"([run]
agent = "lead"
task  = "Write approved.txt once someone allows it."

[workspace]
root = "@ROOT@/work/gated"

[models.script]
provider = "script"

[agents.lead]
model = "script"
tools = ["write_file", "complete"]

[policy]
version = 1
mode = "enforce"
default = "deny"
approval_timeout_ms = 600000

[[policy.rule]]
id = "ask-before-writing"
tool = "write_file"
paths = ["**"]
decision = "ask"

[[policy.rule]]
id = "finish"
tool = "complete"
decision = "allow"

[[script.lead]]
tool_calls = [ { name = "write_file", args = { path = "approved.txt", content = "approved" } } ]

[[script.lead]]
tool_calls = [ { name = "complete", args = { status = "success", answer = "done" } } ]
)";

caf::error failed(const std::string& what) {
  return caf::make_error(runtime_errc::io_failed, "bench serve: " + what);
}

caf::error write_scenarios(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "scenarios", ec);
  if (ec)
    return failed("cannot create " + dir + "/scenarios: " + ec.message());
  for (auto [name, text] : {std::pair{"bench", bench_scenario}, {"gated", gated_scenario}}) {
    std::string body = text;
    auto at = body.find("@ROOT@");
    body.replace(at, 6, dir);
    std::ofstream out(fs::path(dir) / "scenarios" / (std::string(name) + ".toml"));
    out << body;
    if (!out)
      return failed("cannot write the scenario " + std::string(name));
  }
  return {};
}

// The journal (created here), tenant `bench` without quotas, and its keys.
caf::error add_tenant(const std::string& db, std::string& submitter, std::string& operator_) {
  {
    auto journal = persistence::store::open(db, persistence::open_mode::read_write);
    if (!journal)
      return std::move(journal.error());
  }
  auto store = persistence::tenant_store::open(db);
  if (!store)
    return std::move(store.error());
  jobs::tenant t;
  t.name = "bench";
  if (auto added = store->add_tenant(t); !added)
    return std::move(added.error());
  auto sub = store->create_key("bench", jobs::role::submitter);
  if (!sub)
    return std::move(sub.error());
  auto op = store->create_key("bench", jobs::role::operator_);
  if (!op)
    return std::move(op.error());
  submitter = sub->token;
  operator_ = op->token;
  return {};
}

std::string self_path() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("troupe") : p.string();
}

// Reads the child's stdout until its "listening on" line (or EOF, or the
// deadline); returns what it read.
std::string read_banner(int fd, std::chrono::steady_clock::time_point until) {
  std::string out;
  while (out.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  until - std::chrono::steady_clock::now())
                  .count();
    if (left <= 0)
      break;
    pollfd p{fd, POLLIN, 0};
    auto rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc <= 0)
      break;
    char buf[4096];
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

} // namespace

caf::expected<std::unique_ptr<bench_server>> bench_server::start(const bench_server_options& opts) {
  std::unique_ptr<bench_server> s{new bench_server};
  s->dir_ = opts.dir;
  if (auto err = write_scenarios(opts.dir))
    return err;
  auto db = opts.dir + "/serve.db";
  if (auto err = add_tenant(db, s->submitter_key_, s->operator_key_))
    return err;

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return failed(std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> argv{self_path(),
                                "serve",
                                "--db",
                                db,
                                "--scenarios",
                                opts.dir + "/scenarios",
                                "--listen",
                                "127.0.0.1:0",
                                "--concurrency",
                                std::to_string(opts.concurrency),
                                "--max-queued",
                                std::to_string(opts.max_queued)};
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  auto err_file = opts.dir + "/serve.stderr";
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  auto rc = ::posix_spawn(&s->pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    s->pid_ = -1;
    return failed("cannot start " + argv[0] + " serve: " + std::strerror(rc));
  }
  s->out_fd_ = out[0];

  auto banner =
    read_banner(s->out_fd_, std::chrono::steady_clock::now() + std::chrono::seconds{30});
  const std::string marker = "listening on http://127.0.0.1:";
  auto at = banner.find(marker);
  if (at == std::string::npos)
    return failed("troupe serve did not start: " + banner + s->stderr_text());
  auto served = banner.substr(at);
  if (served.find("bench") == std::string::npos || served.find("gated") == std::string::npos)
    return failed("troupe serve does not serve the bench's scenarios: " + banner
                  + s->stderr_text());
  auto port = std::stoi(banner.substr(at + marker.size()));
  s->base_url_ = "http://127.0.0.1:" + std::to_string(port);
  return s;
}

bench_server::~bench_server() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0)
    ::close(out_fd_);
}

uint64_t bench_server::rss_kib() const {
  return pid_ > 0 ? proc_status_kib("VmRSS:", pid_) : 0;
}

uint64_t bench_server::cpu_us() const {
  if (pid_ <= 0)
    return 0;
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name, in parentheses, may hold blanks: count fields after it.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) // fields 3..13: state .. cmajflt
    fields >> skip;
  uint64_t utime = 0, stime = 0;
  fields >> utime >> stime;
  auto tick = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  return (utime + stime) * 1000000 / (tick == 0 ? 100 : tick);
}

caf::error bench_server::stop() {
  if (pid_ <= 0)
    return {};
  ::kill(pid_, SIGTERM);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return {};
  return failed("troupe serve did not exit cleanly (status " + std::to_string(status)
                + "): " + stderr_text());
}

std::string bench_server::stderr_text() const {
  std::ifstream in(dir_ + "/serve.stderr");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 4000)
    text = "..." + text.substr(text.size() - 4000);
  return text.empty() ? std::string{} : "\n" + text;
}

} // namespace troupe::cli
