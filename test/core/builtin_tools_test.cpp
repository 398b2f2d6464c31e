#include "core/builtin_tools.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/envelope.hpp"
#include "schemas/errors.hpp"
#include "test/support/files.hpp"
#include "test/support/temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using troupe::render;
using troupe::test::slurp;
using troupe::tool_outcome;

namespace {

// A registry with the built-in tools and a fresh workspace under /tmp with an
// "outside" sibling directory; everything is removed at the end.
struct tools_fixture {
  tools_fixture() {
    auto err = troupe::register_builtin_tools(registry);
    BOOST_REQUIRE_MESSAGE(!err, render(err));
    fs::create_directories(root);
    fs::create_directories(outside);
    ctx.workspace_root = root;
    ctx.run_id = "run-1";
    ctx.call_id = "call-1";
  }

  // Runs a call the way the runtime will: envelope first, then the handler.
  tool_outcome call(std::string_view tool, std::string_view args) {
    auto prepared = troupe::prepare_call(registry, tool, args);
    BOOST_REQUIRE_MESSAGE(prepared, render(prepared));
    return troupe::invoke_tool(*registry.find(tool), *prepared, ctx);
  }

  void write(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    troupe::test::write_file(p, content);
  }

  // Runs the call on its own thread and gives it `limit` to return. A call
  // that blocks on the FIFO `unblock` fails the test; opening the FIFO's
  // other end then lets the stuck thread finish, so the binary can exit.
  tool_outcome call_bounded(std::string_view tool, std::string args,
                            const fs::path& unblock) {
    auto prepared = troupe::prepare_call(registry, tool, args);
    BOOST_REQUIRE_MESSAGE(prepared, render(prepared));
    auto promise = std::make_shared<std::promise<tool_outcome>>();
    auto done = promise->get_future();
    std::thread worker{[promise, def = *registry.find(tool), a = *prepared, c = ctx] {
      promise->set_value(troupe::invoke_tool(def, a, c));
    }};
    if (done.wait_for(std::chrono::seconds{5}) == std::future_status::ready) {
      worker.join();
      return done.get();
    }
    BOOST_ERROR(tool << " " << args << " blocked for 5 s");
    // The released writer may write into a pipe whose reader is gone.
    std::signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < 100 && done.wait_for(std::chrono::milliseconds{50})
                                 != std::future_status::ready; ++i) {
      int rd = ::open(unblock.c_str(), O_RDONLY | O_NONBLOCK);
      int wr = ::open(unblock.c_str(), O_WRONLY | O_NONBLOCK);
      for (int fd : {rd, wr})
        if (fd >= 0)
          ::close(fd);
    }
    worker.join();
    return done.get();
  }

  troupe::tool_registry registry;
  troupe::tool_context ctx;
  troupe::test::temp_dir tmp;
  fs::path root = tmp.path / "ws";
  fs::path outside = tmp.path / "outside";
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(builtin_tools, tools_fixture)

BOOST_AUTO_TEST_CASE(effects_are_declared) {
  using troupe::tool_effect;
  BOOST_CHECK(registry.find("echo")->effect == tool_effect::pure);
  BOOST_CHECK(registry.find("read_file")->effect == tool_effect::pure);
  BOOST_CHECK(registry.find("write_file")->effect == tool_effect::idempotent);
  BOOST_CHECK(registry.find("list_dir")->effect == tool_effect::pure);
  BOOST_CHECK(registry.find("complete")->effect == tool_effect::pure);
  BOOST_TEST(troupe::to_string(tool_effect::idempotent) == "idempotent");
  BOOST_TEST(ctx.idempotency_key() == "run-1:call-1");
  troupe::tool_registry again;
  BOOST_CHECK(!troupe::register_builtin_tools(again));
  BOOST_CHECK(troupe::register_builtin_tools(again)); // duplicates refused
}

BOOST_AUTO_TEST_CASE(a_tool_is_offered_as_its_definition_says) {
  auto* def = registry.find("write_file");
  auto* spec = registry.spec("write_file");
  BOOST_REQUIRE(def != nullptr);
  BOOST_REQUIRE(spec != nullptr);
  BOOST_TEST(spec->name == "write_file");
  BOOST_TEST(spec->description == def->description);
  BOOST_TEST(spec->parameters_json == def->parameters.dump());
  BOOST_CHECK(registry.spec("no_such_tool") == nullptr);
}

BOOST_AUTO_TEST_CASE(echo_returns_compact_sorted_json) {
  auto out = call("echo", R"({"b": 1, "a": ["x", {"c": null}]})");
  BOOST_TEST(out.ok);
  BOOST_TEST(out.output == R"({"a":["x",{"c":null}],"b":1})");
  BOOST_TEST(call("echo", "{}").output == "{}");
}

BOOST_AUTO_TEST_CASE(write_then_read_round_trip) {
  auto written = call("write_file", R"({"path": "notes.txt", "content": "line 1\nline 2\n"})");
  BOOST_TEST(written.ok, written.output);
  BOOST_TEST(written.output == "wrote 14 bytes to 'notes.txt'");
  BOOST_TEST(slurp(root / "notes.txt") == "line 1\nline 2\n");
  auto read = call("read_file", R"({"path": "notes.txt"})");
  BOOST_TEST(read.ok, read.output);
  BOOST_TEST(read.output == "line 1\nline 2\n");
  auto unicode = call("write_file", R"({"path": "u.txt", "content": "caf\u00e9 \ud83d\ude00"})");
  BOOST_TEST(unicode.ok, unicode.output);
  BOOST_TEST(call("read_file", R"({"path": "u.txt"})").output == "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

BOOST_AUTO_TEST_CASE(write_creates_parents_and_leaves_no_temp_files) {
  auto out = call("write_file", R"({"path": "a/b/c.txt", "content": ""})");
  BOOST_TEST(out.ok, out.output);
  BOOST_TEST(fs::is_regular_file(root / "a" / "b" / "c.txt"));
  BOOST_TEST(fs::file_size(root / "a" / "b" / "c.txt") == 0u);
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(root))
    files += e.is_regular_file() ? 1 : 0;
  BOOST_TEST(files == 1u);
}

BOOST_AUTO_TEST_CASE(write_is_idempotent_and_replaces) {
  auto first = call("write_file", R"({"path": "f.txt", "content": "same"})");
  auto second = call("write_file", R"({"path": "f.txt", "content": "same"})");
  BOOST_TEST(first.ok);
  BOOST_TEST(second.ok);
  BOOST_TEST(first.output == second.output);
  BOOST_TEST(slurp(root / "f.txt") == "same");
  BOOST_TEST(call("write_file", R"({"path": "f.txt", "content": "new"})").ok);
  BOOST_TEST(slurp(root / "f.txt") == "new");
}

BOOST_AUTO_TEST_CASE(write_refuses_directories) {
  fs::create_directories(root / "d");
  auto out = call("write_file", R"({"path": "d", "content": "x"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output == "write_file: 'd' is a directory; give a file path");
  out = call("write_file", R"({"path": ".", "content": "x"})");
  BOOST_TEST(!out.ok);
  out = call("write_file", R"({"path": "newdir/", "content": "x"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output == "write_file: 'newdir/' ends with '/'; give a file path");
  BOOST_TEST(!fs::exists(root / "newdir"));
}

BOOST_AUTO_TEST_CASE(read_missing_file_is_a_failed_outcome) {
  auto out = call("read_file", R"({"path": "x"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(!out.retryable);
  BOOST_TEST(out.output == "read_file: no such file 'x' in workspace");
  out = call("read_file", R"({"path": "no/such/dir/x"})");
  BOOST_TEST(out.output == "read_file: no such file 'no/such/dir/x' in workspace");
}

BOOST_AUTO_TEST_CASE(read_rejects_directories_binary_and_large_files) {
  fs::create_directories(root / "d");
  auto out = call("read_file", R"({"path": "d"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output == "read_file: 'd' is a directory; use list_dir to see its entries");
  write(root / "bin", std::string("\x7f" "ELF\0\1", 6));
  out = call("read_file", R"({"path": "bin"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output.find("is not UTF-8 text") != std::string::npos, out.output);
  write(root / "big.txt", std::string(troupe::max_read_file_bytes + 1, 'a'));
  out = call("read_file", R"({"path": "big.txt"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output == "read_file: 'big.txt' is 1048577 bytes, over the limit of "
                           "1048576 bytes (1 MiB); read_file returns whole files only");
  write(root / "max.txt", std::string(troupe::max_read_file_bytes, 'b'));
  out = call("read_file", R"({"path": "max.txt"})");
  BOOST_TEST(out.ok);
  BOOST_TEST(out.output.size() == troupe::max_read_file_bytes);
}

BOOST_AUTO_TEST_CASE(list_dir_sorts_and_marks_directories) {
  write(root / "b.txt", "b");
  write(root / "a.txt", "a");
  write(root / "sub" / "inner.txt", "i");
  fs::create_directories(root / "Zdir");
  auto out = call("list_dir", "{}");
  BOOST_TEST(out.ok, out.output);
  BOOST_TEST(out.output == "Zdir/\na.txt\nb.txt\nsub/\n");
  BOOST_TEST(call("list_dir", R"({"path": "."})").output == out.output);
  BOOST_TEST(call("list_dir", "").output == out.output);
  BOOST_TEST(call("list_dir", R"({"path": "sub"})").output == "inner.txt\n");
  BOOST_TEST(call("list_dir", R"({"path": "Zdir"})").output == "");
}

BOOST_AUTO_TEST_CASE(list_dir_failures) {
  write(root / "f.txt", "x");
  auto out = call("list_dir", R"({"path": "missing"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output == "list_dir: no such directory 'missing' in workspace");
  out = call("list_dir", R"({"path": "f.txt"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output == "list_dir: 'f.txt' is not a directory; use read_file for files");
}

BOOST_AUTO_TEST_CASE(list_dir_escapes_unprintable_names) {
  write(root / "bad\x01name", "x");
  write(root / std::string("lat\xE9"), "x"); // Latin-1, not UTF-8
  auto out = call("list_dir", "{}");
  BOOST_TEST(out.ok);
  BOOST_TEST(out.output == "bad\\x01name\nlat\\xe9\n");
}

BOOST_AUTO_TEST_CASE(file_tools_refuse_escapes) {
  write(outside / "secret.txt", "secret");
  auto out = call("read_file", R"({"path": "../outside/secret.txt"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output.rfind("read_file: path '../outside/secret.txt' contains '..'", 0) == 0u,
             out.output);
  out = call("read_file", R"({"path": "/etc/passwd"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output.rfind("read_file: path '/etc/passwd' is absolute", 0) == 0u, out.output);
  fs::create_directory_symlink(outside, root / "out");
  out = call("read_file", R"({"path": "out/secret.txt"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output.find("escapes the workspace root") != std::string::npos, out.output);
  out = call("write_file", R"({"path": "out/planted.txt", "content": "x"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(!fs::exists(outside / "planted.txt"));
  out = call("list_dir", R"({"path": "out"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output.rfind("list_dir: path 'out' escapes", 0) == 0u, out.output);
}

BOOST_AUTO_TEST_CASE(every_file_tool_refuses_a_static_symlink_out) {
  write(outside / "secret.txt", "TOP-SECRET");
  fs::create_symlink(outside / "secret.txt", root / "abs.txt");
  fs::create_symlink("../outside/secret.txt", root / "rel.txt");
  fs::create_directory_symlink(outside, root / "out");
  for (std::string p : {"abs.txt", "rel.txt", "out/secret.txt", "out/new.txt",
                        "out/deeper/new.txt"}) {
    for (std::string tool : {"read_file", "write_file", "append_file"}) {
      auto args = tool == "read_file" ? json{{"path", p}}
                                      : json{{"path", p}, {"content", "planted"}};
      auto out = call(tool, args.dump());
      BOOST_TEST(!out.ok, tool << " " << p << ": " << out.output);
      BOOST_TEST(out.output.find("TOP-SECRET") == std::string::npos, out.output);
      BOOST_TEST(out.output.find("planted") == std::string::npos, out.output);
    }
  }
  for (std::string p : {"out", "out/"}) {
    auto out = call("list_dir", json{{"path", p}}.dump());
    BOOST_TEST(!out.ok, p << ": " << out.output);
  }
  BOOST_TEST(slurp(outside / "secret.txt") == "TOP-SECRET");
  size_t entries = 0;
  for (const auto& e : fs::recursive_directory_iterator(outside)) {
    (void)e;
    ++entries;
  }
  BOOST_TEST(entries == 1u);
}

BOOST_AUTO_TEST_CASE(symlinks_inside_the_workspace_stay_usable) {
  write(root / "sub" / "inner.txt", "inner");
  fs::create_directory_symlink("sub", root / "alias");
  fs::create_symlink("sub/inner.txt", root / "inner-link.txt");
  BOOST_TEST(call("read_file", R"({"path": "alias/inner.txt"})").output == "inner");
  BOOST_TEST(call("read_file", R"({"path": "inner-link.txt"})").output == "inner");
  auto out = call("append_file", R"({"path": "alias/inner.txt", "content": "+"})");
  BOOST_TEST(out.ok, out.output);
  out = call("write_file", R"({"path": "alias/new.txt", "content": "n"})");
  BOOST_TEST(out.ok, out.output);
  BOOST_TEST(slurp(root / "sub" / "inner.txt") == "inner+");
  BOOST_TEST(slurp(root / "sub" / "new.txt") == "n");
  BOOST_TEST(call("list_dir", R"({"path": "alias"})").output == "inner.txt\nnew.txt\n");
  // Renaming over a link would replace the link: write_file says so instead.
  out = call("write_file", R"({"path": "inner-link.txt", "content": "x"})");
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output.rfind("write_file: 'inner-link.txt' is a symbolic link", 0) == 0u,
             out.output);
  BOOST_TEST(fs::is_symlink(root / "inner-link.txt"));
}

BOOST_AUTO_TEST_CASE(list_dir_does_not_look_through_symlinks_out) {
  // Whether an outside path is a directory is outside information too.
  fs::create_directories(root / "sub");
  fs::create_directory_symlink(outside, root / "out");
  fs::create_directory_symlink("sub", root / "alias");
  auto out = call("list_dir", "{}");
  BOOST_TEST(out.ok, out.output);
  BOOST_TEST(out.output == "alias/\nout\nsub/\n");
}

BOOST_AUTO_TEST_CASE(every_file_tool_refuses_a_fifo_at_once) {
  auto fifo = root / "pipe";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  fs::create_directories(root / "d");
  BOOST_REQUIRE(::mkfifo((root / "d" / "p2").c_str(), 0644) == 0);
  for (std::string tool : {"append_file", "read_file", "write_file", "list_dir"}) {
    for (std::string p : {"pipe", "d/p2"}) {
      auto args = tool == "append_file" || tool == "write_file"
                    ? json{{"path", p}, {"content", "x"}}
                    : json{{"path", p}};
      auto out = call_bounded(tool, args.dump(), root / p);
      BOOST_TEST(!out.ok, tool << " " << p << ": " << out.output);
      BOOST_TEST(out.output.rfind(tool + ": '" + p + "' is a FIFO", 0) == 0u, out.output);
    }
  }
  BOOST_TEST(fs::is_fifo(fifo));
}

BOOST_AUTO_TEST_CASE(every_file_tool_refuses_a_socket) {
  auto sock_path = root / "sock";
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  BOOST_REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  BOOST_REQUIRE(sock_path.string().size() < sizeof(addr.sun_path));
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path.c_str());
  BOOST_REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::listen(sock, 1) == 0);
  for (std::string tool : {"append_file", "read_file", "write_file", "list_dir"}) {
    auto args = tool == "append_file" || tool == "write_file"
                  ? json{{"path", "sock"}, {"content", "x"}}
                  : json{{"path", "sock"}};
    auto out = call(tool, args.dump());
    BOOST_TEST(!out.ok, tool << ": " << out.output);
    BOOST_TEST(out.output.rfind(tool + ": 'sock' is a socket", 0) == 0u, out.output);
  }
  BOOST_TEST(fs::is_socket(sock_path));
  ::close(sock);
}

BOOST_AUTO_TEST_CASE(every_file_tool_refuses_a_character_device) {
  // A node like /dev/null; making one needs root (CI has it).
  auto dev = root / "null";
  if (::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    BOOST_TEST_MESSAGE("mknod needs root here: skipped");
    return;
  }
  for (std::string tool : {"append_file", "read_file", "write_file", "list_dir"}) {
    auto args = tool == "append_file" || tool == "write_file"
                  ? json{{"path", "null"}, {"content", "x"}}
                  : json{{"path", "null"}};
    auto out = call(tool, args.dump());
    BOOST_TEST(!out.ok, tool << ": " << out.output);
    BOOST_TEST(out.output.rfind(tool + ": 'null' is a character device", 0) == 0u,
               out.output);
  }
  BOOST_TEST(fs::is_character_file(dev));
}

BOOST_AUTO_TEST_CASE(complete_returns_the_answer) {
  auto out = call("complete", R"({"status": "success", "answer": "42"})");
  BOOST_TEST(out.ok);
  BOOST_TEST(out.output == "42");
}

BOOST_AUTO_TEST_CASE(handlers_tolerate_unchecked_arguments) {
  // Handlers are meant to get envelope-checked arguments; called directly
  // with the wrong shape they still fail cleanly instead of throwing.
  for (const auto& name : registry.names()) {
    if (name == "echo")
      continue;
    auto out = troupe::invoke_tool(*registry.find(name), json{{"path", 5}}, ctx);
    BOOST_TEST(!out.ok, name);
    out = troupe::invoke_tool(*registry.find(name), json::array(), ctx);
    BOOST_TEST((!out.ok || name == "list_dir"), name);
  }
}

BOOST_AUTO_TEST_CASE(invoke_tool_contains_exceptions) {
  troupe::tool_definition thrower{
    "thrower", "throws", json{{"type", "object"}}, troupe::tool_effect::unsafe,
    [](const json&, const troupe::tool_context&) -> tool_outcome {
      throw std::runtime_error("boom");
    }};
  auto out = troupe::invoke_tool(thrower, json::object(), ctx);
  BOOST_TEST(!out.ok);
  BOOST_TEST(out.output == "thrower: internal error: boom");
  thrower.handler = nullptr;
  BOOST_TEST(!troupe::invoke_tool(thrower, json::object(), ctx).ok);
}

BOOST_AUTO_TEST_SUITE_END()
