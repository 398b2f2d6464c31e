#pragma once
// Lets BOOST_TEST print the gateway's enums by name in failure messages.

#include <ostream>

#include "core/gateway/attempt_plan.hpp"
#include "core/gateway/breaker.hpp"
#include "core/gateway/route_choice.hpp"
#include "core/gateway/tier.hpp"

namespace troupe {

inline std::ostream& boost_test_print_type(std::ostream& os, breaker_state x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, route_strategy x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, task_tier x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, attempt_action x) {
  return os << to_string(x);
}

} // namespace troupe
