// Checks, verifications, team phases, gates and artifacts <-> plain structs
// (see schemas/detail/team_codec.hpp).

#include "schemas/detail/team_codec.hpp"

#include "schemas/detail/capnp_helpers.hpp"

namespace troupe::detail {

using namespace troupe::schema;

void put(capnp::List<Check>::Builder b, const std::vector<gate_check>& xs) {
  for (unsigned i = 0; i < xs.size(); ++i) {
    auto& x = xs[i];
    auto c = b[i];
    c.setName(text(x.name));
    c.setKind(text(x.kind));
    c.setPath(text(x.path));
    put(c.initArgv(static_cast<unsigned>(x.argv.size())), x.argv);
    c.setSchema(text(x.schema));
    c.setApprover(text(x.approver));
  }
}

std::vector<gate_check> get(capnp::List<Check>::Reader r) {
  std::vector<gate_check> out;
  for (auto c : backed(r, "checks"))
    out.push_back({str(c.getName()), str(c.getKind()), str(c.getPath()), get(c.getArgv()),
                   str(c.getSchema()), str(c.getApprover())});
  return out;
}

void put(capnp::List<Phase>::Builder b, const std::vector<team_phase>& xs) {
  for (unsigned i = 0; i < xs.size(); ++i) {
    auto& x = xs[i];
    auto p = b[i];
    p.setName(text(x.name));
    p.setRole(text(x.role));
    p.setTask(text(x.task));
    put(p.initGate(static_cast<unsigned>(x.gate.size())), x.gate);
    p.setApprover(text(x.approver));
    p.setMaxAttempts(x.max_attempts);
    if (x.skip_if) {
      auto s = p.initSkipIf();
      s.setFirstTry(x.skip_if->first_try);
      s.setMaxFiles(x.skip_if->max_files);
      s.setMaxLines(x.skip_if->max_lines);
    }
  }
}

std::vector<team_phase> get(capnp::List<Phase>::Reader r) {
  std::vector<team_phase> out;
  for (auto p : backed(r, "phases")) {
    team_phase x;
    x.name = str(p.getName());
    x.role = str(p.getRole());
    x.task = str(p.getTask());
    x.gate = get(p.getGate());
    x.approver = str(p.getApprover());
    x.max_attempts = p.getMaxAttempts();
    if (p.hasSkipIf()) {
      auto s = p.getSkipIf();
      x.skip_if = skip_rule{s.getFirstTry(), s.getMaxFiles(), s.getMaxLines()};
    }
    out.push_back(std::move(x));
  }
  return out;
}

void put(Artifact::Builder b, const artifact& x) {
  b.setPath(text(x.path));
  b.setSha256(text(x.sha256));
  b.setBytes(x.bytes);
  b.setLines(x.lines);
  b.setRole(text(x.role));
  b.setPhase(text(x.phase));
}

artifact get(Artifact::Reader r) {
  return {str(r.getPath()), str(r.getSha256()), r.getBytes(), r.getLines(),
          str(r.getRole()), str(r.getPhase())};
}

void put(Verification::Builder b, const verification& x) {
  b.setAttempt(x.attempt);
  b.setPassed(x.passed);
  auto results = b.initResults(static_cast<unsigned>(x.results.size()));
  for (unsigned i = 0; i < x.results.size(); ++i) {
    auto& y = x.results[i];
    auto c = results[i];
    c.setName(text(y.name));
    c.setKind(text(y.kind));
    c.setOk(y.ok);
    c.setOutput(text(y.output));
    c.setSha256(text(y.sha256));
    c.setBytes(y.bytes);
    c.setLines(y.lines);
  }
}

verification get(Verification::Reader r) {
  verification x;
  x.attempt = r.getAttempt();
  x.passed = r.getPassed();
  for (auto c : backed(r.getResults(), "results"))
    x.results.push_back({str(c.getName()), str(c.getKind()), c.getOk(), str(c.getOutput()),
                         str(c.getSha256()), c.getBytes(), c.getLines()});
  return x;
}

void put(PhaseStart::Builder b, const phase_start& x) {
  b.setPhase(x.phase);
  b.setName(text(x.name));
  b.setRole(text(x.role));
  b.setAttempt(x.attempt);
}

phase_start get(PhaseStart::Reader r) {
  return {r.getPhase(), str(r.getName()), str(r.getRole()), r.getAttempt()};
}

void put(GateOutcome::Builder b, const gate_outcome& x) {
  b.setPhase(x.phase);
  b.setName(text(x.name));
  b.setAttempt(x.attempt);
  b.setReport(text(x.report));
  b.setSkipped(x.skipped);
  b.setReviewSkippedReason(text(x.review_skipped_reason));
}

gate_outcome get(GateOutcome::Reader r) {
  return {r.getPhase(),   str(r.getName()), r.getAttempt(), str(r.getReport()),
          r.getSkipped(), str(r.getReviewSkippedReason())};
}

} // namespace troupe::detail
