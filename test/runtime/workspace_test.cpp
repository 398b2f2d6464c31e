#include "runtime/workspace.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "schemas/errors.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

namespace fs = std::filesystem;
using namespace std::string_literals;
using troupe::render;
using troupe::resolve_in_workspace;
using troupe::runtime_errc;
using troupe::test::contains;

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

BOOST_AUTO_TEST_SUITE_END()
