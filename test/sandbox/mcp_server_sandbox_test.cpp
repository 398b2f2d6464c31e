// A real MCP server installed with npm (@modelcontextprotocol/server-everything,
// installed by scripts/mcp-peers.sh) runs confined in a sandboxed child:
// read-only roots from default_read_only_roots, the MCP server limits, no
// network, JSON-RPC lines over its stdio pipes.

#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/mcp/mcp_types.hpp"
#include "sandbox/read_only_roots.hpp"
#include "sandbox/sandboxed_child.hpp"
#include "schemas/errors.hpp"
#include "test/sandbox/child_io.hpp"

namespace {

using namespace troupe;
using namespace troupe::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

fs::path mcp_peers_dir() {
#ifdef TROUPE_MCP_PEERS
  return TROUPE_MCP_PEERS;
#else
  return "build-mcp-peers";
#endif
}

// Reads lines until one carries `"id":<id>` (servers may send notifications
// and log messages first); empty when none came in time.
std::string response_to(line_reader& out, int id) {
  auto key = "\"id\":" + std::to_string(id);
  while (auto line = out.next(30s))
    if (line->find(key) != std::string::npos)
      return *line;
  return {};
}

} // namespace

BOOST_AUTO_TEST_SUITE(mcp_server_in_a_sandbox)

BOOST_AUTO_TEST_CASE(server_everything_initializes_and_lists_tools_confined) {
  auto server = mcp_peers_dir() / "node_modules" / ".bin" / "mcp-server-everything";
  BOOST_REQUIRE_MESSAGE(fs::exists(server),
                        server << " is missing: run scripts/mcp-peers.sh to install the MCP "
                                  "test servers");
  const std::string path = "/usr/bin:/bin";
  sandbox_request req;
  req.argv = {server.string(), "stdio"};
  req.env = {{"PATH", path}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}};
  req.read_only_roots = default_read_only_roots(req.argv, path);
  BOOST_TEST(req.read_only_roots
               == std::vector<fs::path>{fs::canonical(mcp_peers_dir() / "node_modules")},
             boost::test_tools::per_element());
  req.limits = mcp_server_limits();
  auto started = sandboxed_child::start(req);
  BOOST_REQUIRE_MESSAGE(started, render(started));
  auto& child = **started;
  BOOST_TEST(child.isolation() == "namespaces");
  stream_drain err{child.release_stderr()}; // the caller's stderr reader thread
  line_reader out{child.stdout_fd()};

  BOOST_REQUIRE(write_all(child.stdin_fd(),
                          R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":)"
                          R"({"protocolVersion":"2025-11-25","capabilities":{},)"
                          R"("clientInfo":{"name":"t","version":"0"}}})"
                          "\n"));
  auto init = response_to(out, 1);
  if (init.empty()) {
    child.kill();
    auto ex = child.wait();
    BOOST_FAIL("no initialize response; exit " << ex.exit_code << " signal " << ex.signal
                                               << " " << ex.failure << "; stderr: "
                                               << err.text());
  }
  BOOST_TEST(init.find("protocolVersion") != std::string::npos, init);
  BOOST_TEST(init.find("\"result\"") != std::string::npos, init);

  BOOST_REQUIRE(write_all(child.stdin_fd(),
                          R"({"jsonrpc":"2.0","method":"notifications/initialized"})"
                          "\n"
                          R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})"
                          "\n"));
  auto tools = response_to(out, 2);
  BOOST_TEST(tools.find("\"tools\"") != std::string::npos, tools);
  BOOST_TEST(tools.find("\"echo\"") != std::string::npos, tools);

  child.kill();
  auto ex = child.wait();
  BOOST_TEST((ex.signal == SIGKILL || ex.exit_code == 0));
  BOOST_TEST(ex.failure.empty(), ex.failure);
  err.join();
}

BOOST_AUTO_TEST_SUITE_END()
