// The victim of persistence/crash_test.cpp: appends durable events to a
// journal forever, alternating two runs, and prints "RUN SEQ" for every
// durable acknowledgement. The test SIGKILLs it at a random moment and checks
// that every printed line survived.
//
// Usage: journal_crash_child DB_PATH RUN_ID

#include <chrono>
#include <cstdio>
#include <string>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/journal.hpp"
#include "persistence/store_errc.hpp"
#include "schemas/codec.hpp"
#include "schemas/errors.hpp"

int main(int argc, char** argv) {
  using namespace troupe;
  if (argc != 3) {
    std::fprintf(stderr, "usage: journal_crash_child DB_PATH RUN_ID\n");
    return 64;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  journal_config jc;
  jc.path = argv[1];
  auto journal = spawn_journal(sys, jc);
  if (!journal) {
    std::fprintf(stderr, "journal_crash_child: %s\n",
                 render(journal.error()).c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  const std::string runs[2] = {argv[2], std::string(argv[2]) + "-b"};
  // A trial continues the runs of the one killed before it: take them over
  // (the first trial finds no runs to take).
  for (auto& run : runs)
    self->request(*journal, std::chrono::seconds(30), claim_atom::value, run)
      .receive([] {},
               [&](caf::error& err) {
                 if (err != persistence::store_errc::unknown_run)
                   std::fprintf(stderr, "journal_crash_child: %s\n", render(err).c_str());
               });
  for (uint64_t k = 0;; ++k) {
    auto& run = runs[k % 2];
    event ev;
    ev.run_id = run;
    ev.root_run_id = run;
    ev.ts_us = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    ev.body = tool_call{"c" + std::to_string(k / 2), "echo", "{}"};
    bool ok = true;
    self
      ->request(*journal, std::chrono::seconds(30), append_atom::value,
                durable_atom::value, encode(ev))
      .receive(
        [&](uint32_t seq) {
          std::printf("%s %u\n", run.c_str(), seq);
          std::fflush(stdout);
        },
        [&](caf::error& err) {
          std::fprintf(stderr, "journal_crash_child: %s\n",
                       render(err).c_str());
          ok = false;
        });
    if (!ok)
      return 1;
  }
}
