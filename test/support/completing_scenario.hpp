#pragma once
// The smallest scenario that runs to completion: the model calls `complete`
// at once. For CLI tests that need a real run (or one `resume` can finish)
// and care about something else.

namespace troupe::test {

inline constexpr const char* completing_scenario_text = R"(
[run]
agent = "lead"
task = "finish"

[models.script]
provider = "script"

[agents.lead]
model = "script"
tools = ["echo", "complete"]

[[script.lead]]
tool_calls = [ { name = "complete", args = { status = "success", answer = "done" } } ]
)";

} // namespace troupe::test
