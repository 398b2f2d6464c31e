#include "core/workspace.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "core/glob.hpp"
#include "core/run_state.hpp"
#include "schemas/errors.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

namespace fs = std::filesystem;
using namespace std::string_literals;
using troupe::render;
using troupe::resolve_in_workspace;
using troupe::runtime_errc;
using troupe::test::contains;
using troupe::beneath_mode;
using troupe::open_beneath;
using troupe::spelling_fault;
using troupe::spelling_fault_of;
using troupe::unique_fd;

namespace {

// A unique directory under /tmp, removed with everything in it at the end.
// Holds the workspace root and, beside it, an "outside" directory that
// symlinks try to reach.
struct workspace_fixture {
  workspace_fixture() {
    fs::create_directories(root / "sub");
    fs::create_directories(outside);
    std::ofstream{outside / "secret.txt"} << "secret";
    std::ofstream{root / "sub" / "inner.txt"} << "inner";
  }

  std::string error_of(std::string_view rel, runtime_errc code) {
    auto res = resolve_in_workspace(root, rel);
    BOOST_REQUIRE_MESSAGE(!res, "resolved unexpectedly: " << (res ? res->string() : ""));
    BOOST_CHECK(res.error() == code);
    return render(res.error());
  }

  fs::path resolved(std::string_view rel) {
    auto res = resolve_in_workspace(root, rel);
    BOOST_REQUIRE_MESSAGE(res, render(res));
    return *res;
  }

  fs::path canonical_root() {
    return fs::canonical(root);
  }

  // Opens `rel` beneath the root in mode `how`; the fd or -errno.
  int open_rc(std::string_view rel, beneath_mode how, int flags = O_RDONLY) {
    auto dir = troupe::open_workspace_root(root);
    BOOST_REQUIRE_MESSAGE(dir, render(dir));
    unique_fd fd{open_beneath(dir->get(), rel, flags, 0644, how)};
    return fd.valid() ? 0 : fd.get();
  }

  troupe::test::temp_dir tmp;
  fs::path base = tmp.path;
  fs::path root = base / "root";
  fs::path outside = base / "outside";
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(workspace, workspace_fixture)

BOOST_AUTO_TEST_CASE(dot_names_the_root) {
  BOOST_TEST(resolved(".") == canonical_root());
  BOOST_TEST(resolved("./") == canonical_root());
  BOOST_TEST(resolved("./.") == canonical_root());
}

BOOST_AUTO_TEST_CASE(existing_and_missing_paths_resolve_inside) {
  BOOST_TEST(resolved("sub/inner.txt") == canonical_root() / "sub" / "inner.txt");
  BOOST_TEST(resolved("sub") == canonical_root() / "sub");
  BOOST_TEST(resolved("./sub//inner.txt") == canonical_root() / "sub" / "inner.txt");
  BOOST_TEST(resolved("sub/") == canonical_root() / "sub");
}

BOOST_AUTO_TEST_CASE(nonexistent_nested_path_is_fine) {
  BOOST_TEST(resolved("a/b/c/new.txt") == canonical_root() / "a" / "b" / "c" / "new.txt");
  BOOST_TEST(resolved("sub/x/y.txt") == canonical_root() / "sub" / "x" / "y.txt");
  BOOST_TEST(!fs::exists(root / "a")); // resolving creates nothing
}

BOOST_AUTO_TEST_CASE(empty_and_nul_are_invalid_arguments) {
  BOOST_TEST(error_of("", runtime_errc::invalid_arguments)
             == "path is empty; use '.' for the workspace root");
  auto msg = error_of("a\0b"s, runtime_errc::invalid_arguments);
  BOOST_TEST(contains(msg, "NUL character"), msg);
}

BOOST_AUTO_TEST_CASE(dot_dot_components_escape) {
  auto msg = error_of("..", runtime_errc::path_escape);
  BOOST_TEST(msg == "path '..' contains '..'; paths must stay inside the workspace root '"
                      + root.string() + "'");
  msg = error_of("a/../../x", runtime_errc::path_escape);
  BOOST_TEST(contains(msg, "path 'a/../../x' contains '..'"), msg);
  // Even a '..' that would stay inside is refused: the rule is simple to state.
  error_of("sub/../sub/inner.txt", runtime_errc::path_escape);
  error_of("sub/..", runtime_errc::path_escape);
  error_of("../root/sub", runtime_errc::path_escape);
  // A name that merely contains dots is an ordinary name.
  BOOST_TEST(resolved("..hidden") == canonical_root() / "..hidden");
  BOOST_TEST(resolved("a..b/c") == canonical_root() / "a..b" / "c");
}

BOOST_AUTO_TEST_CASE(absolute_paths_escape) {
  auto msg = error_of("/etc/passwd", runtime_errc::path_escape);
  BOOST_TEST(msg == "path '/etc/passwd' is absolute; paths are relative to the workspace "
                    "root '" + root.string() + "'");
  error_of((root / "sub").string(), runtime_errc::path_escape);
  error_of("//etc", runtime_errc::path_escape);
}

BOOST_AUTO_TEST_CASE(symlink_to_a_file_outside_escapes) {
  fs::create_symlink(outside / "secret.txt", root / "link.txt");
  auto msg = error_of("link.txt", runtime_errc::path_escape);
  BOOST_TEST(msg == "path 'link.txt' escapes the workspace root '" + canonical_root().string()
                      + "': symlink 'link.txt' points to '"
                      + fs::canonical(outside / "secret.txt").string() + "'");
}

BOOST_AUTO_TEST_CASE(symlink_to_tmp_escapes) {
  fs::create_symlink("/tmp", root / "tmp");
  auto msg = error_of("tmp", runtime_errc::path_escape);
  BOOST_TEST(contains(msg, "symlink 'tmp' points to '/tmp'"), msg);
  error_of("tmp/whatever.txt", runtime_errc::path_escape);
}

BOOST_AUTO_TEST_CASE(symlinked_directory_escapes) {
  fs::create_directory_symlink(outside, root / "sub" / "out");
  auto msg = error_of("sub/out/secret.txt", runtime_errc::path_escape);
  BOOST_TEST(contains(msg, "path 'sub/out/secret.txt' escapes the workspace root"), msg);
  BOOST_TEST(contains(msg, "symlink 'sub/out'"), msg);
  // Paths below the link that do not exist yet escape just the same.
  error_of("sub/out/new/file.txt", runtime_errc::path_escape);
  error_of("sub/out", runtime_errc::path_escape);
}

BOOST_AUTO_TEST_CASE(relative_symlink_climbing_out_escapes) {
  fs::create_symlink("../../outside", root / "sub" / "up");
  error_of("sub/up/secret.txt", runtime_errc::path_escape);
}

BOOST_AUTO_TEST_CASE(symlink_inside_the_workspace_is_followed) {
  fs::create_directory_symlink("sub", root / "alias");
  BOOST_TEST(resolved("alias/inner.txt") == canonical_root() / "sub" / "inner.txt");
  BOOST_TEST(resolved("alias/new.txt") == canonical_root() / "sub" / "new.txt");
  fs::create_symlink(root / "sub" / "inner.txt", root / "abs_link.txt");
  BOOST_TEST(resolved("abs_link.txt") == canonical_root() / "sub" / "inner.txt");
}

BOOST_AUTO_TEST_CASE(dangling_and_looping_symlinks_are_refused) {
  fs::create_symlink(outside / "does-not-exist", root / "dangling");
  auto msg = error_of("dangling", runtime_errc::path_escape);
  BOOST_TEST(contains(msg, "symlink 'dangling' is dangling or loops"), msg);
  fs::create_symlink("loop_b", root / "loop_a");
  fs::create_symlink("loop_a", root / "loop_b");
  error_of("loop_a/x", runtime_errc::path_escape);
}

BOOST_AUTO_TEST_CASE(root_reached_through_a_symlink_works) {
  fs::create_directory_symlink(root, base / "root-link");
  auto res = resolve_in_workspace(base / "root-link", "sub/inner.txt");
  BOOST_REQUIRE_MESSAGE(res, render(res));
  BOOST_TEST(*res == canonical_root() / "sub" / "inner.txt");
}

BOOST_AUTO_TEST_CASE(sibling_with_common_prefix_is_outside) {
  // "/x/root-evil" starts with the string "/x/root" but is not inside it.
  fs::create_directories(base / "rootevil");
  fs::create_directory_symlink(base / "rootevil", root / "evil");
  error_of("evil", runtime_errc::path_escape);
}

BOOST_AUTO_TEST_CASE(missing_root_is_an_io_error) {
  auto res = resolve_in_workspace(base / "no-such-root", "a.txt");
  BOOST_REQUIRE(!res);
  BOOST_CHECK(res.error() == runtime_errc::io_failed);
  BOOST_TEST(contains(render(res.error()), "no-such-root"), render(res));
  auto file_root = resolve_in_workspace(root / "sub" / "inner.txt", ".");
  BOOST_REQUIRE(!file_root);
  BOOST_CHECK(file_root.error() == runtime_errc::io_failed);
}

// -- spelling: the one containment rule -----------------------------------------

BOOST_AUTO_TEST_CASE(spelling_faults) {
  BOOST_CHECK(spelling_fault_of("a/b.txt") == spelling_fault::none);
  BOOST_CHECK(spelling_fault_of(".") == spelling_fault::none);
  BOOST_CHECK(spelling_fault_of("a..b/..c/c..") == spelling_fault::none);
  BOOST_CHECK(spelling_fault_of("") == spelling_fault::empty);
  BOOST_CHECK(spelling_fault_of("a\0b"s) == spelling_fault::nul);
  BOOST_CHECK(spelling_fault_of("/etc") == spelling_fault::absolute);
  BOOST_CHECK(spelling_fault_of("//etc") == spelling_fault::absolute);
  BOOST_CHECK(spelling_fault_of("..") == spelling_fault::dot_dot);
  BOOST_CHECK(spelling_fault_of("a/..") == spelling_fault::dot_dot);
  BOOST_CHECK(spelling_fault_of("a//../b") == spelling_fault::dot_dot);
  BOOST_CHECK(!troupe::check_workspace_spelling(root, "sub/inner.txt"));
  BOOST_CHECK(troupe::check_workspace_spelling(root, "../x") == runtime_errc::path_escape);
  BOOST_CHECK(troupe::check_workspace_spelling(root, "") == runtime_errc::invalid_arguments);
}

// The scope boundary, path policy globs and tools agree on what leaves the
// workspace, because they share `leaves_workspace`.
BOOST_AUTO_TEST_CASE(scope_boundary_policy_globs_and_tools_share_the_rule) {
  for (const char* path : {"a/b.txt", ".", "a..b/..c/c..", "/etc", "//etc", "..", "a/..",
                           "a//../b", "../x", "x/../../y"}) {
    BOOST_TEST_CONTEXT(path) {
      bool leaves = troupe::leaves_workspace(path);
      auto args = nlohmann::json{{"path", path}};
      BOOST_TEST(!troupe::scope_violation("write_file", false, args).empty() == leaves);
      BOOST_TEST(!!troupe::check_glob(path, troupe::glob_kind::path) == leaves);
      BOOST_TEST((troupe::check_workspace_spelling(root, path) == runtime_errc::path_escape)
                 == leaves);
    }
  }
}

// -- open_beneath: resolution by descriptor --------------------------------------

BOOST_AUTO_TEST_CASE(open_beneath_opens_inside_in_both_modes) {
  for (auto how : {beneath_mode::kernel, beneath_mode::walk}) {
    if (how == beneath_mode::kernel && !troupe::kernel_has_openat2())
      continue;
    BOOST_TEST(open_rc("sub/inner.txt", how) == 0);
    BOOST_TEST(open_rc("./sub//inner.txt", how) == 0);
    BOOST_TEST(open_rc(".", how, O_RDONLY | O_DIRECTORY) == 0);
    BOOST_TEST(open_rc("sub/", how, O_RDONLY | O_DIRECTORY) == 0);
    BOOST_TEST(open_rc("missing.txt", how) == -ENOENT);
    BOOST_TEST(open_rc("sub/inner.txt/x", how) == -ENOTDIR);
  }
}

BOOST_AUTO_TEST_CASE(open_beneath_refuses_every_way_out) {
  fs::create_symlink(outside / "secret.txt", root / "abs.txt");
  fs::create_symlink("../outside/secret.txt", root / "rel.txt");
  fs::create_directory_symlink(outside, root / "sub" / "out");
  fs::create_symlink("/proc/self/root/etc/passwd", root / "magic");
  for (auto how : {beneath_mode::kernel, beneath_mode::walk}) {
    if (how == beneath_mode::kernel && !troupe::kernel_has_openat2())
      continue;
    for (auto rel : {"abs.txt", "rel.txt", "sub/out/secret.txt", "sub/out", "magic"})
      BOOST_TEST(open_rc(rel, how) == -EXDEV, rel);
    BOOST_TEST(open_rc("sub/out/new.txt", how, O_WRONLY | O_CREAT) == -EXDEV);
    BOOST_TEST(open_rc("abs.txt", how, O_WRONLY | O_CREAT) == -EXDEV);
  }
  BOOST_TEST(!fs::exists(outside / "new.txt"));
}

BOOST_AUTO_TEST_CASE(symlinks_inside_are_followed_only_by_the_kernel) {
  fs::create_directory_symlink("sub", root / "alias");
  fs::create_symlink(root / "sub" / "inner.txt", root / "abs_inside.txt");
  if (troupe::kernel_has_openat2()) {
    BOOST_TEST(open_rc("alias/inner.txt", beneath_mode::kernel) == 0);
    BOOST_TEST(open_rc("alias", beneath_mode::kernel, O_PATH | O_DIRECTORY) == 0);
    // An absolute target names a host path; the sandbox sees other paths,
    // so such a link has no meaning worth following.
    BOOST_TEST(open_rc("abs_inside.txt", beneath_mode::kernel) == -EXDEV);
  }
  // Without openat2 a symlink cannot be followed safely: all are refused.
  BOOST_TEST(open_rc("alias/inner.txt", beneath_mode::walk) == -EXDEV);
  BOOST_TEST(open_rc("alias", beneath_mode::walk, O_RDONLY | O_DIRECTORY) == -EXDEV);
  BOOST_TEST(open_rc("alias", beneath_mode::walk, O_PATH) == -EXDEV);
}

BOOST_AUTO_TEST_CASE(make_dirs_beneath_creates_inside_only) {
  fs::create_directory_symlink(outside, root / "out");
  for (auto how : {beneath_mode::kernel, beneath_mode::walk}) {
    if (how == beneath_mode::kernel && !troupe::kernel_has_openat2())
      continue;
    auto dir = troupe::open_workspace_root(root);
    BOOST_REQUIRE(dir);
    unique_fd made{troupe::make_dirs_beneath(dir->get(), "a/b/c", how)};
    BOOST_TEST(made.valid());
    BOOST_TEST(fs::is_directory(root / "a" / "b" / "c"));
    unique_fd again{troupe::make_dirs_beneath(dir->get(), "a/b/c", how)};
    BOOST_TEST(again.valid());
    unique_fd out{troupe::make_dirs_beneath(dir->get(), "out/x/y", how)};
    BOOST_TEST(out.get() == -EXDEV);
    BOOST_TEST(!fs::exists(outside / "x"));
    fs::remove_all(root / "a");
  }
}

BOOST_AUTO_TEST_CASE(open_workspace_root_errors_name_the_root) {
  auto missing = troupe::open_workspace_root(base / "no-such-root");
  BOOST_REQUIRE(!missing);
  BOOST_CHECK(missing.error() == runtime_errc::io_failed);
  BOOST_TEST(contains(render(missing.error()), "no-such-root"));
  auto file = troupe::open_workspace_root(root / "sub" / "inner.txt");
  BOOST_REQUIRE(!file);
  BOOST_TEST(contains(render(file.error()), "is not a directory"));
  BOOST_TEST(std::string{troupe::file_type_name(S_IFIFO)} == "FIFO");
  BOOST_TEST(troupe::normalize_relative("./a//b/./") == "a/b");
  BOOST_TEST(troupe::normalize_relative(".") == "");
}

BOOST_AUTO_TEST_SUITE_END()
