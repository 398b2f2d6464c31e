#pragma once
// `troupe serve` as a real child process for the tests: started on a free
// port (the one it prints), stopped with a signal, and the tenants and keys
// it serves, written straight into its journal database.

#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/jobs/job.hpp"
#include "persistence/store.hpp"
#include "persistence/tenant_store.hpp"
#include "schemas/errors.hpp"
#include "test/support/run_command.hpp"

namespace troupe::test {

class serve_process {
public:
  /// Starts `troupe serve --db DB --scenarios DIR --listen 127.0.0.1:0 EXTRA...`
  /// and waits for its "listening on" line.
  serve_process(std::string db, std::string scenarios, std::vector<std::string> extra = {})
    : db_(std::move(db)), scenarios_(std::move(scenarios)), extra_(std::move(extra)) {
    start();
  }
  ~serve_process() {
    if (child_.pid > 0) {
      ::kill(child_.pid, SIGKILL);
      wait_for(child_);
    }
  }
  serve_process(const serve_process&) = delete;
  serve_process& operator=(const serve_process&) = delete;

  void start() {
    std::vector<std::string> argv{TROUPE_BIN, "serve", "--db", db_, "--scenarios", scenarios_,
                                  "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    child_ = spawn_with_stdout(argv);
    BOOST_REQUIRE_MESSAGE(child_.pid > 0, "cannot start " << TROUPE_BIN);
    std::string out;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    std::string marker = "listening on http://127.0.0.1:";
    while (out.find(marker) == std::string::npos && child_.out_fd >= 0
           && std::chrono::steady_clock::now() < until)
      read_until(child_, std::chrono::steady_clock::now() + std::chrono::milliseconds{50}, out);
    auto at = out.find(marker);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "troupe serve did not start: " << out);
    port_ = std::stoi(out.substr(at + marker.size()));
  }

  /// Sends `sig` and, for SIGKILL/SIGTERM/SIGINT, waits for the exit code.
  int signal(int sig) {
    ::kill(child_.pid, sig);
    if (sig == SIGHUP)
      return 0;
    std::string rest;
    read_to_end(child_, rest);
    auto code = wait_for(child_);
    child_.pid = -1;
    return code;
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int pid() const { return child_.pid; }

private:
  std::string db_, scenarios_;
  std::vector<std::string> extra_;
  child_process child_;
  int port_ = 0;
};

/// Creates the journal at `db` (if new) and a tenant with one key per role;
/// returns the keys by role name.
inline std::map<std::string, std::string> add_tenant(const std::string& db,
                                                     const std::string& name,
                                                     jobs::tenant_quota quota = {}) {
  {
    auto journal = persistence::store::open(db, persistence::open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(journal, render(journal));
  }
  auto store = persistence::tenant_store::open(db);
  BOOST_REQUIRE_MESSAGE(store, render(store));
  jobs::tenant t;
  t.name = name;
  t.quota = quota;
  auto added = store->add_tenant(t);
  BOOST_REQUIRE_MESSAGE(added, render(added));
  std::map<std::string, std::string> keys;
  for (auto r : {jobs::role::viewer, jobs::role::submitter, jobs::role::operator_,
                 jobs::role::admin}) {
    auto k = store->create_key(name, r);
    BOOST_REQUIRE_MESSAGE(k, render(k));
    keys[std::string(jobs::to_string(r))] = k->token;
  }
  return keys;
}

} // namespace troupe::test
