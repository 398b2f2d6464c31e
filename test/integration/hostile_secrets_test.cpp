// The hostile suite, secrets and arguments: a rule's secret stays out of
// other rules' reach, arguments reach commands without a shell, and a
// granted secret is redacted everywhere a run leaves text (journal files,
// export, show, replay, logs), including the ways around a per-tool
// redactor. Fixture and contract checks: hostile_run_support.hpp.

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "test/integration/hostile_run_support.hpp"

using namespace troupe;
using namespace troupe::test::hostile;
namespace fs = std::filesystem;
using troupe::test::contains;
using troupe::test::lines_of;
using troupe::test::slurp;
using troupe::test::write_file;

namespace {

/// Where `needle` occurs in `haystacks` (name -> text), for messages.
std::string found_in(const std::map<std::string, std::string>& haystacks,
                     const std::string& needle) {
  std::string where;
  for (auto& [name, text] : haystacks)
    if (contains(text, needle))
      where += (where.empty() ? "" : ", ") + name;
  return where;
}

/// The raw journal files (SQLite file, -wal, -shm), those that exist, and
/// every stored body unpacked: bodies are packed (docs/journal-format.md,
/// "Event storage"), which keeps text as it is but for a count byte that may
/// fall inside it, so the pages alone could hide a secret from the scan.
std::map<std::string, std::string> raw_journal_files(const std::string& db) {
  std::map<std::string, std::string> out;
  for (const char* suffix : {"", "-wal", "-shm"})
    if (fs::exists(db + suffix))
      out["raw " + fs::path{db + suffix}.filename().string()] = slurp(db + suffix);
  std::string bodies;
  for (auto& row : troupe::test::read_run(db, ""))
    bodies.append(row.bytes.begin(), row.bytes.end());
  out["journal bodies unpacked"] = bodies;
  return out;
}

/// `troupe export RUN`, checked, plus the checkpoints' snapshots.
std::map<std::string, std::string> exported(const std::string& db, const std::string& run) {
  std::map<std::string, std::string> out;
  auto exp = troupe::test::run_command({TROUPE_BIN, "export", run, "--db", db});
  BOOST_TEST(exp.exit_code == 0, exp.err);
  out["export"] = exp.out;
  std::string states;
  for (auto& line : lines_of(exp.out)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && str(j, "kind") == "checkpoint")
      states += j.at("checkpoint").value("snapshot", nlohmann::json::object()).dump() + "\n";
  }
  out["export checkpoint states"] = states;
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hostile_run)

// 11. Holds by: the sandbox environment (PATH/HOME/LANG plus the deciding
// rule's secrets, nothing of troupe's own environment), redaction of the
// granted value, and the policy (another command cannot borrow a grant).
BOOST_AUTO_TEST_CASE(another_rules_secret_is_out_of_reach) {
  hostile_dir d;
  const auto alpha = unique("alpha-value-");
  const auto beta = unique("beta-value-");
  const auto gamma = unique("gamma-value-");
  const auto env_secret = unique("env-value-");
  auto secrets = d.tmp.path / "secrets.env";
  write_file(secrets, "# test secrets\nALPHA_TOKEN=" + alpha + "\nBETA_TOKEN=" + beta
                        + "\nGAMMA_TOKEN=" + gamma + "\n");
  ::setenv("TROUPE_HOSTILE_ENV_SECRET", env_secret.c_str(), 1);
  auto r = troupe_run(d.install("secrets_scope.toml"), d.db(),
                      {"--secrets-file", secrets.string()});
  ::unsetenv("TROUPE_HOSTILE_ENV_SECRET");
  check_contract(r, run_status::completed);
  auto& evs = r.events;

  auto a = result_of(evs, "as-a", "shell-a");
  BOOST_TEST(a.ok, a.output);
  BOOST_TEST(contains(a.output, "alpha=[REDACTED:ALPHA_TOKEN] beta= gamma=\n"), a.output);
  BOOST_TEST(contains(a.output, "ALPHA_TOKEN=[REDACTED:ALPHA_TOKEN]"), a.output);
  BOOST_TEST(!contains(a.output, "BETA_TOKEN="), a.output);
  BOOST_TEST(!contains(a.output, "GAMMA_TOKEN="), a.output);
  BOOST_TEST(!contains(a.output, "TROUPE_HOSTILE_ENV_SECRET"), a.output);

  auto b = result_of(evs, "as-b", "shell-b");
  BOOST_TEST(b.ok, b.output);
  BOOST_TEST(contains(b.output, "beta=[REDACTED:BETA_TOKEN] alpha= gamma=\n"), b.output);
  BOOST_TEST(!contains(b.output, "ALPHA_TOKEN="), b.output);
  BOOST_TEST(!contains(b.output, "TROUPE_HOSTILE_ENV_SECRET"), b.output);

  auto* borrow = decision_of(evs, "borrow-a");
  BOOST_REQUIRE(borrow != nullptr);
  BOOST_TEST(to_string(borrow->decision) == "deny", borrow->reason);
  BOOST_TEST(!was_called(evs, "borrow-a"));

  // No value anywhere: journal files, export, the CLI's own output.
  auto where = raw_journal_files(r.db);
  for (auto& [k, v] : exported(r.db, str(r.result, "run_id")))
    where[k] = v;
  where["troupe run stdout"] = r.cmd.out;
  where["troupe run stderr"] = r.cmd.err;
  for (const auto& value : {alpha, beta, gamma, env_secret})
    BOOST_TEST(found_in(where, value).empty(),
               value << " found in: " << found_in(where, value));
}

// 12. Holds by: execve with the argv as given: no element is interpreted by
// a shell; `sh -c SCRIPT ARG...` passes ARG as $0, $1, never evaluated.
BOOST_AUTO_TEST_CASE(arguments_are_never_interpreted_by_a_shell) {
  hostile_dir d;
  auto mark = unique("hostile-inject-");
  auto scenario = d.install("injection.toml", {{"@WORKSPACE@", d.workspace().string()},
                                               {"@MARK@", mark}});
  write_file(d.workspace() / "canary.txt", "alive");
  auto r = troupe_run(scenario, d.db());
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  const std::string tmp_payload =
    "$(touch /tmp/pwned_" + mark + "); `touch /tmp/pwned2_" + mark + "`";
  auto t = result_of(evs, "inject-tmp", "shell-echo");
  BOOST_TEST(t.ok, t.output);
  BOOST_TEST(contains(t.output, "--- stdout ---\n" + tmp_payload + "\n"), t.output);
  BOOST_TEST(!fs::exists("/tmp/pwned_" + mark));
  BOOST_TEST(!fs::exists("/tmp/pwned2_" + mark));
  auto ws = d.workspace().string();
  const std::string ws_payload = "$(touch " + ws + "/pwned_a) `touch " + ws
                                 + "/pwned_b` | touch " + ws
                                 + "/pwned_c ; rm -f canary.txt && touch pwned_d";
  auto w = result_of(evs, "inject-ws", "shell-echo");
  BOOST_TEST(w.ok, w.output);
  BOOST_TEST(contains(w.output, "--- stdout ---\n" + ws_payload + "\n"), w.output);
  auto s = result_of(evs, "inject-sh-arg", "shell-echo-safe");
  BOOST_TEST(s.ok, s.output);
  BOOST_TEST(s.output == "exit 0\n--- stdout ---\nsafe\n", s.output);
  BOOST_TEST((entries(d.workspace()) == std::set<std::string>{"canary.txt"}));
  BOOST_TEST(slurp(d.workspace() / "canary.txt") == "alive");
}

// 13. Holds by: redaction of the shell's output before it is journaled,
// shown to the model, printed as progress or logged. The value must be
// nowhere: the SQLite file and its -wal/-shm, `troupe export` (and the
// checkpoint states inside it), `troupe show` (text and --json), `troupe
// replay`, and stdout/stderr of `troupe run` with debug logs in json (with
// --json) and in text (with --progress lines).
BOOST_AUTO_TEST_CASE(a_granted_secret_is_redacted_everywhere) {
  hostile_dir d;
  const auto secret = unique("Zq9-secret-");
  auto secrets = d.tmp.path / "secrets.env";
  write_file(secrets, "ALPHA_TOKEN=" + secret + "\n");
  auto scenario = d.install("redaction.toml");
  auto r = troupe_run(scenario, d.db(), {"--secrets-file", secrets.string()},
                      {"--log-level", "debug", "--log-format", "json"});
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto run_id = str(r.result, "run_id");

  // The value did reach the command: the redactor replaced it.
  auto echo = result_of(evs, "leak-echo", "shell-sh");
  BOOST_TEST(echo.ok, echo.output);
  BOOST_TEST(contains(echo.output, "--- stdout ---\n[REDACTED:ALPHA_TOKEN]\n"
                                   "[REDACTED:ALPHA_TOKEN][REDACTED:ALPHA_TOKEN]\n"),
             echo.output);
  BOOST_TEST(contains(echo.output, "--- stderr ---\ntoken=[REDACTED:ALPHA_TOKEN]\n"),
             echo.output);
  auto failing = result_of(evs, "leak-failing", "shell-sh");
  BOOST_TEST(!failing.ok);
  BOOST_TEST(contains(failing.output, "failing with [REDACTED:ALPHA_TOKEN]"),
             failing.output);

  // A second run of the same scenario with text logs and progress lines.
  auto text = troupe::test::run_command({TROUPE_BIN, "--log-level", "debug", "run",
                                         scenario.string(), "--db", d.db(), "--progress",
                                         "--secrets-file", secrets.string()});
  BOOST_TEST(text.exit_code == 0, text.err);
  BOOST_TEST(contains(text.err, "[REDACTED:ALPHA_TOKEN]"), text.err); // progress lines

  auto where = raw_journal_files(r.db);
  auto exp = exported(r.db, run_id);
  BOOST_TEST(contains(exp["export"], "[REDACTED:ALPHA_TOKEN]"));
  for (auto& [k, v] : exp)
    where[k] = v;
  auto show = troupe::test::run_command({TROUPE_BIN, "show", run_id, "--db", r.db});
  BOOST_TEST(show.exit_code == 0, show.err);
  auto show_json =
    troupe::test::run_command({TROUPE_BIN, "show", run_id, "--db", r.db, "--json"});
  BOOST_TEST(show_json.exit_code == 0, show_json.err);
  auto replay = troupe::test::run_command({TROUPE_BIN, "replay", run_id, "--db", r.db});
  BOOST_TEST(replay.exit_code == 0, replay.out << replay.err);
  where["show"] = show.out + show.err;
  where["show --json"] = show_json.out + show_json.err;
  where["replay"] = replay.out + replay.err;
  where["run (json logs) stdout"] = r.cmd.out;
  where["run (json logs) stderr"] = r.cmd.err;
  where["run (text logs, progress) stdout"] = text.out;
  where["run (text logs, progress) stderr"] = text.err;
  BOOST_TEST(found_in(where, secret).empty(), "the secret is in: " << found_in(where, secret));
  // Controls: the scan does see tool output in each kind of place (the
  // stored bodies unpacked; checkpoint snapshots are read).
  BOOST_TEST(where.count("raw journal.db") == 1u);
  auto marker_in = found_in(where, "failing with [REDACTED:ALPHA_TOKEN]");
  BOOST_TEST(contains(marker_in, "journal bodies unpacked"), marker_in);
  BOOST_TEST(contains(marker_in, "export"), marker_in);
  // Checkpoints hold call statuses, not finished calls' text; the scan still
  // reads their snapshots.
  BOOST_TEST(!where["export checkpoint states"].empty());
  BOOST_TEST(contains(where["run (text logs, progress) stderr"], "tool_result"));
}

// Two ways around a per-tool redactor, closed by redacting every tool result
// of the run against every secret its policy can grant, and by redacting the
// beginning of a secret that an output cap cut off:
// - via-workspace: the shell writes its granted secret into a workspace
//   file; read_file, granted nothing, reads it back.
// - cut-at-cap: a value straddling the 1 MiB cut.
BOOST_AUTO_TEST_CASE(secret_leaks_around_the_redactor) {
  hostile_dir d;
  const auto secret = unique("Zq9-secret-");
  auto secrets = d.tmp.path / "secrets.env";
  write_file(secrets, "ALPHA_TOKEN=" + secret + "\n");
  auto r = troupe_run(d.install("redaction_gaps.toml"), d.db(),
                      {"--secrets-file", secrets.string()});
  check_contract(r, run_status::completed);
  auto& evs = r.events;
  auto stash = result_of(evs, "stash", "shell-sh");
  BOOST_TEST(contains(stash.output, "stashed"), stash.output);
  auto via = result_of(evs, "via-workspace", "read-workspace");
  BOOST_TEST(!contains(via.output, secret), // fails today
             "read_file returned the shell's secret verbatim: " << via.output);
  auto cut = result_of(evs, "cut-at-cap", "shell-sh");
  BOOST_TEST(contains(cut.output, "[stdout truncated: 1048576 of"),
             cut.output.substr(cut.output.size() > 200 ? cut.output.size() - 200 : 0));
  const auto prefix = secret.substr(0, secret.size() - 1);
  BOOST_TEST(!contains(cut.output, prefix), // fails today
             "the output cap cut the secret before redaction; kept: "
               << cut.output.substr(cut.output.size() > 120 ? cut.output.size() - 120 : 0));
}

BOOST_AUTO_TEST_SUITE_END()
