#pragma once
// Lets BOOST_TEST print the job queue's enums by name in failure messages.

#include <optional>
#include <ostream>
#include <type_traits>

#include "core/jobs/authorization.hpp"
#include "core/jobs/job.hpp"
#include "core/jobs/job_deadlines.hpp"

namespace troupe::jobs {

inline std::ostream& boost_test_print_type(std::ostream& os, job_status x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, job_priority x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, role x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, api_action x) {
  return os << to_string(x);
}
inline std::ostream& boost_test_print_type(std::ostream& os, deadline_verdict x) {
  return os << to_string(x);
}

/// The `*_from` parsers' results (found by ADL through the enum).
template <class Enum, class = std::enable_if_t<std::is_enum_v<Enum>>>
std::ostream& boost_test_print_type(std::ostream& os, const std::optional<Enum>& x) {
  if (!x)
    return os << "nullopt";
  return boost_test_print_type(os, *x);
}

} // namespace troupe::jobs
