#pragma once
// The one error approach of troupe: every fallible function returns
// `caf::expected<T>` or `caf::error`. Each domain owns an
// `enum class <domain>_errc : uint8_t` (first value 1: CAF reads 0 as "no
// error") registered with CAF_ERROR_CODE_ENUM, and the context of every error
// is one human-readable string that names what failed and where.

#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

/// Returns the error of `expr` (a caf::error) from the enclosing function,
/// if there is one: the one shorthand for propagating errors.
#define TROUPE_TRY(expr)                                                       \
  do {                                                                         \
    if (auto troupe_try_err = (expr))                                          \
      return troupe_try_err;                                                   \
  } while (false)

namespace troupe {

/// Renders an error as the one line an operator sees: the context string when
/// there is one, CAF's own rendering otherwise.
[[nodiscard]] std::string render(const caf::error& err);

/// Renders the error of `x`, or "ok" when it holds a value. Safe to use in
/// test messages, which are evaluated whether or not the check fails.
template <class T>
[[nodiscard]] std::string render(const caf::expected<T>& x) {
  return x ? std::string{"ok"} : render(x.error());
}

/// Drops `err` on purpose. `why` documents the decision at the call site so
/// every ignored error can be found with grep.
inline void ignore_error(const caf::error& err, std::string_view why) {
  (void)err;
  (void)why;
}

} // namespace troupe
