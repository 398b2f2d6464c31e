// sandbox_request::read_only_roots: checked and normalized, bound read-only
// (nosuid, nodev) in cold calls and sandboxed children, refused by the pool;
// default_read_only_roots on a tree of npm-, venv- and plain-style installs.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/detail/sandbox_request.hpp"
#include "sandbox/detail/sandboxed_child_internal.hpp"
#include "sandbox/read_only_roots.hpp"
#include "sandbox/sandbox_pool.hpp"
#include "sandbox/sandbox_process.hpp"
#include "sandbox/sandboxed_child.hpp"
#include "schemas/errors.hpp"
#include "test/sandbox/child_io.hpp"
#include "test/support/temp_dir.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

void write_file(const fs::path& p, const std::string& text, fs::perms mode = fs::perms{0644}) {
  fs::create_directories(p.parent_path());
  std::ofstream{p} << text;
  fs::permissions(p, mode);
}

sandbox_request command(std::vector<std::string> argv) {
  sandbox_request req;
  req.argv = std::move(argv);
  req.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}};
  req.limits.wall_timeout_ms = 10000;
  return req;
}

// A host tree: data/ (a read-only root), single.txt (a read-only file root),
// secret.txt (not granted).
struct ro_tree {
  temp_dir host{"troupe-ro"};
  fs::path data = host.path / "data";
  fs::path file = data / "file.txt";
  fs::path single = host.path / "single.txt";
  fs::path secret = host.path / "secret.txt";
  ro_tree() {
    write_file(file, "granted data\n");
    write_file(single, "granted file\n");
    write_file(secret, "not granted\n");
  }
  sandbox_request request(std::vector<std::string> argv) const {
    auto req = command(std::move(argv));
    req.read_only_roots = {data, single};
    return req;
  }
};

std::string sh_quote(const fs::path& p) {
  return "'" + p.string() + "'";
}

void require_isolation() {
  auto avail = isolation_available();
  BOOST_REQUIRE_MESSAGE(avail, "read-only root tests need process isolation: " << render(avail));
}

std::string pool_worker_binary() {
#ifdef TROUPE_SANDBOX_WORKER
  return TROUPE_SANDBOX_WORKER;
#else
  return "troupe-sandbox-worker";
#endif
}

} // namespace

BOOST_AUTO_TEST_SUITE(read_only_roots)

BOOST_AUTO_TEST_CASE(bad_roots_are_invalid_requests_naming_them) {
  ro_tree t;
  auto missing = t.host.path / "missing-dir";
  struct bad_case {
    fs::path root;
    std::string says;
  };
  std::vector<bad_case> cases = {
    {missing, missing.string()},
    {"relative/dir", "not an absolute path"},
    {"/", "may not be /"},
    {"/proc/self", "may not be /"},
    {fs::path{std::string{"/tmp/a\0b", 8}}, "NUL"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.root) {
      auto req = t.request({"true"});
      req.read_only_roots.push_back(c.root);
      auto norm = detail::normalize_request(req);
      BOOST_REQUIRE(!norm);
      BOOST_TEST((norm.error() == sandbox_errc::invalid_request));
      BOOST_TEST(render(norm).find(c.says) != std::string::npos, render(norm));
      // The public entries refuse it the same way, before anything starts.
      auto child = sandboxed_child::start(req);
      BOOST_REQUIRE(!child);
      BOOST_TEST((child.error() == sandbox_errc::invalid_request));
      auto cold = run_sandboxed(req);
      BOOST_REQUIRE(!cold);
      BOOST_TEST((cold.error() == sandbox_errc::invalid_request));
    }
  }
}

BOOST_AUTO_TEST_CASE(normalization_keeps_only_what_the_sandbox_would_not_show) {
  ro_tree t;
  auto ws = t.host.path / "ws";
  fs::create_directories(ws / "inner");
  fs::create_directory_symlink(t.data, t.host.path / "data-link");
  auto req = t.request({"true"});
  req.writable_roots = {ws};
  req.read_only_roots = {t.host.path / "data-link", // the same as data, once resolved
                         t.file,                    // inside data
                         t.single,
                         ws,                        // writable wins
                         ws / "inner",              // inside a writable root
                         "/usr/lib",                // a system directory
                         "/etc/passwd",
                         t.data};
  auto norm = detail::normalize_request(req);
  BOOST_REQUIRE_MESSAGE(norm, render(norm));
  std::vector<fs::path> want = {t.data, t.single};
  BOOST_TEST(norm->read_only_roots == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cold_call_reads_but_cannot_write_and_sees_nothing_else) {
  require_isolation();
  ro_tree t;
  auto res = run_sandboxed(t.request({"cat", t.file.string(), t.single.string()}));
  BOOST_REQUIRE_MESSAGE(res, render(res));
  BOOST_TEST(res->exit_code == 0, res->stderr_data);
  BOOST_TEST(res->stdout_data == "granted data\ngranted file\n");

  for (const auto& target : {t.file, t.single, t.data / "new.txt"}) {
    BOOST_TEST_CONTEXT(target) {
      auto w = run_sandboxed(t.request({"sh", "-c", "echo changed > " + sh_quote(target)}));
      BOOST_REQUIRE_MESSAGE(w, render(w));
      BOOST_TEST(w->exit_code != 0);
      bool refused = w->stderr_data.find("Read-only file system") != std::string::npos
                     || w->stderr_data.find("Permission denied") != std::string::npos;
      BOOST_TEST(refused, w->stderr_data);
    }
  }
  BOOST_TEST(!fs::exists(t.data / "new.txt"));
  std::ifstream in{t.file};
  std::string first;
  std::getline(in, first);
  BOOST_TEST(first == "granted data");

  // The host directory holding the roots shows only them; the rest of the
  // host's /tmp is absent.
  auto ls = run_sandboxed(t.request({"ls", "-A", t.host.path.string()}));
  BOOST_REQUIRE_MESSAGE(ls, render(ls));
  BOOST_TEST(ls->stdout_data == "data\nsingle.txt\n");
  auto secret = run_sandboxed(t.request({"cat", t.secret.string()}));
  BOOST_REQUIRE(secret);
  BOOST_TEST(secret->exit_code != 0);
  BOOST_TEST(secret->stdout_data.empty());
  auto tmp = run_sandboxed(t.request({"ls", "-A", "/tmp"}));
  BOOST_REQUIRE(tmp);
  BOOST_TEST(tmp->stdout_data == t.host.path.filename().string() + "\n");

  // Mounted read-only, nosuid and nodev.
  auto mounts = run_sandboxed(t.request({"cat", "/proc/self/mountinfo"}));
  BOOST_REQUIRE(mounts);
  for (const auto& root : {t.data, t.single}) {
    auto at = mounts->stdout_data.find(" " + root.string() + " ");
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, root << " not mounted: " << mounts->stdout_data);
    auto line = mounts->stdout_data.substr(at, mounts->stdout_data.find('\n', at) - at);
    BOOST_TEST(line.find("ro,nosuid,nodev") != std::string::npos, line);
  }
}

BOOST_AUTO_TEST_CASE(a_writable_root_inside_a_read_only_root_stays_writable) {
  require_isolation();
  ro_tree t;
  auto ws = t.data / "ws";
  fs::create_directories(ws);
  auto req = t.request({"sh", "-c", "echo written > out.txt && cat " + sh_quote(t.file)});
  req.writable_roots = {ws};
  auto res = run_sandboxed(req);
  BOOST_REQUIRE_MESSAGE(res, render(res));
  BOOST_TEST(res->exit_code == 0, res->stderr_data);
  BOOST_TEST(res->stdout_data == "granted data\n");
  BOOST_TEST(fs::exists(ws / "out.txt"));
}

BOOST_AUTO_TEST_CASE(sandboxed_child_sees_its_read_only_roots) {
  require_isolation();
  ro_tree t;
  auto req = t.request({"sh", "-c", "cat " + sh_quote(t.file) + "; cat " + sh_quote(t.secret)
                                      + " 2>/dev/null || echo no-secret; exec cat"});
  req.limits.wall_timeout_ms = 0;
  auto c = sandboxed_child::start(req);
  BOOST_REQUIRE_MESSAGE(c, render(c));
  line_reader out{(*c)->stdout_fd()};
  auto first = out.next(10s);
  auto second = out.next(10s);
  BOOST_REQUIRE(first);
  BOOST_REQUIRE(second);
  BOOST_TEST(*first == "granted data");
  BOOST_TEST(*second == "no-secret");
  (*c)->close_stdin();
  BOOST_TEST((*c)->wait().exit_code == 0);
}

BOOST_AUTO_TEST_CASE(without_isolation_the_field_has_no_effect) {
  ro_tree t;
  auto req = t.request({"cat", t.secret.string()});
  auto c = detail::sandboxed_child_internal::start(req, false);
  BOOST_REQUIRE_MESSAGE(c, render(c));
  line_reader out{(*c)->stdout_fd()};
  auto line = out.next(10s);
  BOOST_REQUIRE(line);
  BOOST_TEST(*line == "not granted"); // the host's filesystem, as it is
  BOOST_TEST((*c)->wait().exit_code == 0);
}

BOOST_AUTO_TEST_CASE(the_pool_refuses_read_only_roots) {
  require_isolation();
  ro_tree t;
  pool_config cfg;
  cfg.workers = 1;
  cfg.worker_binary = pool_worker_binary();
  auto pool = sandbox_pool::start(cfg);
  BOOST_REQUIRE_MESSAGE(pool, render(pool));
  auto res = (*pool)->run(t.request({"true"}));
  BOOST_REQUIRE(!res);
  BOOST_TEST((res.error() == sandbox_errc::invalid_request));
  BOOST_TEST(render(res).find("read-only roots") != std::string::npos, render(res));
  // Roots the sandbox shows anyway normalize away, and the call runs.
  auto req = command({"true"});
  req.read_only_roots = {"/usr/lib"};
  auto ok = (*pool)->run(req);
  BOOST_REQUIRE_MESSAGE(ok, render(ok));
  BOOST_TEST(ok->exit_code == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(default_roots)

// T/proj/node_modules/{.bin/srv -> ../pkg/bin/srv.js, pkg/node_modules/dep/x.js},
// T/venv/{pyvenv.cfg, bin/tool, lib/.../cli.py}, T/tools/{script.sh, sub/more.sh,
// data.json}, T/tools-link -> tools, T/noexec/srv (not executable).
struct install_tree {
  temp_dir t{"troupe-roots"};
  fs::path root = fs::canonical(t.path);
  fs::path modules = root / "proj" / "node_modules";
  fs::path venv = root / "venv";
  fs::path tools = root / "tools";
  install_tree() {
    write_file(modules / "pkg" / "bin" / "srv.js", "#!/usr/bin/env node\n", fs::perms{0755});
    fs::create_directories(modules / ".bin");
    fs::create_symlink("../pkg/bin/srv.js", modules / ".bin" / "srv");
    write_file(modules / "pkg" / "node_modules" / "dep" / "x.js", "");
    write_file(venv / "pyvenv.cfg", "home = /usr/bin\n");
    write_file(venv / "bin" / "tool", "#!" + (venv / "bin" / "python").string() + "\n",
               fs::perms{0755});
    write_file(venv / "lib" / "python3" / "site-packages" / "mod" / "cli.py", "");
    write_file(tools / "script.sh", "#!/bin/sh\n", fs::perms{0755});
    write_file(tools / "sub" / "more.sh", "#!/bin/sh\n", fs::perms{0755});
    write_file(tools / "data.json", "{}");
    fs::create_directory_symlink(tools, root / "tools-link");
    write_file(root / "noexec" / "srv", "", fs::perms{0644});
  }
};

BOOST_AUTO_TEST_CASE(resolves_npm_venv_and_plain_installs) {
  install_tree tr;
  std::string path = "relative/bin::" + (tr.root / "noexec").string() + ":"
                     + (tr.modules / ".bin").string() + ":/usr/bin:/bin";
  std::vector<std::string> argv = {
    "srv",                                                          // via PATH, a symlink
    (tr.venv / "lib" / "python3" / "site-packages" / "mod" / "cli.py").string(),
    (tr.root / "tools-link" / "data.json").string(),                // through a symlink
    (tr.tools / "sub" / "more.sh").string(),                        // nested in tools
    (tr.modules / "pkg" / "node_modules" / "dep" / "x.js").string(), // outermost wins
    "relative/x.js",
    (tr.root / "missing.js").string(),
    tr.tools.string(), // a directory, not a file
    "/usr/bin/env",
    "--port=3000",
  };
  auto roots = default_read_only_roots(argv, path);
  std::vector<fs::path> want = {tr.modules, tr.tools, tr.venv};
  BOOST_TEST(roots == want, boost::test_tools::per_element());
  // Deterministic: the order of argv does not matter.
  std::reverse(argv.begin() + 1, argv.end());
  BOOST_TEST(default_read_only_roots(argv, path) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_venv_script_maps_to_the_venv) {
  install_tree tr;
  auto roots = default_read_only_roots({(tr.venv / "bin" / "tool").string(), "serve"}, "");
  BOOST_TEST(roots == std::vector<fs::path>{tr.venv}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(system_programs_need_no_roots) {
  BOOST_TEST(default_read_only_roots({"sh", "-c", "true"}, "/usr/bin:/bin").empty());
  BOOST_TEST(default_read_only_roots({"/bin/cat", "/etc/hostname"}, "").empty());
  BOOST_TEST(default_read_only_roots({"troupe-no-such-program"}, "/usr/bin:/bin").empty());
  BOOST_TEST(default_read_only_roots({}, "/usr/bin").empty());
}

BOOST_AUTO_TEST_CASE(a_non_executable_path_entry_is_passed_over) {
  install_tree tr;
  auto path = (tr.root / "noexec").string() + ":" + (tr.tools).string();
  BOOST_TEST(default_read_only_roots({"srv"}, path).empty());
  auto roots = default_read_only_roots({"script.sh"}, path);
  BOOST_TEST(roots == std::vector<fs::path>{tr.tools}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
