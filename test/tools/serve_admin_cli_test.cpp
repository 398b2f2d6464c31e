// `troupe tenants ...` and `troupe jobs ...`: the real binary against real
// journals; what it prints, its exit codes and one-line errors, and what it
// leaves in the database (checked through the stores the server uses).

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/job_store.hpp"
#include "persistence/store.hpp"
#include "persistence/tenant_store.hpp"
#include "schemas/errors.hpp"
#include "test/support/files.hpp"
#include "test/support/raw_sqlite.hpp"
#include "test/support/run_command.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/text.hpp"

#ifndef TROUPE_BIN
#  error "TROUPE_BIN must name the troupe executable"
#endif

using namespace troupe;
using namespace troupe::persistence;
using troupe::test::command_result;
using troupe::test::contains;
using troupe::test::lines_of;

namespace {

struct serve_db {
  test::temp_dir dir{"troupe-serve-cli"};
  std::string db = dir.file("serve.db");

  command_result troupe(std::vector<std::string> args) {
    args.insert(args.begin(), TROUPE_BIN);
    args.push_back("--db");
    args.push_back(db);
    return test::run_command(args);
  }

  nlohmann::json json_of(std::vector<std::string> args) {
    args.push_back("--json");
    auto r = troupe(args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "exit " << r.exit_code << ": " << r.err);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    BOOST_REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << r.out);
    return j;
  }

  tenant_store tenants() {
    auto s = tenant_store::open(db);
    BOOST_REQUIRE_MESSAGE(s, render(s));
    return std::move(*s);
  }
};

/// A failing command: its exit code and exactly one `troupe: ` line naming `part`.
void check_fails(const command_result& r, int code, const std::string& part) {
  BOOST_TEST(r.exit_code == code, "stdout: " << r.out << " stderr: " << r.err);
  BOOST_TEST(lines_of(r.err).size() == 1u, "stderr: " << r.err);
  BOOST_TEST(r.err.rfind("troupe: ", 0) == 0u, "stderr: " << r.err);
  BOOST_TEST(contains(r.err, part), "stderr: " << r.err << " lacks " << part);
}

jobs::job job_named(const std::string& name, const std::string& tenant) {
  jobs::job j;
  j.job_id = "job-" + name;
  j.run_id = "run-" + name;
  j.tenant = tenant;
  j.key_id = "k_0123456789abcdef";
  j.scenario = "echo";
  j.task = "task " + name;
  return j;
}

} // namespace

BOOST_AUTO_TEST_SUITE(serve_admin_cli)

BOOST_FIXTURE_TEST_CASE(tenants_add_creates_the_journal_and_lists_quotas, serve_db) {
  auto r = troupe({"tenants", "add", "acme", "--max-concurrent", "2", "--per-minute", "30",
                   "--max-queued", "10", "--tokens-per-day", "5000",
                   "--cost-per-month-usd", "12.5"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(contains(r.out, "added tenant acme"), r.out);
  BOOST_TEST(troupe({"tenants", "add", "globex"}).exit_code == 0);
  auto list = json_of({"tenants", "list"});
  BOOST_REQUIRE_EQUAL(list.size(), 2u);
  BOOST_TEST(list[0]["name"] == "acme");
  auto& q = list[0]["quota"];
  BOOST_TEST(q["max_concurrent_runs"] == 2);
  BOOST_TEST(q["submissions_per_minute"] == 30);
  BOOST_TEST(q["max_queued"] == 10);
  BOOST_TEST(q["tokens_per_day"] == 5000);
  BOOST_TEST(q["cost_micro_usd_per_month"] == 12500000);
  BOOST_TEST(list[1]["name"] == "globex");
  BOOST_TEST(list[1]["quota"]["max_concurrent_runs"] == 0);
  auto text = troupe({"tenants", "list"});
  BOOST_TEST(text.exit_code == 0);
  BOOST_TEST(contains(text.out, "acme"), text.out);
  BOOST_TEST(contains(text.out, "12.5"), text.out);

  check_fails(troupe({"tenants", "add", "acme"}), 1, "exists");
  check_fails(troupe({"tenants", "add", "Acme"}), 64, "not valid");
  check_fails(troupe({"tenants", "add", "initech", "--policy", dir.file("none.toml")}), 64,
              "none.toml");
  check_fails(troupe({"tenants", "add", "initech", "--cost-per-month-usd", "-1"}), 64,
              "--cost-per-month-usd");
  BOOST_TEST(json_of({"tenants", "list"}).size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(set_quota_replaces_every_quota, serve_db) {
  BOOST_TEST(troupe({"tenants", "add", "acme", "--max-concurrent", "2", "--per-minute", "30"})
               .exit_code
             == 0);
  auto r = troupe({"tenants", "set-quota", "acme", "--tokens-per-day", "900"});
  BOOST_TEST(r.exit_code == 0, r.err);
  auto q = json_of({"tenants", "list"})[0]["quota"];
  BOOST_TEST(q["tokens_per_day"] == 900);
  BOOST_TEST(q["max_concurrent_runs"] == 0); // left out: unlimited
  BOOST_TEST(q["submissions_per_minute"] == 0);
  auto audit = json_of({"tenants", "audit", "--tenant", "acme"});
  BOOST_TEST(audit[0]["action"] == "tenant.set_quota");
  check_fails(troupe({"tenants", "set-quota", "nobody", "--per-minute", "1"}), 1, "nobody");
  check_fails(troupe({"tenants", "set-quota", "acme", "--cost-per-month-usd", "-2"}), 64,
              "--cost-per-month-usd");
}

BOOST_FIXTURE_TEST_CASE(a_key_token_is_printed_once_and_works_until_revoked, serve_db) {
  BOOST_REQUIRE(troupe({"tenants", "add", "acme"}).exit_code == 0);
  auto r = troupe({"tenants", "key-create", "acme", "--role", "submitter"});
  BOOST_TEST(r.exit_code == 0, r.err);
  auto lines = lines_of(r.out);
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);
  auto token = lines[0];
  BOOST_TEST(std::regex_match(token, std::regex("trp_k_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")),
             token);
  BOOST_TEST(contains(lines[1], "will not be shown again"), lines[1]);
  auto key_id = token.substr(4, 18);
  {
    auto s = tenants();
    auto who = s.authenticate(token);
    BOOST_REQUIRE_MESSAGE(who, render(who));
    BOOST_REQUIRE(*who);
    BOOST_TEST((*who)->key_id == key_id);
    BOOST_TEST((*who)->tenant == "acme");
    BOOST_TEST(((*who)->key_role == jobs::role::submitter));
  }
  // Listings show the key id, never the token.
  auto list = troupe({"tenants", "list", "--json"});
  BOOST_TEST(contains(list.out, key_id), list.out);
  BOOST_TEST(!contains(list.out, token.substr(23)), list.out);
  auto secret = token.substr(23);
  BOOST_TEST(!contains(test::slurp(db) + test::slurp(db + "-wal"), secret));

  check_fails(troupe({"tenants", "key-create", "acme", "--role", "root"}), 64, "root");
  check_fails(troupe({"tenants", "key-create", "initech", "--role", "admin"}), 1, "initech");

  auto revoked = troupe({"tenants", "key-revoke", key_id});
  BOOST_TEST(revoked.exit_code == 0, revoked.err);
  BOOST_TEST(contains(revoked.out, key_id), revoked.out);
  {
    auto s = tenants();
    auto who = s.authenticate(token);
    BOOST_REQUIRE_MESSAGE(who, render(who));
    BOOST_TEST(!*who);
  }
  check_fails(troupe({"tenants", "key-revoke", key_id}), 1, "revoked already");
  check_fails(troupe({"tenants", "key-revoke", "k_ffffffffffffffff"}), 1, "k_ffffffffffffffff");
}

BOOST_FIXTURE_TEST_CASE(the_audit_log_records_console_changes_by_tenant, serve_db) {
  BOOST_REQUIRE(troupe({"tenants", "add", "acme"}).exit_code == 0);
  BOOST_REQUIRE(troupe({"tenants", "add", "globex"}).exit_code == 0);
  auto key = troupe({"tenants", "key-create", "globex", "--role", "viewer"});
  BOOST_REQUIRE(key.exit_code == 0);
  auto all = json_of({"tenants", "audit"});
  BOOST_REQUIRE_EQUAL(all.size(), 3u);
  BOOST_TEST(all[0]["action"] == "key.create");
  BOOST_TEST(all[0]["tenant"] == "globex");
  BOOST_TEST(all[0]["key_id"] == "console");
  BOOST_TEST(all[0]["detail"]["role"] == "viewer");
  BOOST_TEST(all[2]["action"] == "tenant.add");
  BOOST_TEST(all[2]["target"] == "acme");
  auto globex = json_of({"tenants", "audit", "--tenant", "globex"});
  BOOST_REQUIRE_EQUAL(globex.size(), 2u);
  for (auto& e : globex)
    BOOST_TEST(e["tenant"] == "globex");
  BOOST_TEST(json_of({"tenants", "audit", "--limit", "1"}).size() == 1u);
  auto text = troupe({"tenants", "audit", "--tenant", "acme"});
  BOOST_TEST(text.exit_code == 0);
  BOOST_TEST(contains(text.out, "tenant.add"), text.out);
  BOOST_TEST(!contains(text.out, "key.create"), text.out);
  BOOST_TEST(troupe({"tenants", "audit", "--limit", "0"}).exit_code == 64);
}

BOOST_FIXTURE_TEST_CASE(jobs_lists_pages_and_requeues_only_dead_letters, serve_db) {
  BOOST_REQUIRE(troupe({"tenants", "add", "acme"}).exit_code == 0);
  {
    auto s = job_store::open(db);
    BOOST_REQUIRE_MESSAGE(s, render(s));
    auto in = s->insert({job_named("a", "acme"), job_named("b", "globex"),
                         job_named("c", "acme")});
    BOOST_REQUIRE_MESSAGE(in, render(in));
    auto dead = (*in)[0].job;
    dead.status = jobs::job_status::dead;
    dead.attempts = 3;
    dead.starts = 4;
    dead.error = "no model endpoint reachable";
    BOOST_REQUIRE(*s->update(dead, jobs::job_status::queued));
  }
  auto all = json_of({"jobs"});
  BOOST_REQUIRE_EQUAL(all["items"].size(), 3u);
  BOOST_TEST(all["items"][0]["job_id"] == "job-c");
  BOOST_TEST(all["items"][2]["job_id"] == "job-a");
  BOOST_TEST(all["items"][2]["status"] == "dead");
  BOOST_TEST(all["items"][2]["attempts"] == 3);
  BOOST_TEST(all["next_cursor"].is_null());
  auto dead = json_of({"jobs", "--status", "dead"});
  BOOST_REQUIRE_EQUAL(dead["items"].size(), 1u);
  BOOST_TEST(json_of({"jobs", "--tenant", "globex"})["items"].size() == 1u);
  auto text = troupe({"jobs", "--status", "dead"});
  BOOST_TEST(text.exit_code == 0);
  BOOST_TEST(contains(text.out, "job-a"), text.out);
  BOOST_TEST(contains(text.out, "no model endpoint reachable"), text.out);
  // Pages: the text output names the next page's cursor.
  auto first = troupe({"jobs", "--limit", "2"});
  BOOST_TEST(first.exit_code == 0);
  std::smatch m;
  BOOST_REQUIRE_MESSAGE(std::regex_search(first.out, m, std::regex("more: --cursor (c[0-9a-f]+)")),
                        first.out);
  auto rest = json_of({"jobs", "--limit", "2", "--cursor", m[1]});
  BOOST_REQUIRE_EQUAL(rest["items"].size(), 1u);
  BOOST_TEST(rest["items"][0]["job_id"] == "job-a");
  check_fails(troupe({"jobs", "--cursor", "garbage"}), 64, "cursor");
  check_fails(troupe({"jobs", "--status", "sleeping"}), 64, "sleeping");

  check_fails(troupe({"jobs", "requeue", "job-c"}), 1, "not dead");
  check_fails(troupe({"jobs", "requeue", "job-zzz"}), 1, "job-zzz");
  auto r = troupe({"jobs", "requeue", "job-a"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(contains(r.out, "requeued job job-a"), r.out);
  {
    auto s = job_store::open(db);
    auto j = s->get("job-a");
    BOOST_REQUIRE_MESSAGE(j, render(j));
    BOOST_TEST(((*j)->status == jobs::job_status::queued));
    BOOST_TEST((*j)->attempts == 0u);
    BOOST_TEST((*j)->starts == 4u); // the next run's id is new
    BOOST_TEST((*j)->error == "");
    BOOST_TEST((*j)->run_id == "run-a");
  }
  check_fails(troupe({"jobs", "requeue", "job-a"}), 1, "not dead");
  auto audit = json_of({"tenants", "audit", "--tenant", "acme"});
  BOOST_REQUIRE(!audit.empty());
  BOOST_TEST(audit[0]["action"] == "job.requeue");
  BOOST_TEST(audit[0]["target"] == "job-a");
  BOOST_TEST(audit[0]["key_id"] == "console");
  BOOST_TEST(audit[0]["detail"]["attempts_before"] == 3);
}

BOOST_FIXTURE_TEST_CASE(read_commands_name_a_missing_or_old_journal, serve_db) {
  check_fails(troupe({"jobs"}), 66, db);
  check_fails(troupe({"tenants", "list"}), 66, db);
  check_fails(troupe({"tenants", "audit"}), 66, db);
  check_fails(troupe({"tenants", "key-create", "acme", "--role", "admin"}), 66, db);
  check_fails(troupe({"tenants", "key-revoke", "k_0123456789abcdef"}), 66, db);
  check_fails(troupe({"jobs", "requeue", "job-a"}), 66, db);
  BOOST_TEST(!std::filesystem::exists(db));
  {
    auto journal = store::open(db, open_mode::read_write);
    BOOST_REQUIRE_MESSAGE(journal, render(journal));
  }
  test::exec_raw(db, "PRAGMA user_version = 6");
  check_fails(troupe({"jobs"}), 65, "troupe migrate");
  check_fails(troupe({"tenants", "list"}), 65, "troupe migrate");
}

// As after a kill -9 of the server: committed rows still in the WAL. A
// connection that closed last would checkpoint them into the file; the
// listings must not.
BOOST_FIXTURE_TEST_CASE(listings_leave_the_journal_as_it_was, serve_db) {
  BOOST_REQUIRE(troupe({"tenants", "add", "acme"}).exit_code == 0);
  BOOST_REQUIRE(troupe({"tenants", "key-create", "acme", "--role", "admin"}).exit_code == 0);
  auto crashed = dir.file("crashed.db");
  {
    auto s = job_store::open(db);
    BOOST_REQUIRE_MESSAGE(s, render(s));
    BOOST_REQUIRE(s->insert({job_named("a", "acme")}));
    auto t = tenant_store::open(db);
    BOOST_REQUIRE(t);
    BOOST_REQUIRE(t->append_audit({0, 0, "acme", "k_1", "job.submit", "job-a", "{}"}));
    // The server's files as they are while it runs: the new rows in the WAL.
    std::filesystem::copy_file(db, crashed);
    std::filesystem::copy_file(db + "-wal", crashed + "-wal");
  }
  auto before = test::slurp(crashed);
  auto before_wal = test::slurp(crashed + "-wal");
  BOOST_REQUIRE(!before_wal.empty());
  auto at = [&](std::vector<std::string> args) {
    args.insert(args.begin(), TROUPE_BIN);
    args.push_back("--db");
    args.push_back(crashed);
    return test::run_command(args);
  };
  auto listed = at({"jobs", "--json"});
  BOOST_TEST(listed.exit_code == 0, listed.err);
  BOOST_TEST(contains(listed.out, "job-a"), listed.out);
  auto audit = at({"tenants", "audit"});
  BOOST_TEST(contains(audit.out, "job.submit"), audit.out);
  BOOST_TEST(at({"jobs"}).exit_code == 0);
  BOOST_TEST(at({"tenants", "list"}).exit_code == 0);
  BOOST_TEST((test::slurp(crashed) == before));
  BOOST_TEST((test::slurp(crashed + "-wal") == before_wal));
}

BOOST_AUTO_TEST_SUITE_END()
