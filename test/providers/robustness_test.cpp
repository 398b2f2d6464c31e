// Damaged bodies: the recorded streams with bytes flipped, cut out, repeated
// or inserted. Whatever arrives, a decoder neither throws nor crashes,
// every failure says why, and the reply does not depend on how the bytes
// were split.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "test/providers/decode_support.hpp"

using troupe::provider_kind;
using troupe::test::decode_cut;
using troupe::test::decode_whole;
using troupe::test::describe;
using troupe::test::recorded;

namespace {

// xorshift64: the same damage on every run.
struct rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
};

std::string damage(std::string body, rng& r) {
  static const char raw[] = "\r\n\"{}[]:,\\ \x00\xff\xc3";
  static const std::string specials(raw, sizeof raw - 1);
  int edits = 1 + static_cast<int>(r.below(3));
  for (int i = 0; i < edits && !body.empty(); ++i) {
    size_t at = r.below(body.size());
    switch (r.below(4)) {
      case 0:
        body[at] = static_cast<char>(r.next());
        break;
      case 1:
        body.erase(at, 1 + r.below(40));
        break;
      case 2:
        body.insert(at, body.substr(r.below(body.size()), 1 + r.below(80)));
        break;
      default:
        body.insert(at, 1, specials[r.below(specials.size())]);
        break;
    }
  }
  return body;
}

struct sample {
  provider_kind provider;
  bool stream;
  const char* file;
};

} // namespace

BOOST_AUTO_TEST_SUITE(robustness)

BOOST_AUTO_TEST_CASE(damaged_bodies_decode_to_a_reply_or_a_reasoned_failure) {
  const std::vector<sample> samples{
    {provider_kind::openai, true, "openai_text.sse"},
    {provider_kind::openai, true, "openai_tools.sse"},
    {provider_kind::openai, true, "openai_interleaved.sse"},
    {provider_kind::openai, true, "openai_index0_reused.sse"},
    {provider_kind::openai, false, "openai_tools.json"},
    {provider_kind::anthropic, true, "anthropic_tools.sse"},
    {provider_kind::anthropic, true, "anthropic_text.sse"},
    {provider_kind::anthropic, false, "anthropic_tools.json"},
    {provider_kind::ollama, true, "ollama_tools.ndjson"},
    {provider_kind::ollama, true, "ollama_tools_ids.ndjson"},
    {provider_kind::ollama, false, "ollama_tools.json"},
  };
  rng r{0x9E3779B97F4A7C15ull};
  size_t failures = 0, successes = 0, split_mismatches = 0;
  for (auto& s : samples) {
    auto original = recorded(s.file);
    for (int round = 0; round < 1000; ++round) {
      auto body = damage(original, r);
      troupe::test::decoded whole;
      BOOST_CHECK_NO_THROW(whole = decode_whole(s.provider, s.stream, body));
      if (!whole.reply.failure.empty()) {
        ++failures;
        if (whole.reply.failure_detail.empty())
          BOOST_ERROR(s.file << ": a failure without a detail for\n" << body);
      } else {
        ++successes;
      }
      std::vector<size_t> cuts;
      for (size_t n = r.below(5); n > 0; --n)
        cuts.push_back(r.below(body.size() + 1));
      std::sort(cuts.begin(), cuts.end());
      troupe::test::decoded split;
      BOOST_CHECK_NO_THROW(split = decode_cut(s.provider, s.stream, body, cuts));
      if (describe(split.reply) != describe(whole.reply) && ++split_mismatches <= 3)
        BOOST_ERROR(s.file << ": split decoding differs for\n" << body);
    }
  }
  BOOST_TEST_MESSAGE(failures << " damaged bodies failed, " << successes << " still decoded");
  BOOST_TEST(split_mismatches == 0u);
  // The damage must exercise both outcomes, or this test shows nothing.
  BOOST_TEST(failures > 100u);
  BOOST_TEST(successes > 100u);
}

BOOST_AUTO_TEST_SUITE_END()
