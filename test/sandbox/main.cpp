#define BOOST_TEST_MODULE sandbox
#include <boost/test/unit_test.hpp>

// What the sandbox tests share: one workspace and one pool for the whole
// binary (declared in the test files, see `sandbox_paths`), so most pooled
// calls hit pre-started workers as they would in production.

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox_pool.hpp"
#include "sandbox/sandbox_process.hpp"
#include "schemas/errors.hpp"
#include "test/support/temp_dir.hpp"

namespace troupe::test {

const char* host_key_description();
std::string host_key_payload();

namespace {

struct shared_env {
  // /tmp/troupe-sandbox-XXXXXX/ws: the parent is a host temp dir outside
  // the writable roots, which the hostile tests use as "outside".
  temp_dir host{"troupe-sandbox"};
  std::filesystem::path workspace = host.path / "ws";
  std::unique_ptr<sandbox_pool> pool;

  shared_env() {
    std::filesystem::create_directories(workspace);
    join_session_keyring_with_host_key();
    auto avail = isolation_available();
    BOOST_REQUIRE_MESSAGE(avail, "sandbox tests need process isolation (run as root "
                                 "on Linux >= 5.12): "
                                   << render(avail));
    pool_config cfg;
    cfg.workers = 2;
    cfg.worker_binary = sandbox_worker_binary();
    cfg.writable_roots = {workspace};
    auto started = sandbox_pool::start(cfg);
    BOOST_REQUIRE_MESSAGE(started, "starting the shared pool with worker '"
                                     << cfg.worker_binary << "': " << render(started));
    pool = std::move(*started);
  }

  // systemd services and PAM logins run inside a session keyring; the tests
  // do too, with one key the sandbox must not reach. Before the pool starts,
  // so its workers inherit it as production workers would.
  static void join_session_keyring_with_host_key() {
    constexpr long join_session_keyring = 1; // KEYCTL_JOIN_SESSION_KEYRING
    constexpr long session_keyring = -3;     // KEY_SPEC_SESSION_KEYRING
    BOOST_REQUIRE(syscall(SYS_keyctl, join_session_keyring, "troupe-sandbox-test") >= 0);
    const std::string payload = host_key_payload();
    BOOST_REQUIRE(syscall(SYS_add_key, "user", host_key_description(), payload.data(),
                          payload.size(), session_keyring) >= 0);
  }

  static std::string sandbox_worker_binary() {
    if (const char* env = std::getenv("TROUPE_SANDBOX_WORKER"))
      return env;
#ifdef TROUPE_SANDBOX_WORKER
    return TROUPE_SANDBOX_WORKER;
#else
    return "troupe-sandbox-worker";
#endif
  }
};

shared_env& env() {
  static shared_env instance;
  return instance;
}

} // namespace

std::string sandbox_worker_binary() {
  return shared_env::sandbox_worker_binary();
}

const char* host_key_description() {
  return "troupe-host-key";
}

std::string host_key_payload() {
  return "host-keyring-secret-" + std::to_string(getpid());
}

const std::filesystem::path& shared_workspace() {
  return env().workspace;
}

sandbox_pool& shared_pool() {
  return *env().pool;
}

std::vector<std::pair<std::string,
                      std::function<caf::expected<sandbox_result>(const sandbox_request&)>>>
sandbox_paths() {
  auto& pool = shared_pool();
  return {{"cold", [](const sandbox_request& r) { return run_sandboxed(r); }},
          {"pool", [&pool](const sandbox_request& r) { return pool.run(r); }}};
}

} // namespace troupe::test
