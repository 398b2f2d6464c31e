// The symlink race of issue 14: a sandboxed command swaps a directory of the
// workspace for a symlink to the outside while a host-side file tool is
// between its check and its use. A thread here plays the sandbox, exchanging
// the directory and the symlink atomically (renameat2 RENAME_EXCHANGE) as
// fast as it can, while the test calls every file tool, and the lower-level
// open_beneath in both resolution modes, thousands of times on paths
// through that directory. Nothing outside may ever be read or written.

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "core/builtin_tools.hpp"
#include "core/envelope.hpp"
#include "core/workspace.hpp"
#include "schemas/errors.hpp"
#include "test/support/files.hpp"
#include "test/support/temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using troupe::beneath_mode;
using troupe::render;
using troupe::unique_fd;
using troupe::test::slurp;

namespace {

constexpr const char* secret = "SECRET-OUTSIDE-7f3a";

// root/d is a real directory and root/d.swap a symlink to `outside` (and
// the other way round after each exchange). `outside` holds a file with the
// secret under the same name as the one inside, and one more sentinel file.
struct race_fixture {
  race_fixture() {
    fs::create_directories(root / "d");
    fs::create_directories(outside);
    troupe::test::write_file(root / "d" / "f.txt", "inside");
    troupe::test::write_file(outside / "f.txt", secret);
    troupe::test::write_file(outside / "outside-only.txt", secret);
    fs::create_directory_symlink(outside, root / "d.swap");
    auto err = troupe::register_builtin_tools(registry);
    BOOST_REQUIRE_MESSAGE(!err, render(err));
    ctx.workspace_root = root;
    ctx.run_id = "run-race";
    ctx.call_id = "call-1";
  }

  ~race_fixture() {
    stop_swapper();
  }

  void start_swapper() {
    swapper = std::thread{[this] {
      auto a = (root / "d").string();
      auto b = (root / "d.swap").string();
      while (!stop.load(std::memory_order_relaxed))
        if (::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0)
          swaps.fetch_add(1, std::memory_order_relaxed);
    }};
  }

  void stop_swapper() {
    stop = true;
    if (swapper.joinable())
      swapper.join();
  }

  // The outside directory exactly as it was set up.
  void check_outside_untouched() {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(outside))
      names.insert(e.path().filename().string());
    BOOST_TEST((names == std::set<std::string>{"f.txt", "outside-only.txt"}));
    BOOST_TEST(slurp(outside / "f.txt") == secret);
    BOOST_TEST(slurp(outside / "outside-only.txt") == secret);
  }

  troupe::tool_registry registry;
  troupe::tool_context ctx;
  troupe::test::temp_dir tmp;
  fs::path root = tmp.path / "ws";
  fs::path outside = tmp.path / "outside";
  std::thread swapper;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> swaps{0};
};

troupe::tool_outcome run_tool(race_fixture& f, const std::string& tool, const json& args) {
  auto prepared = troupe::prepare_call(f.registry, tool, args.dump());
  BOOST_REQUIRE_MESSAGE(prepared, render(prepared));
  return troupe::invoke_tool(*f.registry.find(tool), *prepared, f.ctx);
}

// Bounded by iterations, not time: the outcome must not depend on the
// machine's speed, only the chance to hit the window does.
constexpr int tool_rounds = 2000;
constexpr int open_rounds = 5000;

} // namespace

BOOST_FIXTURE_TEST_SUITE(file_tools_race, race_fixture)

BOOST_AUTO_TEST_CASE(file_tools_never_cross_a_swapped_symlink) {
  start_swapper();
  size_t leaks = 0;
  size_t ok_calls = 0;
  for (int i = 0; i < tool_rounds && leaks == 0; ++i) {
    auto read = run_tool(*this, "read_file", {{"path", "d/f.txt"}});
    auto listed = run_tool(*this, "list_dir", {{"path", "d"}});
    auto written = run_tool(*this, "write_file", {{"path", "d/w.txt"}, {"content", "w"}});
    auto deep = run_tool(*this, "write_file",
                         {{"path", "d/sub/deep.txt"}, {"content", "deep"}});
    auto appended = run_tool(*this, "append_file",
                             {{"path", "d/a.txt"}, {"content", "a"}});
    for (auto* out : {&read, &listed, &written, &deep, &appended}) {
      ok_calls += out->ok ? 1 : 0;
      if (out->output.find(secret) != std::string::npos
          || out->output.find("outside-only") != std::string::npos) {
        ++leaks;
        BOOST_ERROR("round " << i << " leaked: " << out->output);
      }
    }
    if (fs::exists(outside / "w.txt") || fs::exists(outside / "a.txt")
        || fs::exists(outside / "sub")) {
      ++leaks;
      BOOST_ERROR("round " << i << " wrote outside the workspace");
    }
  }
  stop_swapper();
  BOOST_TEST_MESSAGE(swaps.load() << " swaps, " << ok_calls << " calls succeeded");
  BOOST_TEST(swaps.load() > 0u);
  // Most calls land while the directory is real: the tools still work.
  BOOST_TEST(ok_calls > 0u);
  check_outside_untouched();
}

// The walk is what kernels without openat2 get; both must hold.
static void open_beneath_race(race_fixture& f, beneath_mode how) {
  auto root_fd = troupe::open_workspace_root(f.root);
  BOOST_REQUIRE_MESSAGE(root_fd, render(root_fd));
  int dir = root_fd->get();
  f.start_swapper();
  size_t opened = 0;
  for (int i = 0; i < open_rounds; ++i) {
    unique_fd rd{troupe::open_beneath(dir, "d/f.txt", O_RDONLY, 0, how)};
    if (rd.valid()) {
      ++opened;
      char buf[64] = {};
      auto n = ::read(rd.get(), buf, sizeof buf - 1);
      BOOST_REQUIRE_MESSAGE(n < 0 || std::string(buf, static_cast<size_t>(n)) == "inside",
                            "round " << i << " read " << buf);
    }
    unique_fd wr{troupe::open_beneath(dir, "d/new.txt", O_WRONLY | O_CREAT, 0644, how)};
    unique_fd made{troupe::make_dirs_beneath(dir, "d/made/deeper", how)};
    BOOST_REQUIRE_MESSAGE(!fs::exists(f.outside / "new.txt") && !fs::exists(f.outside / "made"),
                          "round " << i << " created a file outside");
  }
  f.stop_swapper();
  BOOST_TEST(f.swaps.load() > 0u);
  BOOST_TEST(opened > 0u);
  f.check_outside_untouched();
}

BOOST_AUTO_TEST_CASE(openat2_never_crosses_a_swapped_symlink) {
  if (!troupe::kernel_has_openat2()) {
    BOOST_TEST_MESSAGE("no openat2 in this kernel: only the walk is tested");
    return;
  }
  open_beneath_race(*this, beneath_mode::kernel);
}

BOOST_AUTO_TEST_CASE(the_nofollow_walk_never_crosses_a_swapped_symlink) {
  open_beneath_race(*this, beneath_mode::walk);
}

BOOST_AUTO_TEST_SUITE_END()
