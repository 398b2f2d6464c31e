#pragma once
// The `command` provider: each request runs the endpoint's program once, the
// request JSON on its stdin, its JSON-line reply parsed as it streams
// (core/providers/command_wire.hpp has the format, docs/scenario-format.md
// the prose).

#include <string>

#include "core/model_endpoint.hpp"
#include "core/model_provider.hpp"
#include "core/providers/command_wire.hpp"
#include "net/command_process.hpp"

namespace troupe::net {

/// Everything one command request produced: the reply (or its classified
/// failure) and, for people and tests, what the parser and the runner saw.
struct command_call_result {
  model_response response;   ///< endpoint, model, latency, cost filled in
  command_reply_stats stats; ///< skipped lines, unknown events, bytes, truncation
  std::string raw_stdout;    ///< the first stats.raw_cap bytes of stdout
  command_outcome process;   ///< exit, stderr tail, timing
};

/// The endpoint's deadlines as the runner's limits: total, first byte (as
/// first output) and idle between outputs.
[[nodiscard]] command_limits limits_for(const endpoint_config& e);

/// Runs `call` through endpoint `e` (provider `command`). Blocks; another
/// thread may `proc.cancel()` (the response is then `canceled`). Never throws
/// for bad input or a failing program: those are failures in the response.
[[nodiscard]] command_call_result run_command_model(const endpoint_config& e,
                                                    const model_call& call,
                                                    command_process& proc);

/// The same as a blocking model_provider, without cancel.
class command_provider final : public model_provider {
public:
  explicit command_provider(endpoint_config e);

  [[nodiscard]] model_response complete(const model_call& call) override;
  [[nodiscard]] bool blocking() const override { return true; }

private:
  endpoint_config endpoint_;
};

} // namespace troupe::net
