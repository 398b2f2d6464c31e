// The stdio transport's text handling without processes: lines cut from
// pieces split anywhere, an overlong line dropped while the next ones are
// read, the stderr tail, and how a server's end is described.
#include "mcp/detail/stdio_text.hpp"

#include <csignal>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <sys/wait.h>

using troupe::mcp::detail::line_reader;

namespace {

struct collected {
  std::vector<std::string> lines;
  std::vector<uint64_t> dropped;
};

collected feed_all(line_reader& r, const std::vector<std::string>& pieces) {
  collected c;
  auto on_line = [&](std::string_view l) { c.lines.emplace_back(l); };
  auto on_oversized = [&](uint64_t n) { c.dropped.push_back(n); };
  for (const auto& p : pieces)
    r.feed(p, on_line, on_oversized);
  r.finish(on_line, on_oversized);
  return c;
}

} // namespace

BOOST_AUTO_TEST_SUITE(stdio_text)

BOOST_AUTO_TEST_CASE(lines_split_anywhere_are_whole_and_blank_ones_skipped) {
  line_reader r(100);
  auto c = feed_all(r, {"{\"a\"", ":1}\r", "\n\n   \n{\"b\":2}\n{\"c\"", ":3}"});
  BOOST_TEST(c.lines == (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  BOOST_TEST(c.dropped.empty());
}

BOOST_AUTO_TEST_CASE(an_overlong_line_is_dropped_and_the_next_one_read) {
  line_reader r(10);
  auto c = feed_all(r, {"short\n", std::string(8, 'x'), std::string(8, 'y'), "zz\nafter\n",
                        std::string(30, 'q') + "\nlast"});
  BOOST_TEST(c.lines == (std::vector<std::string>{"short", "after", "last"}));
  BOOST_TEST(c.dropped == (std::vector<uint64_t>{18, 30}));
}

BOOST_AUTO_TEST_CASE(the_tail_keeps_the_last_bytes) {
  troupe::mcp::detail::tail_buffer t(8);
  t.append("hello ");
  t.append("world");
  BOOST_TEST(t.text() == "lo world");
  t.append(std::string(20, 'z') + "end");
  BOOST_TEST(t.text() == "zzzzzend");
}

BOOST_AUTO_TEST_CASE(last_lines_are_printable_and_joined) {
  using troupe::mcp::detail::last_lines;
  BOOST_TEST(last_lines("one\ntwo\n\nthree\r\nfour\n  \n") == "two | three | four");
  BOOST_TEST(last_lines("bad \x01 byte", 3) == "bad \\x01 byte");
  BOOST_TEST(last_lines("\n\n").empty());
}

BOOST_AUTO_TEST_CASE(wait_statuses_are_described) {
  using troupe::mcp::detail::describe_wait_status;
  BOOST_TEST(describe_wait_status(3 << 8) == "exited with status 3");
  BOOST_TEST(describe_wait_status(SIGKILL) == "was killed by signal 9 (KILL)");
}

BOOST_AUTO_TEST_SUITE_END()
