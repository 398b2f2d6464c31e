#pragma once
// Feeding bodies to reply decoders in pieces, and comparing the replies.

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/providers/wire.hpp"

namespace troupe::test {

/// A recorded body under test/providers/streams/.
inline std::string recorded(const std::string& name) {
  std::ifstream in(std::string(TROUPE_PROVIDER_STREAMS) + "/" + name, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline model_call call_of_turn(uint32_t turn) {
  model_call c;
  c.turn = turn;
  return c;
}

struct decoded {
  model_response reply;
  std::string deltas;     ///< the text pieces reported, joined
  size_t delta_calls = 0; ///< how many times the text callback ran
  size_t empty_first = 0; ///< 1 when the first report was an empty piece
};

/// Decodes `body` fed in the pieces that `cuts` (ascending offsets) make.
inline decoded decode_cut(provider_kind p, bool stream, std::string_view body,
                          const std::vector<size_t>& cuts, uint32_t turn = 1) {
  decoded d;
  auto dec = providers::make_decoder(p, stream, call_of_turn(turn), [&](std::string_view piece) {
    if (d.delta_calls == 0 && piece.empty())
      d.empty_first = 1;
    ++d.delta_calls;
    d.deltas.append(piece);
  });
  size_t at = 0;
  for (size_t cut : cuts) {
    dec->feed(body.substr(at, cut - at));
    at = cut;
  }
  dec->feed(body.substr(at));
  d.reply = dec->finish();
  return d;
}

inline decoded decode_whole(provider_kind p, bool stream, std::string_view body,
                            uint32_t turn = 1) {
  return decode_cut(p, stream, body, {}, turn);
}

inline decoded decode_bytewise(provider_kind p, bool stream, std::string_view body,
                               uint32_t turn = 1) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < body.size(); ++i)
    cuts.push_back(i);
  return decode_cut(p, stream, body, cuts, turn);
}

/// Everything a decoder decides, on one printable line per field.
inline std::string describe(const model_response& r) {
  std::ostringstream s;
  s << "text=" << r.text << "\nfinish=" << r.finish_reason << "\ntokens=" << r.tokens.input
    << "/" << r.tokens.output << "\nfailure=" << r.failure << "\ndetail=" << r.failure_detail
    << "\nretry_after=" << r.retry_after_ms;
  for (auto& c : r.tool_calls)
    s << "\ncall " << c.call_id << " " << c.name << " " << c.args_json;
  return s.str();
}

/// Feeds `body` split in two at every byte boundary, and byte by byte: each
/// must give what the whole body gives, with the same text reported.
inline void check_every_split(provider_kind p, bool stream, const std::string& body) {
  auto whole = decode_whole(p, stream, body);
  auto want = describe(whole.reply);
  size_t mismatches = 0;
  for (size_t k = 0; k <= body.size(); ++k) {
    auto got = decode_cut(p, stream, body, {k});
    if (describe(got.reply) != want || got.deltas != whole.deltas) {
      if (++mismatches <= 3)
        BOOST_ERROR("split at byte " << k << " of " << body.size() << " gives\n"
                                     << describe(got.reply) << "\ninstead of\n" << want);
    }
  }
  BOOST_TEST(mismatches == 0u);
  auto bytewise = decode_bytewise(p, stream, body);
  BOOST_TEST(describe(bytewise.reply) == want);
  BOOST_TEST(bytewise.deltas == whole.deltas);
}

inline std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

} // namespace troupe::test
