#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/providers/ndjson.hpp"
#include "core/providers/sse.hpp"

using troupe::providers::ndjson_line;
using troupe::providers::ndjson_parser;
using troupe::providers::sse_event;
using troupe::providers::sse_parser;

namespace {

// "type|data|line" per event, so a whole result compares as one string.
std::string show(const std::vector<sse_event>& events) {
  std::string out;
  for (auto& e : events)
    out += e.type + "|" + e.data + "|" + std::to_string(e.line) + "\n";
  return out;
}

// The events of `text` fed in pieces of `step` bytes.
std::string sse_events(const std::string& text, size_t step = 0, size_t max_line = 1 << 20) {
  sse_parser p(max_line);
  std::vector<sse_event> out;
  if (step == 0) {
    BOOST_REQUIRE(p.feed(text, out));
  } else {
    for (size_t at = 0; at < text.size(); at += step)
      BOOST_REQUIRE(p.feed(std::string_view(text).substr(at, step), out));
  }
  BOOST_REQUIRE(p.finish(out));
  return show(out);
}

std::string show(const std::vector<ndjson_line>& lines) {
  std::string out;
  for (auto& l : lines)
    out += std::to_string(l.line) + ":" + l.text + "\n";
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(sse)

BOOST_AUTO_TEST_CASE(events_end_at_blank_lines_with_any_line_ending) {
  BOOST_TEST(sse_events("data: a\n\nevent: put\ndata: b\ndata: c\n\n") == "|a|1\nput|b\nc|4\n");
  BOOST_TEST(sse_events("data: a\r\n\r\nevent: put\r\ndata: b\r\ndata: c\r\n\r\n")
             == "|a|1\nput|b\nc|4\n");
  BOOST_TEST(sse_events("data: a\r\revent: put\rdata: b\rdata: c\r\r") == "|a|1\nput|b\nc|4\n");
  // Mixed in one stream.
  BOOST_TEST(sse_events("data: a\r\n\nevent: put\rdata: b\r\ndata: c\n\r") == "|a|1\nput|b\nc|4\n");
}

BOOST_AUTO_TEST_CASE(a_crlf_split_between_two_feeds_is_one_line_end) {
  std::string text = "data: a\r\n\r\ndata: b\r\n\r\n";
  auto want = sse_events(text);
  BOOST_TEST(want == "|a|1\n|b|3\n");
  for (size_t k = 0; k <= text.size(); ++k) {
    sse_parser p;
    std::vector<sse_event> out;
    BOOST_REQUIRE(p.feed(text.substr(0, k), out));
    BOOST_REQUIRE(p.feed(text.substr(k), out));
    BOOST_REQUIRE(p.finish(out));
    BOOST_TEST(show(out) == want, "split at " << k);
  }
  BOOST_TEST(sse_events(text, 1) == want);
  // A "\r" at the end of one feed and an empty feed before the "\n".
  sse_parser p;
  std::vector<sse_event> out;
  BOOST_REQUIRE(p.feed("data: x\r", out));
  BOOST_REQUIRE(p.feed("", out));
  BOOST_REQUIRE(p.feed("\n\r", out));
  BOOST_REQUIRE(p.feed("\ndata: y\n\n", out));
  BOOST_TEST(show(out) == "|x|1\n|y|3\n");
}

BOOST_AUTO_TEST_CASE(comments_and_unknown_fields_are_ignored) {
  BOOST_TEST(sse_events(": keep-alive\n\n:\ndata: a\nid: 7\nretry: 100\nfoo: bar\n\n")
             == "|a|4\n");
}

BOOST_AUTO_TEST_CASE(one_leading_space_is_dropped_from_a_value) {
  BOOST_TEST(sse_events("data:a\n\ndata:  b\n\ndata:\n\ndata\n\n") == "|a|1\n| b|3\n||5\n||7\n");
  BOOST_TEST(sse_events("event:x\ndata: 1\n\n") == "x|1|2\n");
}

BOOST_AUTO_TEST_CASE(an_event_without_data_is_not_dispatched_and_its_type_is_forgotten) {
  BOOST_TEST(sse_events("event: ping\n\ndata: a\n\n") == "|a|3\n");
}

BOOST_AUTO_TEST_CASE(a_leading_bom_is_skipped_even_when_split) {
  std::string text = "\xEF\xBB\xBF" "data: a\n\n";
  BOOST_TEST(sse_events(text) == "|a|1\n");
  BOOST_TEST(sse_events(text, 1) == "|a|1\n");
  BOOST_TEST(sse_events(text, 2) == "|a|1\n");
  // Not a BOM: the bytes are kept (here, a field name nobody knows).
  BOOST_TEST(sse_events("\xEF\xBB" "x\ndata: a\n\n") == "|a|2\n");
}

BOOST_AUTO_TEST_CASE(the_last_event_without_its_blank_line_is_dispatched_at_the_end) {
  BOOST_TEST(sse_events("data: a\n\ndata: [DONE]") == "|a|1\n|[DONE]|3\n");
  BOOST_TEST(sse_events("data: a\n\ndata: [DONE]\n") == "|a|1\n|[DONE]|3\n");
}

BOOST_AUTO_TEST_CASE(a_line_over_the_limit_fails_and_stays_failed) {
  sse_parser p(16);
  std::vector<sse_event> out;
  BOOST_TEST(p.feed("data: 0123456789\n\n", out)); // exactly 16
  BOOST_TEST(p.feed("data: 01234567", out));
  BOOST_TEST(!p.feed("89X", out));
  BOOST_TEST(p.error() == "line 3 is longer than 16 bytes");
  BOOST_TEST(!p.feed("\n\n", out));
  BOOST_TEST(!p.finish(out));
  BOOST_TEST(show(out) == "|0123456789|1\n");
  // Split or not, the limit counts the whole line.
  sse_parser q(16);
  for (char c : std::string("data: 0123456789X"))
    (void)q.feed(std::string(1, c), out);
  BOOST_TEST(!q.error().empty());
}

BOOST_AUTO_TEST_CASE(data_lines_joined_over_the_limit_fail) {
  sse_parser p(16);
  std::vector<sse_event> out;
  BOOST_TEST(!p.feed("data: 0123456789\ndata: 0123456789\n\n", out));
  BOOST_TEST(p.error() == "the data of the event at line 1 is longer than 16 bytes");
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ndjson)

BOOST_AUTO_TEST_CASE(lines_end_at_lf_blank_lines_are_skipped_crlf_is_one_end) {
  std::string text = "{\"a\":1}\r\n\n  \r\n{\"b\":\r2}\n{\"c\":3}";
  std::string want = "1:{\"a\":1}\n4:{\"b\":\r2}\n5:{\"c\":3}\n";
  for (size_t step : {size_t{0}, size_t{1}, size_t{2}, size_t{3}}) {
    ndjson_parser p;
    std::vector<ndjson_line> out;
    if (step == 0)
      BOOST_REQUIRE(p.feed(text, out));
    else
      for (size_t at = 0; at < text.size(); at += step)
        BOOST_REQUIRE(p.feed(std::string_view(text).substr(at, step), out));
    BOOST_REQUIRE(p.finish(out));
    BOOST_TEST(show(out) == want, "step " << step);
  }
}

BOOST_AUTO_TEST_CASE(a_line_over_the_limit_fails) {
  ndjson_parser p(8);
  std::vector<ndjson_line> out;
  BOOST_TEST(p.feed("12345678\n", out));
  BOOST_TEST(!p.feed("123456789", out));
  BOOST_TEST(p.error() == "line 2 is longer than 8 bytes");
  BOOST_TEST(!p.finish(out));
}

BOOST_AUTO_TEST_SUITE_END()
