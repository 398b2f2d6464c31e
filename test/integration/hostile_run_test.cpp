// The hostile suite at the scenario level: scripted agents try each attack
// through the real `troupe run` (scenarios in test/scenarios/hostile/, copied
// into a fresh temp dir with their placeholders filled in), and each case
// checks that the attack was contained (on the host, and in the tool result
// the model saw), that it was journaled (every executed call after a policy
// `allow` for the same call id), and that the run still ended by the
// completion contract: exit code 0/1/2 with a JSON result line, and a
// `completion` event last.
//
// The sandbox itself is tested command by command in
// test/sandbox/hostile_test.cpp; this suite checks that the runtime wires it
// up (policy, secrets, limits, redaction) the same way for a run. Needs root
// (namespaces), as CI has.
//
// Not played: a sleep past the 30 s wall timeout (scenarios cannot lower the
// sandbox limits, and a 30 s case is too slow); the CPU spin case stands in
// for "a call that never ends by itself".

#define BOOST_TEST_MODULE hostile_run
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "schemas/event.hpp"
#include "test/support/files.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

#ifndef TROUPE_BIN
#  error "TROUPE_BIN must name the troupe executable"
#endif
#ifndef TROUPE_SCENARIOS
#  error "TROUPE_SCENARIOS must name test/scenarios"
#endif

using namespace troupe;
namespace fs = std::filesystem;
using troupe::test::command_result;
using troupe::test::contains;
using troupe::test::lines_of;
using troupe::test::slurp;
using troupe::test::temp_dir;
using troupe::test::write_file;
using steady = std::chrono::steady_clock;

namespace {

// -- small helpers ------------------------------------------------------------

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

/// A string unique to this test process and call: `<prefix><pid>x<hex>`.
std::string unique(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
  return prefix + std::to_string(::getpid()) + "x" + hex;
}

std::string str(const nlohmann::json& j, const char* key) {
  auto i = j.find(key);
  return i != j.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

double seconds_since(steady::time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// The command line of `pid` with NULs as spaces; empty when the process is
/// gone. Plain read(2): a process can vanish mid-read (ESRCH), and the
/// iostream-based slurp throws then.
std::string cmdline_of(const char* pid) {
  std::string out;
  int fd = ::open((std::string{"/proc/"} + pid + "/cmdline").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  std::replace(out.begin(), out.end(), '\0', ' ');
  return out;
}

/// Pids of processes whose command line contains `needle` (what `pgrep -f`
/// finds), this process excluded.
std::vector<int> processes_with(const std::string& needle) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr)
    return out;
  while (auto* e = ::readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == ::getpid())
      continue;
    auto cmd = cmdline_of(e->d_name);
    if (contains(cmd, needle))
      out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

/// No process carries `needle`: checked by scanning /proc and, where it is
/// installed, with `pgrep -f` (exit 1: nothing matched).
void check_no_leftovers(const std::string& needle) {
  auto left = processes_with(needle);
  BOOST_TEST(left.empty(), left.size() << " processes with '" << needle << "' left");
  if (fs::exists("/usr/bin/pgrep")) {
    auto p = troupe::test::run_command({"/usr/bin/pgrep", "-f", needle});
    BOOST_TEST(p.exit_code == 1, "pgrep -f " << needle << ": " << p.out);
  }
}

/// Standard base64 (as checkpoint states are exported); stops at '=' or at
/// the first character outside the alphabet.
std::string base64_decode(const std::string& in) {
  static const std::string alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    auto v = alphabet.find(c);
    if (v == std::string::npos)
      break;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// A TCP listener on the host's loopback that the agent tries to reach.
struct listener {
  int fd = -1;
  int port = 0;
  listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~listener() { ::close(fd); }
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  /// Connections that arrived (accepting them).
  int accepted() const {
    int n = 0;
    for (int c; (c = ::accept(fd, nullptr, nullptr)) >= 0; ++n)
      ::close(c);
    return n;
  }
};

// -- one scenario, one run ---------------------------------------------------

/// A temp dir holding one hostile scenario (with its placeholders filled in),
/// its workspace `work/` and the journal.
struct hostile_dir {
  temp_dir tmp{"troupe-hostile"};

  fs::path workspace() const { return tmp.path / "work"; }
  std::string db() const { return tmp.file("journal.db"); }

  /// Copies test/scenarios/hostile/<name> here, replacing each key of `subs`
  /// by its value, and creates the workspace.
  fs::path install(const std::string& name,
                   const std::map<std::string, std::string>& subs = {}) {
    auto text = slurp(fs::path{TROUPE_SCENARIOS} / "hostile" / name);
    BOOST_REQUIRE_MESSAGE(!text.empty(), "cannot read hostile/" << name);
    for (auto& [key, value] : subs)
      text = replace_all(text, key, value);
    static const std::regex placeholder{"@[A-Z]+@"};
    std::smatch m;
    std::string left = std::regex_search(text, m, placeholder) ? m.str() : std::string{};
    BOOST_REQUIRE_MESSAGE(left.empty(), name << ": placeholder " << left << " not filled in");
    auto path = tmp.path / name;
    write_file(path, text);
    fs::create_directories(workspace());
    return path;
  }
};

/// One `troupe run --json` and what it left behind.
struct cli_run {
  command_result cmd;
  nlohmann::json result; ///< the last stdout line (null if it did not parse)
  std::string db;
  double seconds = 0;
  std::vector<event> events; ///< the run's journal, decoded
};

std::vector<event> journal_of(const std::string& db, const std::string& run_id) {
  std::vector<event> out;
  for (auto& row : troupe::test::read_run(db, run_id)) {
    auto ev = decode(row.bytes, "run " + row.run_id + " seq " + std::to_string(row.seq));
    BOOST_REQUIRE_MESSAGE(ev, render(ev));
    out.push_back(std::move(*ev));
  }
  return out;
}

/// `troupe [globals] run SCENARIO --db DB --json [extra]`.
cli_run troupe_run(const fs::path& scenario, const std::string& db,
                   const std::vector<std::string>& extra = {},
                   const std::vector<std::string>& globals = {}) {
  std::vector<std::string> argv{TROUPE_BIN};
  argv.insert(argv.end(), globals.begin(), globals.end());
  for (const auto& a : {std::string{"run"}, scenario.string(), std::string{"--db"}, db,
                        std::string{"--json"}})
    argv.push_back(a);
  argv.insert(argv.end(), extra.begin(), extra.end());
  cli_run r;
  r.db = db;
  auto t0 = steady::now();
  r.cmd = troupe::test::run_command(argv);
  r.seconds = seconds_since(t0);
  BOOST_TEST_MESSAGE(scenario.filename().string() << ": troupe run took " << r.seconds
                                                  << " s, exit " << r.cmd.exit_code);
  auto lines = lines_of(r.cmd.out);
  if (!lines.empty())
    r.result = nlohmann::json::parse(lines.back(), nullptr, false);
  if (r.result.is_discarded())
    r.result = nullptr;
  if (r.result.is_object() && !str(r.result, "run_id").empty())
    r.events = journal_of(db, str(r.result, "run_id"));
  return r;
}

template <class T>
std::vector<std::pair<size_t, T>> indexed(const std::vector<event>& evs) {
  std::vector<std::pair<size_t, T>> out;
  for (size_t i = 0; i < evs.size(); ++i)
    if (auto* x = std::get_if<T>(&evs[i].body))
      out.emplace_back(i, *x);
  return out;
}

template <class T>
std::vector<T> bodies_of(const std::vector<event>& evs) {
  std::vector<T> out;
  for (auto& [i, x] : indexed<T>(evs))
    out.push_back(x);
  return out;
}

int exit_code_for(run_status s) {
  switch (s) {
    case run_status::completed:
      return 0;
    case run_status::limit_reached:
      return 2;
    default:
      return 1;
  }
}

/// The completion contract and the governance invariants of one run:
/// - exit code 0/1/2 matching `expected`, a JSON result line that agrees;
/// - seq contiguous from 1, `run_start` first, exactly one `completion`,
///   and it is the last event;
/// - every executed `tool_call` has an earlier `policy_decision` allowing
///   the same call id, and exactly one `tool_result` after it;
/// - no denied call id ever became a `tool_call`;
/// - `troupe doctor` finds the journal intact.
void check_contract(const cli_run& r, run_status expected) {
  BOOST_TEST_INFO("stdout: " << r.cmd.out.substr(0, 2000)
                             << "\nstderr: " << r.cmd.err.substr(0, 2000));
  BOOST_REQUIRE(r.result.is_object());
  BOOST_TEST(r.cmd.exit_code == exit_code_for(expected));
  BOOST_TEST(str(r.result, "status") == std::string(to_string(expected)));
  auto& evs = r.events;
  BOOST_REQUIRE(!evs.empty());
  for (size_t i = 0; i < evs.size(); ++i)
    BOOST_TEST(evs[i].seq == i + 1);
  BOOST_TEST((evs.front().kind() == event_kind::run_start));
  BOOST_REQUIRE((evs.back().kind() == event_kind::completion));
  BOOST_TEST(bodies_of<completion>(evs).size() == 1u);
  auto& done = std::get<completion>(evs.back().body);
  BOOST_TEST((done.status == expected));
  BOOST_TEST(done.reason == str(r.result, "reason"));

  auto decisions = indexed<policy_decision>(evs);
  auto calls = indexed<tool_call>(evs);
  auto results = indexed<tool_result>(evs);
  std::set<std::string> denied;
  for (auto& [i, d] : decisions)
    if (d.decision != "allow")
      denied.insert(d.call_id);
  for (auto& [ci, c] : calls) {
    bool allowed_before = false;
    for (auto& [di, d] : decisions)
      allowed_before = allowed_before
                       || (di < ci && d.call_id == c.call_id && d.decision == "allow");
    BOOST_TEST(allowed_before, "tool_call " << c.call_id << " (" << c.name
                                            << ") ran without an earlier allow");
    BOOST_TEST(denied.count(c.call_id) == 0u, "denied call " << c.call_id << " ran");
    size_t after = 0;
    for (auto& [ri, res] : results)
      after += ri > ci && res.call_id == c.call_id ? 1 : 0;
    BOOST_TEST(after == 1u, "tool_call " << c.call_id << " has " << after << " results");
  }
  auto doctor = troupe::test::run_command({TROUPE_BIN, "doctor", "--db", r.db});
  BOOST_TEST(doctor.exit_code == 0, "doctor: " << doctor.out << doctor.err);
}

const policy_decision* decision_of(const std::vector<event>& evs, const std::string& id) {
  for (auto& ev : evs)
    if (auto* d = std::get_if<policy_decision>(&ev.body); d && d->call_id == id)
      return d;
  return nullptr;
}

bool was_called(const std::vector<event>& evs, const std::string& id) {
  for (auto& ev : evs)
    if (auto* c = std::get_if<tool_call>(&ev.body); c && c->call_id == id)
      return true;
  return false;
}

/// The journaled result of the call `id`, which must have been allowed by
/// `rule` (when given), executed and answered.
struct call_record {
  tool_result result;
  int64_t call_us = 0;
  int64_t result_us = 0;
};

call_record executed(const std::vector<event>& evs, const std::string& id,
                     const std::string& rule = {}) {
  auto* d = decision_of(evs, id);
  BOOST_REQUIRE_MESSAGE(d != nullptr, "no policy_decision for " << id);
  BOOST_TEST(d->decision == "allow", id << ": " << d->reason);
  if (!rule.empty())
    BOOST_TEST(d->rule == rule, id << ": " << d->reason);
  call_record rec;
  bool found = false;
  for (auto& ev : evs) {
    if (auto* c = std::get_if<tool_call>(&ev.body); c && c->call_id == id)
      rec.call_us = ev.ts_us;
    if (auto* res = std::get_if<tool_result>(&ev.body); res && res->call_id == id) {
      rec.result = *res;
      rec.result_us = ev.ts_us;
      found = true;
    }
  }
  BOOST_REQUIRE_MESSAGE(found, "no tool_result for " << id);
  BOOST_TEST_MESSAGE(id << " (" << (rec.result_us - rec.call_us) / 1000 << " ms, ok="
                        << rec.result.ok << "): "
                        << rec.result.output.substr(0, 300));
  return rec;
}

tool_result result_of(const std::vector<event>& evs, const std::string& id,
                      const std::string& rule = {}) {
  return executed(evs, id, rule).result;
}

/// The file names directly in `dir`.
std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  for (auto& e : fs::directory_iterator(dir))
    out.insert(e.path().filename().string());
  return out;
}

/// Where `needle` occurs in `haystacks` (name -> text), for messages.
std::string found_in(const std::map<std::string, std::string>& haystacks,
                     const std::string& needle) {
  std::string where;
  for (auto& [name, text] : haystacks)
    if (contains(text, needle))
      where += (where.empty() ? "" : ", ") + name;
  return where;
}

/// The raw journal files (SQLite file, -wal, -shm), those that exist.
std::map<std::string, std::string> raw_journal_files(const std::string& db) {
  std::map<std::string, std::string> out;
  for (const char* suffix : {"", "-wal", "-shm"})
    if (fs::exists(db + suffix))
      out["raw " + fs::path{db + suffix}.filename().string()] = slurp(db + suffix);
  return out;
}

/// `troupe export RUN`, checked, plus the decoded checkpoint states.
std::map<std::string, std::string> exported(const std::string& db, const std::string& run) {
  std::map<std::string, std::string> out;
  auto exp = troupe::test::run_command({TROUPE_BIN, "export", run, "--db", db});
  BOOST_TEST(exp.exit_code == 0, exp.err);
  out["export"] = exp.out;
  std::string states;
  for (auto& line : lines_of(exp.out)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && str(j, "kind") == "checkpoint")
      states += base64_decode(str(j.at("checkpoint"), "state")) + "\n";
  }
  out["export checkpoint states"] = states;
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hostile_run)

// 1. Holds by: the sandbox's network namespace. The control call, allowed by
// a rule with network = true, does connect, so the listener works.
BOOST_AUTO_TEST_CASE(network_is_unreachable_without_a_grant) {
  listener l;
  hostile_dir d;
  auto port = std::to_string(l.port);
  auto r = troupe_run(d.install("network.toml", {{"@PORT@", port}}), d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto bash = result_of(evs, "net-bash", "shell-bash");
  BOOST_TEST(!bash.ok);
  BOOST_TEST(!contains(bash.output, "connected"), bash.output);
  BOOST_TEST(contains(bash.output, "Network is unreachable"), bash.output);
  auto py = result_of(evs, "net-python", "shell-python");
  BOOST_TEST(!py.ok);
  BOOST_TEST(!contains(py.output, "connected"), py.output);
  // The host's sockets (the listener among them) are not even listed.
  auto proc = result_of(evs, "net-proc", "shell-cat");
  char hex_port[8];
  std::snprintf(hex_port, sizeof hex_port, ":%04X", l.port);
  BOOST_TEST(!contains(proc.output, hex_port), proc.output);
  auto control = result_of(evs, "net-control", "control-with-network");
  BOOST_TEST(control.ok, control.output);
  BOOST_TEST(contains(control.output, "control-connected"), control.output);
  BOOST_TEST(l.accepted() == 1); // the control's, and nothing else
}

// 2-4. Holds by: the sandbox's mount view (host temp dirs absent, /etc
// read-only, private /tmp), the unprivileged uid (/etc/shadow), and
// resolve_in_workspace refusing symlinks out of the workspace in the
// built-in tools (including symlinks the agent made with the shell).
BOOST_AUTO_TEST_CASE(writes_reads_and_symlinks_outside_the_workspace_are_contained) {
  hostile_dir d;
  temp_dir outside{"troupe-hostile-outside"};
  auto mark = unique("hostile-fs-");
  const std::string secret = "top-secret-" + mark;
  write_file(outside.path / "secret.txt", secret);
  write_file(outside.path / "victim.txt", "original");
  write_file(d.tmp.path / "neighbour.txt", "top-secret-neighbour");
  auto scenario = d.install("filesystem.toml", {{"@OUTSIDE@", outside.path.string()},
                                                {"@PARENT@", d.tmp.path.string()},
                                                {"@MARK@", mark}});
  fs::create_directory_symlink(outside.path, d.workspace() / "link");
  fs::create_symlink(outside.path / "secret.txt", d.workspace() / "secret_link");
  auto shadow_before = slurp("/etc/shadow");

  auto r = troupe_run(scenario, d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;

  // 2. Writes outside.
  BOOST_TEST(!result_of(evs, "write-etc", "shell-sh").ok);
  BOOST_TEST(!fs::exists("/etc/troupe_evil_" + mark));
  BOOST_TEST(!result_of(evs, "write-outside", "shell-sh").ok);
  BOOST_TEST(!result_of(evs, "write-parent", "shell-sh").ok);
  BOOST_TEST(!fs::exists(d.tmp.path / "evil_rel"));
  BOOST_TEST(!fs::exists(d.tmp.path / "evil_abs"));
  auto tmp_write = result_of(evs, "write-host-tmp", "shell-sh");
  BOOST_TEST(contains(tmp_write.output, "wrote-private-tmp"), tmp_write.output);
  BOOST_TEST(!fs::exists("/tmp/troupe_evil_" + mark)); // the sandbox's /tmp is its own

  // 3. Reads outside.
  for (const char* id : {"read-outside", "read-parent", "read-shadow"}) {
    auto res = result_of(evs, id, "shell-cat");
    BOOST_TEST(!res.ok, id);
    BOOST_TEST(!contains(res.output, "top-secret"), id << ": " << res.output);
  }
  BOOST_TEST(!contains(result_of(evs, "read-shadow").output, "root:"));

  // 4. Symlinks out of the workspace: the test's, then the agent's own.
  for (const char* id : {"builtin-write-link", "builtin-read-link", "builtin-write-made",
                         "builtin-read-made", "builtin-write-victim"}) {
    auto res = result_of(evs, id, "files-in-workspace");
    BOOST_TEST(!res.ok, id << ": " << res.output);
    BOOST_TEST(!contains(res.output, "top-secret"), id << ": " << res.output);
  }
  BOOST_TEST(contains(result_of(evs, "builtin-write-link").output, "symlink"));
  for (const char* id : {"shell-write-link", "shell-read-link", "shell-cwd-link"}) {
    auto res = result_of(evs, id, "shell-sh");
    BOOST_TEST(!res.ok, id << ": " << res.output);
    BOOST_TEST(!contains(res.output, "top-secret"), id << ": " << res.output);
  }
  auto made = result_of(evs, "make-links", "shell-sh");
  BOOST_TEST(contains(made.output, "linked"), made.output);
  BOOST_TEST(fs::is_symlink(d.workspace() / "made")); // the agent did make them

  // Nothing appeared anywhere outside, nothing changed.
  BOOST_TEST((entries(outside.path) == std::set<std::string>{"secret.txt", "victim.txt"}));
  BOOST_TEST(slurp(outside.path / "victim.txt") == "original");
  BOOST_TEST(slurp(outside.path / "secret.txt") == secret);
  for (auto& name : entries(d.tmp.path))
    BOOST_TEST((name == "work" || name == "filesystem.toml" || name == "neighbour.txt"
                || name.rfind("journal.db", 0) == 0),
               "unexpected " << name);
  BOOST_TEST(slurp("/etc/shadow") == shadow_before);
  for (auto& res : bodies_of<tool_result>(evs))
    BOOST_TEST(!contains(res.output, "top-secret"), res.call_id << ": " << res.output);
}

// 5. Holds by: the policy (a path with `..` or an absolute path matches no
// workspace glob: denied, the model is told, the run goes on) and the scope
// boundary (a write outside stops the run: failed, out_of_scope, an `error`
// event naming the call; the write never runs).
BOOST_AUTO_TEST_CASE(dot_dot_reads_are_denied_and_a_dot_dot_write_stops_the_run) {
  hostile_dir d;
  auto r = troupe_run(d.install("traversal.toml"), d.db());
  check_contract(r, run_status::failed);
  auto& evs = r.events;
  BOOST_TEST(str(r.result, "reason") == "out_of_scope");
  BOOST_TEST(contains(str(r.result, "summary"), "framework_fix_needed"));
  for (const char* id : {"read-dotdot", "read-hidden-dotdot", "read-absolute"}) {
    auto* dec = decision_of(evs, id);
    BOOST_REQUIRE_MESSAGE(dec != nullptr, id);
    BOOST_TEST(dec->decision == "deny", id);
    BOOST_TEST(contains(dec->reason, "not a workspace-relative path"), dec->reason);
    BOOST_TEST(!was_called(evs, id), id);
  }
  // The run went on after the denials.
  BOOST_TEST(result_of(evs, "write-inside", "files-in-workspace").ok);
  BOOST_TEST(slurp(d.workspace() / "inside.txt") == "stayed inside");
  // The write outside: an error naming the call, never executed.
  bool memo = false;
  for (auto& e : bodies_of<error_event>(evs))
    memo = memo || (e.code == "out_of_scope" && e.call_id == "write-dotdot"
                    && contains(e.message, "'../x'"));
  BOOST_TEST(memo, "no out_of_scope error naming write-dotdot");
  BOOST_TEST(!was_called(evs, "write-dotdot"));
  BOOST_TEST(!fs::exists(d.tmp.path / "x"));
  // The run stopped there: `complete` never ran.
  for (auto& c : bodies_of<tool_call>(evs))
    BOOST_TEST(c.name != "complete");
  BOOST_TEST(std::get<completion>(evs.back().body).totals.denials == 3u);
}

// 6. Holds by: RLIMIT_NPROC on the call's uid and the sandbox killing every
// process of a call when its command exits. Watched from the host while the
// run goes on: the bombs never exceed the process limit, and their
// processes are gone once their call's result is journaled.
BOOST_AUTO_TEST_CASE(fork_bombs_are_contained_and_leave_nothing_behind) {
  hostile_dir d;
  auto mark = unique("hostile-bomb-");
  auto scenario = d.install("fork_bomb.toml", {{"@MARK@", mark}});
  std::atomic<bool> done{false};
  std::mutex mtx;
  std::map<std::string, size_t> most;       // tag -> peak process count
  std::map<std::string, int64_t> last_seen; // tag -> last sighting (us)
  const std::vector<std::string> tags{mark + "-sh", mark + "-bash"};
  std::thread watcher{[&] {
    while (!done) {
      for (const auto& tag : tags) {
        auto n = processes_with(tag).size();
        std::lock_guard<std::mutex> guard(mtx);
        most[tag] = std::max(most[tag], n);
        if (n > 0)
          last_seen[tag] = now_us();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
  }};
  struct stop_watcher { // also on a failed BOOST_REQUIRE in troupe_run
    std::atomic<bool>& done;
    std::thread& t;
    ~stop_watcher() {
      done = true;
      if (t.joinable())
        t.join();
    }
  };
  cli_run r;
  {
    stop_watcher stop{done, watcher};
    r = troupe_run(scenario, d.db());
  }
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  for (const char* kind : {"sh", "bash"}) {
    BOOST_TEST_CONTEXT("bomb-" << kind) {
      auto tag = mark + "-" + kind;
      auto rec = executed(evs, std::string{"bomb-"} + kind, std::string{"shell-"} + kind);
      // The limit bit: forks failed.
      BOOST_TEST((contains(rec.result.output, "Cannot fork")
                  || contains(rec.result.output, "Resource temporarily unavailable")),
                 rec.result.output.substr(0, 500));
      BOOST_TEST(rec.result_us - rec.call_us < 20'000'000); // well before the wall timeout
      BOOST_TEST_MESSAGE(tag << ": at most " << most[tag] << " processes at once");
      // The watcher saw the call (the forks failing above show the bomb hit
      // the limit; a 10 ms poll under load may miss dash's short-lived
      // children), and never more processes than the limit.
      BOOST_TEST(most[tag] >= 1u);
      BOOST_TEST(most[tag] <= 64u); // sandbox_limits::processes
      // Gone with the call, not only with troupe (the watcher polls every
      // 10 ms; allow for a slow poll).
      BOOST_TEST(last_seen[tag] <= rec.result_us + 500'000,
                 "seen " << (last_seen[tag] - rec.result_us) / 1000 << " ms after the result");
      check_no_leftovers(tag);
    }
  }
  auto after = result_of(evs, "after", "shell-sh");
  BOOST_TEST(after.ok, after.output);
  BOOST_TEST(contains(after.output, "still-responsive"), after.output);
  check_no_leftovers(mark);
}

// 7. Holds by: RLIMIT_AS (512 MiB per process).
BOOST_AUTO_TEST_CASE(memory_hogs_hit_the_address_space_limit) {
  hostile_dir d;
  auto r = troupe_run(d.install("memory_hog.toml"), d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto py = result_of(evs, "hog-python", "shell-python");
  BOOST_TEST(!py.ok);
  BOOST_TEST(!contains(py.output, "allocated"), py.output);
  if (fs::exists("/usr/bin/python3"))
    BOOST_TEST(contains(py.output, "MemoryError"), py.output);
  else
    BOOST_TEST_MESSAGE("no /usr/bin/python3: hog-python could not even start");
  auto tail = result_of(evs, "hog-tail", "shell-sh");
  BOOST_TEST(!tail.ok);
  BOOST_TEST(contains(tail.output, "memory exhausted"), tail.output);
  BOOST_TEST(r.seconds < 20.0);
}

// 8 (and 9). Holds by: RLIMIT_CPU (SIGXCPU at 10 CPU seconds), or at worst
// the 30 s wall timeout. The slow case of the suite (about 10 s).
BOOST_AUTO_TEST_CASE(a_cpu_spin_is_killed_by_a_limit) {
  hostile_dir d;
  auto mark = unique("hostile-spin-");
  auto r = troupe_run(d.install("cpu_spin.toml", {{"@MARK@", mark}}), d.db());
  check_contract(r, run_status::completed);
  auto rec = executed(r.events, "spin", "shell-sh");
  BOOST_TEST(!rec.result.ok);
  BOOST_TEST((contains(rec.result.output, "(a resource limit was reached)")
              || contains(rec.result.output, "the wall-clock limit was reached")),
             rec.result.output);
  auto took_ms = (rec.result_us - rec.call_us) / 1000;
  BOOST_TEST_MESSAGE("spin ended after " << took_ms << " ms");
  BOOST_TEST(took_ms >= 9000); // it was the limit, not something else
  BOOST_TEST(took_ms < 35000);
  check_no_leftovers(mark);
}

// 10. Holds by: the output cap (1 MiB kept per stream, the rest read,
// counted and dropped).
BOOST_AUTO_TEST_CASE(gigabytes_of_output_are_capped_and_the_run_completes) {
  hostile_dir d;
  auto r = troupe_run(d.install("output_flood.toml"), d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto out = result_of(evs, "flood-stdout", "shell-head");
  BOOST_TEST(contains(out.output, "[stdout truncated: 1048576 of 3000000000 bytes shown]"),
             out.output.substr(out.output.size() > 200 ? out.output.size() - 200 : 0));
  BOOST_TEST(out.output.size() < 1048576u + 4096u);
  auto err = result_of(evs, "flood-stderr", "shell-sh");
  BOOST_TEST(contains(err.output, "[stderr truncated: 1048576 of 1500000000 bytes shown]"),
             err.output.substr(err.output.size() > 200 ? err.output.size() - 200 : 0));
  BOOST_TEST(contains(err.output, "flood-done"));
  BOOST_TEST(err.output.size() < 1048576u + 4096u);
  BOOST_TEST(r.seconds < 20.0);
}

// 11. Holds by: the sandbox environment (PATH/HOME/LANG plus the deciding
// rule's secrets, nothing of troupe's own environment), redaction of the
// granted value, and the policy (another command cannot borrow a grant).
BOOST_AUTO_TEST_CASE(another_rules_secret_is_out_of_reach) {
  hostile_dir d;
  const auto alpha = unique("alpha-value-");
  const auto beta = unique("beta-value-");
  const auto gamma = unique("gamma-value-");
  const auto env_secret = unique("env-value-");
  auto secrets = d.tmp.path / "secrets.env";
  write_file(secrets, "# test secrets\nALPHA_TOKEN=" + alpha + "\nBETA_TOKEN=" + beta
                        + "\nGAMMA_TOKEN=" + gamma + "\n");
  ::setenv("TROUPE_HOSTILE_ENV_SECRET", env_secret.c_str(), 1);
  auto r = troupe_run(d.install("secrets_scope.toml"), d.db(),
                      {"--secrets-file", secrets.string()});
  ::unsetenv("TROUPE_HOSTILE_ENV_SECRET");
  check_contract(r, run_status::completed);
  auto& evs = r.events;

  auto a = result_of(evs, "as-a", "shell-a");
  BOOST_TEST(a.ok, a.output);
  BOOST_TEST(contains(a.output, "alpha=[REDACTED:ALPHA_TOKEN] beta= gamma=\n"), a.output);
  BOOST_TEST(contains(a.output, "ALPHA_TOKEN=[REDACTED:ALPHA_TOKEN]"), a.output);
  BOOST_TEST(!contains(a.output, "BETA_TOKEN="), a.output);
  BOOST_TEST(!contains(a.output, "GAMMA_TOKEN="), a.output);
  BOOST_TEST(!contains(a.output, "TROUPE_HOSTILE_ENV_SECRET"), a.output);

  auto b = result_of(evs, "as-b", "shell-b");
  BOOST_TEST(b.ok, b.output);
  BOOST_TEST(contains(b.output, "beta=[REDACTED:BETA_TOKEN] alpha= gamma=\n"), b.output);
  BOOST_TEST(!contains(b.output, "ALPHA_TOKEN="), b.output);
  BOOST_TEST(!contains(b.output, "TROUPE_HOSTILE_ENV_SECRET"), b.output);

  auto* borrow = decision_of(evs, "borrow-a");
  BOOST_REQUIRE(borrow != nullptr);
  BOOST_TEST(borrow->decision == "deny", borrow->reason);
  BOOST_TEST(!was_called(evs, "borrow-a"));

  // No value anywhere: journal files, export, the CLI's own output.
  auto where = raw_journal_files(r.db);
  for (auto& [k, v] : exported(r.db, str(r.result, "run_id")))
    where[k] = v;
  where["troupe run stdout"] = r.cmd.out;
  where["troupe run stderr"] = r.cmd.err;
  for (const auto& value : {alpha, beta, gamma, env_secret})
    BOOST_TEST(found_in(where, value).empty(),
               value << " found in: " << found_in(where, value));
}

// 12. Holds by: execve with the argv as given: no element is interpreted by
// a shell; `sh -c SCRIPT ARG...` passes ARG as $0, $1, never evaluated.
BOOST_AUTO_TEST_CASE(arguments_are_never_interpreted_by_a_shell) {
  hostile_dir d;
  auto mark = unique("hostile-inject-");
  auto scenario = d.install("injection.toml", {{"@WORKSPACE@", d.workspace().string()},
                                               {"@MARK@", mark}});
  write_file(d.workspace() / "canary.txt", "alive");
  auto r = troupe_run(scenario, d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  const std::string tmp_payload =
    "$(touch /tmp/pwned_" + mark + "); `touch /tmp/pwned2_" + mark + "`";
  auto t = result_of(evs, "inject-tmp", "shell-echo");
  BOOST_TEST(t.ok, t.output);
  BOOST_TEST(contains(t.output, "--- stdout ---\n" + tmp_payload + "\n"), t.output);
  BOOST_TEST(!fs::exists("/tmp/pwned_" + mark));
  BOOST_TEST(!fs::exists("/tmp/pwned2_" + mark));
  auto ws = d.workspace().string();
  const std::string ws_payload = "$(touch " + ws + "/pwned_a) `touch " + ws
                                 + "/pwned_b` | touch " + ws
                                 + "/pwned_c ; rm -f canary.txt && touch pwned_d";
  auto w = result_of(evs, "inject-ws", "shell-echo");
  BOOST_TEST(w.ok, w.output);
  BOOST_TEST(contains(w.output, "--- stdout ---\n" + ws_payload + "\n"), w.output);
  auto s = result_of(evs, "inject-sh-arg", "shell-echo-safe");
  BOOST_TEST(s.ok, s.output);
  BOOST_TEST(s.output == "exit 0\n--- stdout ---\nsafe\n", s.output);
  BOOST_TEST((entries(d.workspace()) == std::set<std::string>{"canary.txt"}));
  BOOST_TEST(slurp(d.workspace() / "canary.txt") == "alive");
}

// 13. Holds by: redaction of the shell's output before it is journaled,
// shown to the model, printed as progress or logged. The value must be
// nowhere: the SQLite file and its -wal/-shm, `troupe export` (and the
// checkpoint states inside it), `troupe show` (text and --json), `troupe
// replay`, and stdout/stderr of `troupe run` with debug logs in json (with
// --json) and in text (with --progress lines).
BOOST_AUTO_TEST_CASE(a_granted_secret_is_redacted_everywhere) {
  hostile_dir d;
  const auto secret = unique("Zq9-secret-");
  auto secrets = d.tmp.path / "secrets.env";
  write_file(secrets, "ALPHA_TOKEN=" + secret + "\n");
  auto scenario = d.install("redaction.toml");
  auto r = troupe_run(scenario, d.db(), {"--secrets-file", secrets.string()},
                      {"--log-level", "debug", "--log-format", "json"});
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto run_id = str(r.result, "run_id");

  // The value did reach the command: the redactor replaced it.
  auto echo = result_of(evs, "leak-echo", "shell-sh");
  BOOST_TEST(echo.ok, echo.output);
  BOOST_TEST(contains(echo.output, "--- stdout ---\n[REDACTED:ALPHA_TOKEN]\n"
                                   "[REDACTED:ALPHA_TOKEN][REDACTED:ALPHA_TOKEN]\n"),
             echo.output);
  BOOST_TEST(contains(echo.output, "--- stderr ---\ntoken=[REDACTED:ALPHA_TOKEN]\n"),
             echo.output);
  auto failing = result_of(evs, "leak-failing", "shell-sh");
  BOOST_TEST(!failing.ok);
  BOOST_TEST(contains(failing.output, "failing with [REDACTED:ALPHA_TOKEN]"),
             failing.output);

  // A second run of the same scenario with text logs and progress lines.
  auto text = troupe::test::run_command({TROUPE_BIN, "--log-level", "debug", "run",
                                         scenario.string(), "--db", d.db(), "--progress",
                                         "--secrets-file", secrets.string()});
  BOOST_TEST(text.exit_code == 0, text.err);
  BOOST_TEST(contains(text.err, "[REDACTED:ALPHA_TOKEN]"), text.err); // progress lines

  auto where = raw_journal_files(r.db);
  auto exp = exported(r.db, run_id);
  BOOST_TEST(contains(exp["export"], "[REDACTED:ALPHA_TOKEN]"));
  for (auto& [k, v] : exp)
    where[k] = v;
  auto show = troupe::test::run_command({TROUPE_BIN, "show", run_id, "--db", r.db});
  BOOST_TEST(show.exit_code == 0, show.err);
  auto show_json =
    troupe::test::run_command({TROUPE_BIN, "show", run_id, "--db", r.db, "--json"});
  BOOST_TEST(show_json.exit_code == 0, show_json.err);
  auto replay = troupe::test::run_command({TROUPE_BIN, "replay", run_id, "--db", r.db});
  BOOST_TEST(replay.exit_code == 0, replay.out << replay.err);
  where["show"] = show.out + show.err;
  where["show --json"] = show_json.out + show_json.err;
  where["replay"] = replay.out + replay.err;
  where["run (json logs) stdout"] = r.cmd.out;
  where["run (json logs) stderr"] = r.cmd.err;
  where["run (text logs, progress) stdout"] = text.out;
  where["run (text logs, progress) stderr"] = text.err;
  BOOST_TEST(found_in(where, secret).empty(), "the secret is in: " << found_in(where, secret));
  // Controls: the scan does see tool output in each kind of place (the raw
  // SQLite pages hold it uncompressed; checkpoint states decode).
  BOOST_TEST(where.count("raw journal.db") == 1u);
  auto marker_in = found_in(where, "failing with [REDACTED:ALPHA_TOKEN]");
  BOOST_TEST(contains(marker_in, "raw journal.db"), marker_in);
  BOOST_TEST(contains(marker_in, "export"), marker_in);
  BOOST_TEST(contains(where["export checkpoint states"], "leak-echo")); // decoded
  BOOST_TEST(contains(where["run (text logs, progress) stderr"], "tool_result"));
}

// Two ways around a per-tool redactor, closed by redacting every tool result
// of the run against every secret its policy can grant, and by redacting the
// beginning of a secret that an output cap cut off:
// - via-workspace: the shell writes its granted secret into a workspace
//   file; read_file, granted nothing, reads it back.
// - cut-at-cap: a value straddling the 1 MiB cut.
BOOST_AUTO_TEST_CASE(secret_leaks_around_the_redactor) {
  hostile_dir d;
  const auto secret = unique("Zq9-secret-");
  auto secrets = d.tmp.path / "secrets.env";
  write_file(secrets, "ALPHA_TOKEN=" + secret + "\n");
  auto r = troupe_run(d.install("redaction_gaps.toml"), d.db(),
                      {"--secrets-file", secrets.string()});
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto stash = result_of(evs, "stash", "shell-sh");
  BOOST_TEST(contains(stash.output, "stashed"), stash.output);
  auto via = result_of(evs, "via-workspace", "read-workspace");
  BOOST_TEST(!contains(via.output, secret), // fails today
             "read_file returned the shell's secret verbatim: " << via.output);
  auto cut = result_of(evs, "cut-at-cap", "shell-sh");
  BOOST_TEST(contains(cut.output, "[stdout truncated: 1048576 of"),
             cut.output.substr(cut.output.size() > 200 ? cut.output.size() - 200 : 0));
  const auto prefix = secret.substr(0, secret.size() - 1);
  BOOST_TEST(!contains(cut.output, prefix), // fails today
             "the output cap cut the secret before redaction; kept: "
               << cut.output.substr(cut.output.size() > 120 ? cut.output.size() - 120 : 0));
}

BOOST_AUTO_TEST_SUITE_END()
