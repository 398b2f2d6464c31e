#include "serve/run_outcomes.hpp"

#include <variant>

#include "schemas/codec.hpp"

namespace troupe::serve {

caf::expected<run_outcomes> run_outcomes::open(const std::string& db_path) {
  auto journal = persistence::store::open(db_path, persistence::open_mode::read_only);
  if (!journal)
    return std::move(journal.error());
  return run_outcomes{std::move(*journal)};
}

caf::expected<persistence::run_info> run_outcomes::find(const std::string& run_id) {
  return journal_.find_run(run_id);
}

std::string run_outcomes::completion_reason(const std::string& run_id) {
  auto rows = journal_.events(run_id, event_kind::completion);
  if (!rows || rows->empty())
    return {};
  auto ev = decode(rows->back().bytes);
  return ev ? std::get<completion>(ev->body).reason : std::string{};
}

std::string run_outcomes::last_model_failure(const std::string& run_id) {
  auto rows = journal_.events(run_id, event_kind::model_reply);
  if (!rows)
    return {};
  // The recovery turn's reply after the failures succeeded: look past it.
  for (auto i = rows->rbegin(); i != rows->rend(); ++i) {
    auto ev = decode(i->bytes);
    if (!ev)
      return {};
    auto& failure = std::get<model_reply>(ev->body).failure;
    if (!failure.empty())
      return failure;
  }
  return {};
}

} // namespace troupe::serve
