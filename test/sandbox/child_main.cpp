#define BOOST_TEST_MODULE sandbox_child
#include <boost/test/unit_test.hpp>

// Long-lived sandboxed children (sandbox/sandboxed_child.hpp), read-only
// roots, and a real npm MCP server confined in a sandbox. Needs root (as CI
// has): the tests fail, not skip, where isolation is unavailable.

#include <csignal>

namespace {

// A test writing to a child that died must see EPIPE, not die of SIGPIPE.
struct ignore_sigpipe {
  ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }
};

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(ignore_sigpipe);
