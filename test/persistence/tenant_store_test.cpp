// Tenants, API keys and the audit log (persistence/tenant_store.hpp) against
// real SQLite files: names, quotas, keys stored only as hashes, strict token
// parsing, revocation, audit filtering.

#include <boost/test/unit_test.hpp>

#include <regex>
#include <set>

#include "persistence/detail/api_token.hpp"
#include "persistence/tenant_store.hpp"
#include "test/persistence/serve_store_support.hpp"
#include "test/support/files.hpp"
#include "test/support/raw_sqlite.hpp"

using namespace troupe;
using namespace troupe::persistence;
using test::t0_us;

namespace {

jobs::tenant tenant_named(const std::string& name) {
  jobs::tenant t;
  t.name = name;
  return t;
}

created_key key_ok(tenant_store& s, const std::string& tenant, jobs::role r) {
  auto k = s.create_key(tenant, r);
  BOOST_REQUIRE_MESSAGE(k, render(k));
  return std::move(*k);
}

std::optional<jobs::api_key> auth(tenant_store& s, std::string_view token) {
  auto r = s.authenticate(token);
  BOOST_REQUIRE_MESSAGE(r, render(r));
  return *r;
}

/// A fixture with tenants acme and globex.
struct two_tenants : test::serve_journal {
  tenant_store s = tenants();
  two_tenants() {
    for (auto name : {"acme", "globex"}) {
      auto t = s.add_tenant(tenant_named(name));
      BOOST_REQUIRE_MESSAGE(t, render(t));
    }
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(tenant_store_suite)

BOOST_FIXTURE_TEST_CASE(tenants_are_added_once_with_their_quotas, test::serve_journal) {
  auto s = tenants();
  jobs::tenant t = tenant_named("acme");
  t.quota = {4, 60, 1000000, 25000000, 100};
  t.policy_file = "/etc/troupe/acme.toml";
  t.created_us = t0_us;
  auto added = s.add_tenant(t);
  BOOST_REQUIRE_MESSAGE(added, render(added));
  auto again = s.add_tenant(tenant_named("acme"));
  BOOST_REQUIRE(!again);
  BOOST_CHECK(again.error() == store_errc::conflict);
  BOOST_TEST(render(again.error()).find("acme") != std::string::npos);
  auto now_stamped = s.add_tenant(tenant_named("0-b_c"));
  BOOST_REQUIRE_MESSAGE(now_stamped, render(now_stamped));
  BOOST_TEST(now_stamped->created_us > t0_us);

  auto back = s.get("acme");
  BOOST_REQUIRE_MESSAGE(back, render(back));
  BOOST_REQUIRE(*back);
  BOOST_TEST((*back)->quota.max_concurrent_runs == 4u);
  BOOST_TEST((*back)->quota.submissions_per_minute == 60u);
  BOOST_TEST((*back)->quota.tokens_per_day == 1000000u);
  BOOST_TEST((*back)->quota.cost_micro_usd_per_month == 25000000u);
  BOOST_TEST((*back)->quota.max_queued == 100u);
  BOOST_TEST((*back)->policy_file == "/etc/troupe/acme.toml");
  BOOST_TEST((*back)->created_us == t0_us);

  auto err = s.update_quota("acme", {1, 2, 3, 4, 5});
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  auto updated = s.get("acme");
  BOOST_TEST((*updated)->quota.max_concurrent_runs == 1u);
  BOOST_TEST((*updated)->quota.max_queued == 5u);
  BOOST_TEST((*updated)->policy_file == "/etc/troupe/acme.toml");
  auto unknown = s.update_quota("initech", {});
  BOOST_CHECK(unknown == store_errc::unknown_id);

  auto all = s.list();
  BOOST_REQUIRE_MESSAGE(all, render(all));
  BOOST_REQUIRE_EQUAL(all->size(), 2u);
  BOOST_TEST((*all)[0].name == "0-b_c");
  BOOST_TEST((*all)[1].name == "acme");
  BOOST_TEST(!*s.get("initech"));
}

BOOST_FIXTURE_TEST_CASE(tenant_names_are_checked, test::serve_journal) {
  auto s = tenants();
  auto bad_names = std::vector<std::string>{
    "", "Acme", "-acme", "_acme", "ac me", "acme!", "acmé", std::string(64, 'a'),
    std::string("ac\0me", 5)};
  for (auto& bad : bad_names) {
    BOOST_TEST_CONTEXT("name '" << bad << "'") {
      BOOST_TEST(!valid_tenant_name(bad));
      auto r = s.add_tenant(tenant_named(bad));
      BOOST_REQUIRE(!r);
      BOOST_CHECK(r.error() == store_errc::invalid_argument);
    }
  }
  for (auto& good : std::vector<std::string>{"a", "9", "acme-eu_1", std::string(63, 'z')})
    BOOST_TEST(valid_tenant_name(good), good);
  BOOST_TEST(s.list()->empty());
}

BOOST_FIXTURE_TEST_CASE(a_key_is_shown_once_and_stored_as_a_hash, two_tenants) {
  auto k = key_ok(s, "acme", jobs::role::submitter);
  static const std::regex shape("trp_k_[0-9a-f]{16}_[A-Za-z0-9_-]{43}");
  BOOST_TEST(std::regex_match(k.token, shape), k.token);
  BOOST_TEST(k.token.find(k.key.key_id) == 4u);
  BOOST_TEST(k.key.tenant == "acme");
  BOOST_TEST((k.key.key_role == jobs::role::submitter));
  BOOST_TEST(k.key.revoked_us == 0);
  // Neither the token nor its secret is anywhere in the files; the key id is.
  auto secret = k.token.substr(k.token.size() - 43);
  auto files = test::slurp(path) + test::slurp(path + "-wal");
  BOOST_TEST(files.find(k.key.key_id) != std::string::npos);
  BOOST_TEST(files.find(secret) == std::string::npos);
  auto parsed = persistence::detail::parse_token(k.token);
  BOOST_REQUIRE(parsed);
  std::string raw(parsed->secret.begin(), parsed->secret.end());
  BOOST_TEST(files.find(raw) == std::string::npos);
  {
    test::raw_db raw_db(path);
    BOOST_TEST(raw_db.scalar("SELECT length(secret_hash) FROM api_keys") == 32);
  }
  // Every key is new.
  std::set<std::string> tokens{k.token}, ids{k.key.key_id};
  for (int i = 0; i < 20; ++i) {
    auto more = key_ok(s, "globex", jobs::role::viewer);
    BOOST_TEST(tokens.insert(more.token).second);
    BOOST_TEST(ids.insert(more.key.key_id).second);
  }
  auto unknown = s.create_key("initech", jobs::role::admin);
  BOOST_REQUIRE(!unknown);
  BOOST_CHECK(unknown.error() == store_errc::unknown_id);
}

BOOST_FIXTURE_TEST_CASE(authenticate_accepts_only_the_exact_token, two_tenants) {
  auto k = key_ok(s, "acme", jobs::role::operator_);
  auto other = key_ok(s, "globex", jobs::role::admin);
  auto good = auth(s, k.token);
  BOOST_REQUIRE(good);
  BOOST_TEST(good->key_id == k.key.key_id);
  BOOST_TEST(good->tenant == "acme");
  BOOST_TEST((good->key_role == jobs::role::operator_));
  BOOST_TEST(auth(s, other.token)->tenant == "globex");

  // The same key id with another secret: one character of the secret changed,
  // and globex's secret under acme's key id.
  auto wrong = k.token;
  wrong[wrong.size() - 10] = wrong[wrong.size() - 10] == 'A' ? 'B' : 'A';
  BOOST_TEST(!auth(s, wrong));
  auto swapped = k.token.substr(0, k.token.size() - 43) + other.token.substr(other.token.size() - 43);
  BOOST_TEST(!auth(s, swapped));
  // An unknown key id with a real secret.
  auto stranger = "trp_k_0000000000000000_" + k.token.substr(k.token.size() - 43);
  BOOST_TEST(!auth(s, stranger));
  // Malformed: cut, padded, other prefixes, case, whitespace, base64 (not url),
  // the secret alone, a second spelling of the same secret.
  auto upper_id = k.token;
  upper_id[6] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper_id[6])));
  auto last = k.token.back();
  auto sibling = k.token;
  // The last character holds 4 bits and 2 zero bits: flipping the lowest bit
  // keeps the 32 bytes but is another spelling.
  {
    static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    sibling.back() = alphabet[alphabet.find(last) ^ 1];
  }
  for (std::string bad :
       {std::string{}, std::string("trp_"), k.token.substr(0, k.token.size() - 1),
        k.token + "A", k.token + "=", " " + k.token, k.token + "\n",
        "trq_" + k.token.substr(4), "Bearer " + k.token, k.token.substr(4),
        k.token.substr(k.token.size() - 43), sibling,
        k.token.substr(0, k.token.size() - 1) + "+", k.token.substr(0, k.token.size() - 1) + "/",
        std::string(k.token).replace(22, 1, "-"), std::string(k.token).insert(10, 1, '\0')}) {
    BOOST_TEST_CONTEXT("token '" << bad << "'") { BOOST_TEST(!auth(s, bad)); }
  }
  if (upper_id != k.token)
    BOOST_TEST(!auth(s, upper_id));
  BOOST_TEST(auth(s, k.token).has_value());
}

BOOST_FIXTURE_TEST_CASE(revoked_keys_and_keys_of_deleted_tenants_are_refused, two_tenants) {
  auto k = key_ok(s, "acme", jobs::role::admin);
  auto kept = key_ok(s, "acme", jobs::role::viewer);
  auto err = s.revoke_key(k.key.key_id);
  BOOST_REQUIRE_MESSAGE(!err, render(err));
  BOOST_TEST(!auth(s, k.token));
  BOOST_TEST(auth(s, kept.token).has_value());
  BOOST_CHECK(s.revoke_key(k.key.key_id) == store_errc::conflict);
  BOOST_CHECK(s.revoke_key("k_ffffffffffffffff") == store_errc::unknown_id);
  auto keys = s.list_keys("acme");
  BOOST_REQUIRE_MESSAGE(keys, render(keys));
  BOOST_REQUIRE_EQUAL(keys->size(), 2u);
  BOOST_TEST((*keys)[0].key_id == k.key.key_id);
  BOOST_TEST((*keys)[0].revoked_us > 0);
  BOOST_TEST((*keys)[1].revoked_us == 0);
  BOOST_TEST(s.list_keys("globex")->empty());
  BOOST_TEST(s.list_keys("")->size() == 2u);
  // A tenant removed behind the store's back takes its keys with it.
  test::exec_raw(path, "DELETE FROM tenants WHERE name = 'acme'");
  BOOST_TEST(!auth(s, kept.token));
}

BOOST_FIXTURE_TEST_CASE(a_second_store_sees_a_revocation_at_once, two_tenants) {
  auto k = key_ok(s, "globex", jobs::role::submitter);
  auto server = tenants();
  BOOST_TEST(auth(server, k.token).has_value());
  BOOST_REQUIRE(!s.revoke_key(k.key.key_id));
  BOOST_TEST(!auth(server, k.token));
}

BOOST_FIXTURE_TEST_CASE(the_audit_log_filters_by_tenant_newest_first, two_tenants) {
  struct row {
    const char* tenant;
    const char* action;
    const char* target;
  };
  for (auto r : {row{"acme", "job.submit", "job-1"}, row{"globex", "job.submit", "job-2"},
                 row{"acme", "job.cancel", "job-1"}, row{"", "tenant.add", "initech"},
                 row{"acme", "key.revoke", "k_1"}}) {
    audit_entry e;
    e.tenant = r.tenant;
    e.key_id = "k_0123456789abcdef";
    e.action = r.action;
    e.target = r.target;
    e.detail_json = R"({"reason":"test"})";
    auto id = s.append_audit(e);
    BOOST_REQUIRE_MESSAGE(id, render(id));
  }
  auto acme = s.list_audit("acme", 100);
  BOOST_REQUIRE_MESSAGE(acme, render(acme));
  BOOST_REQUIRE_EQUAL(acme->size(), 3u);
  BOOST_TEST((*acme)[0].action == "key.revoke");
  BOOST_TEST((*acme)[1].action == "job.cancel");
  BOOST_TEST((*acme)[2].action == "job.submit");
  BOOST_TEST((*acme)[2].target == "job-1");
  BOOST_TEST((*acme)[2].detail_json == R"({"reason":"test"})");
  BOOST_TEST((*acme)[2].ts_us > t0_us);
  BOOST_TEST((*acme)[0].id > (*acme)[1].id);
  for (auto& e : *acme)
    BOOST_TEST(e.tenant == "acme");
  auto globex = s.list_audit("globex", 100);
  BOOST_REQUIRE_EQUAL(globex->size(), 1u);
  BOOST_TEST((*globex)[0].target == "job-2");
  auto all = s.list_audit("", 2);
  BOOST_REQUIRE_EQUAL(all->size(), 2u);
  BOOST_TEST((*all)[0].action == "key.revoke");
  BOOST_TEST((*all)[1].action == "tenant.add");
  BOOST_TEST(s.list_audit("initech", 10)->empty());

  audit_entry bad;
  bad.action = "job.submit";
  bad.detail_json = "{not json";
  auto r = s.append_audit(bad);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(r.error() == store_errc::invalid_argument);
  bad.detail_json.clear();
  bad.action.clear();
  BOOST_CHECK(s.append_audit(bad).error() == store_errc::invalid_argument);
  BOOST_CHECK(s.list_audit("", 0).error() == store_errc::invalid_argument);
  bad.action = "tenant.add";
  bad.ts_us = t0_us;
  auto stamped = s.append_audit(bad);
  BOOST_REQUIRE_MESSAGE(stamped, render(stamped));
  auto newest = s.list_audit("", 1);
  BOOST_TEST((*newest)[0].detail_json == "{}");
  BOOST_TEST((*newest)[0].ts_us == t0_us);
}

BOOST_AUTO_TEST_CASE(tokens_round_trip_and_parse_strictly) {
  for (int i = 0; i < 200; ++i) {
    auto t = persistence::detail::random_token();
    BOOST_REQUIRE_MESSAGE(t, render(t));
    auto text = persistence::detail::format_token(*t);
    BOOST_REQUIRE_EQUAL(text.size(), 66u);
    auto back = persistence::detail::parse_token(text);
    BOOST_REQUIRE(back);
    BOOST_TEST(back->key_id == t->key_id);
    BOOST_TEST((back->secret == t->secret));
  }
  persistence::detail::parsed_token zeros;
  zeros.key_id = "k_0000000000000000";
  BOOST_TEST(persistence::detail::format_token(zeros) == "trp_k_0000000000000000_" + std::string(43, 'A'));
  persistence::detail::parsed_token ones;
  ones.key_id = "k_ffffffffffffffff";
  ones.secret.fill(0xff);
  // 256 one bits: 42 characters of 6, then 4 ones and the 2 zero bits.
  BOOST_TEST(persistence::detail::format_token(ones)
             == "trp_k_ffffffffffffffff_" + std::string(42, '_') + "8");
  BOOST_TEST(!persistence::detail::parse_token("trp_k_ffffffffffffffff_" + std::string(43, '_')));
}

BOOST_AUTO_TEST_SUITE_END()
