// The ledger's hash chain: the links are SHA-256 as docs/journal-format.md
// defines them, the writer chains every row (across batches, reopens and
// interleaved runs), and check_integrity finds every edit SQLite cannot see:
// a body rewritten with its CRC, a row removed, a hash overwritten.

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "persistence/hash_chain.hpp"
#include "persistence/store.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"
#include "test/support/events.hpp"
#include "test/support/journal_fixtures.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/temp_dir.hpp"
#include "test/persistence/chain_support.hpp"

using namespace troupe;
using namespace troupe::persistence;
using test::make_event;
using test::must_hash;
using test::verify_chains;
using test::exec_raw;
using test::raw_db;
using test::seal;
using test::temp_dir;

namespace {

event_hash from_hex(const std::string& hex) {
  BOOST_REQUIRE_EQUAL(hex.size(), 2 * event_hash_size);
  event_hash out;
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

sealed_event result_of(const std::string& run, uint32_t seq,
                       size_t output_size = 16) {
  return seal(make_event(run, seq,
                         tool_result{"c" + std::to_string(seq), "echo", true,
                                     std::string(output_size, 'x')}));
}

sealed_event start_of(const std::string& run) {
  run_start start;
  start.agent = "lead";
  return seal(make_event(run, 1, start));
}

/// run-a and run-b with `n` events each, each event its own batch (so each
/// row carries a link).
void write_journal(const std::string& path, uint32_t n) {
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  std::vector<sealed_event> batch;
  for (auto run : {"run-a", "run-b"}) {
    batch.push_back(start_of(run));
    for (uint32_t seq = 2; seq <= n; ++seq)
      batch.push_back(result_of(run, seq));
  }
  for (auto& ev : batch) {
    auto err = db->append({ev});
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
}

integrity_report check(const std::string& path) {
  auto db = store::open(path, open_mode::read_only);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto rep = db->check_integrity();
  BOOST_REQUIRE_MESSAGE(rep, render(rep));
  test::log_problems(*rep);
  return std::move(*rep);
}

bool has_problem(const integrity_report& rep, const std::string& run,
                 uint32_t seq, const std::string& what) {
  for (auto& p : rep.problems)
    if (p.run_id == run && p.seq == seq
        && p.what.find(what) != std::string::npos)
      return true;
  return false;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hash_chain)

// FIPS 180-2 test vectors: the seed is plain SHA-256 of the run id, and a
// link hashes the previous link first, then the body.
BOOST_AUTO_TEST_CASE(links_are_sha256_of_previous_link_then_body) {
  BOOST_TEST(to_hex(must_hash(chain_seed("abc")))
             == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  event_hash prev;
  std::copy(msg.begin(), msg.begin() + 32, prev.begin());
  auto rest = msg.substr(32);
  BOOST_TEST(to_hex(must_hash(chain_next(prev, rest.data(), rest.size())))
             == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(to_hex(from_hex(std::string(64, 'f')), 8) == "ffffffff…");
}

// A row is framed as le32(seq) || le64(ts_us) || le32(size) || body.
BOOST_AUTO_TEST_CASE(rows_are_framed_with_seq_time_and_size) {
  std::string rows;
  add_chain_row(rows, 0x01020304u, 0x1112131415161718, "ab", 2);
  const char expected[] = "\x04\x03\x02\x01\x18\x17\x16\x15\x14\x13\x12\x11"
                          "\x02\x00\x00\x00"
                          "ab";
  BOOST_TEST(rows == std::string(expected, sizeof(expected) - 1));
}

BOOST_AUTO_TEST_CASE(writer_chains_rows_across_batches_runs_and_reopens) {
  temp_dir dir;
  auto path = dir.file("j.db");
  {
    auto db = store::open(path, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
    BOOST_REQUIRE(!db->append({start_of("run-a")}));
    BOOST_REQUIRE(!db->append({result_of("run-a", 2), start_of("run-b"),
                               result_of("run-a", 3), result_of("run-b", 2)}));
  }
  {
    // Cold cursors: one run found through last_seq (as the journal actor
    // does), one through append alone. Both continue from the stored hash.
    auto db = store::open(path, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(db, render(db));
    auto last = db->last_seq("run-a");
    BOOST_REQUIRE_MESSAGE(last, render(last));
    BOOST_TEST(*last == 3u);
    auto err = db->append({result_of("run-b", 3), result_of("run-a", 4, 3000),
                           result_of("run-b", 4)});
    BOOST_REQUIRE_MESSAGE(!err, render(err));
  }
  auto rows = test::read_run(path, "");
  BOOST_TEST(verify_chains(rows) == 8u);
  // One link per run and batch, on its last row: run-a 1 | 2 3 | 4 and
  // run-b 1 2 | 3 4.
  std::vector<bool> linked;
  for (auto& row : rows)
    linked.push_back(row.linked);
  BOOST_TEST((linked == std::vector<bool>{true, false, true, true, false, true, false, true}));
  auto rep = check(path);
  BOOST_TEST(rep.clean());
  BOOST_TEST(rep.events == 8u);
}

BOOST_AUTO_TEST_CASE(rejected_batch_leaves_the_chain_where_it_was) {
  temp_dir dir;
  auto path = dir.file("j.db");
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  BOOST_REQUIRE(!db->append({start_of("run-a"), result_of("run-a", 2)}));
  BOOST_CHECK(db->append({result_of("run-a", 3), result_of("run-a", 5)})
              == store_errc::sequence_gap);
  BOOST_REQUIRE(!db->append({result_of("run-a", 3, 40)}));
  auto rows = test::read_run(path, "run-a");
  BOOST_TEST(verify_chains(rows) == 3u);
}

BOOST_AUTO_TEST_CASE(tampered_body_with_recomputed_crc_is_a_chain_break) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 6);
  {
    raw_db raw(path);
    auto body = raw.body("run-b", 4);
    // One byte of the tool output: the event still decodes, the CRC follows.
    auto pos = std::string(body.begin(), body.end()).find("xxxx");
    BOOST_REQUIRE(pos != std::string::npos);
    body[pos] = 'y';
    raw.set_body("run-b", 4, body, true);
  }
  auto rep = check(path);
  BOOST_TEST(rep.problems.size() == 1u);
  BOOST_TEST(has_problem(rep, "run-b", 4, "hash chain broken at seq 4"));
  BOOST_TEST(rep.events == 12u);
}

BOOST_AUTO_TEST_CASE(overwritten_hash_breaks_its_link_and_the_next) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 6);
  exec_raw(path, "UPDATE events SET hash = zeroblob(32) WHERE seq = 3 AND run "
                 "= (SELECT id FROM runs WHERE run_id = 'run-a')");
  auto rep = check(path);
  BOOST_TEST(rep.problems.size() == 2u);
  BOOST_TEST(has_problem(rep, "run-a", 3, "hash chain broken at seq 3"));
  BOOST_TEST(has_problem(rep, "run-a", 4, "hash chain broken at seq 4"));
}

BOOST_AUTO_TEST_CASE(writer_refuses_to_extend_a_chain_it_cannot_read) {
  temp_dir dir;
  auto path = dir.file("j.db");
  write_journal(path, 3);
  exec_raw(path, "UPDATE events SET hash = x'00' WHERE seq = 3 AND run = "
                 "(SELECT id FROM runs WHERE run_id = 'run-a')");
  auto db = store::open(path, open_mode::read_write);
  BOOST_REQUIRE_MESSAGE(db, render(db));
  auto err = db->append({result_of("run-a", 4)});
  BOOST_REQUIRE(err);
  BOOST_CHECK(err == store_errc::corrupted);
  auto msg = render(err);
  BOOST_TEST(msg.find("run run-a seq 3") != std::string::npos, msg);
  BOOST_TEST(msg.find("troupe doctor") != std::string::npos, msg);
  // Other runs go on.
  err = db->append({result_of("run-b", 4)});
  BOOST_REQUIRE_MESSAGE(!err, render(err));
}

BOOST_AUTO_TEST_SUITE_END()
