#pragma once
// Glob patterns for tool policies: over tool names, workspace-relative paths
// and host names. The syntax is documented in docs/policy.md:
//
//   *       any run of characters except the separator ('/' in paths, '.' in hosts)
//   **      any run of characters, separators included; as a whole segment
//           (`a/**/b`, `**/x`, `a/**`) it also matches zero segments
//   ?       one character except the separator
//   [abc]   one character of the set; ranges `[a-z]`, negation `[!a]` or `[^a]`;
//           a `]` right after `[` (or `[!`) is literal; never the separator
//   \c      the character c itself
//
// Matching is a pure NFA simulation over the compiled pattern: time
// O(|text| * |pattern|), memory O(|pattern|), no backtracking, so a hostile
// path cannot make a policy decision slow.

#include <caf/make_message.hpp> // before runtime_errc.hpp: its macro needs make_message
#include <caf/error.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/runtime_errc.hpp"

namespace troupe {

/// What a glob is matched against; decides the separator `*`, `?` and
/// classes never cross.
enum class glob_kind : uint8_t {
  name, ///< tool names: no separator, `*` and `**` are the same
  path, ///< workspace-relative paths: separator '/'
  host, ///< host names, lower case: separator '.'
};

/// Checks the syntax of `pattern` for `kind`. Errors are
/// `runtime_errc::invalid_scenario` whose context describes the problem
/// without a file position (the caller adds it), e.g.
/// `unbalanced '[' at offset 3`. Path patterns must also be relative and
/// free of `..` segments; no pattern may be empty.
[[nodiscard]] caf::error check_glob(std::string_view pattern, glob_kind kind);

/// True when `text` matches all of `pattern`. An invalid pattern (one
/// `check_glob` rejects) matches nothing. Path patterns see `.` (the
/// workspace root, see `workspace_relative`) only if the pattern is `.` or
/// consists of `**` segments alone. Compiles `pattern` on every call: code
/// that matches one pattern many times keeps a `compiled_glob`.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text, glob_kind kind);

struct glob_program;

/// A pattern compiled once (a policy compiles its globs when it loads) and
/// matched many times, exactly as `glob_match` would match it. Copies share
/// the compiled program; it is immutable, so any thread may match.
class compiled_glob {
public:
  /// Matches nothing; `pattern()` is empty.
  compiled_glob() = default;

  /// An invalid pattern compiles to one that matches nothing, as in `glob_match`.
  [[nodiscard]] static compiled_glob compile(std::string_view pattern, glob_kind kind);

  [[nodiscard]] bool matches(std::string_view text) const;

  /// The pattern as given to `compile`.
  [[nodiscard]] const std::string& pattern() const noexcept { return pattern_; }

  [[nodiscard]] glob_kind kind() const noexcept { return kind_; }

private:
  std::string pattern_;
  glob_kind kind_ = glob_kind::name;
  std::shared_ptr<const glob_program> program_;
};

/// True when `pattern` has no wildcard, class or escape: it matches exactly
/// its own text.
[[nodiscard]] bool is_literal_glob(std::string_view pattern);

/// True when `pattern` is certain to match every text of its kind (`*` for
/// names, `**` for paths and hosts). Conservative: false means "not known".
[[nodiscard]] bool glob_matches_everything(std::string_view pattern, glob_kind kind);

/// The canonical spelling of a workspace-relative path pattern: `./` prefixes,
/// `.` segments, repeated and trailing slashes removed (`./src//a/` -> `src/a`);
/// the root itself is `.`. Call after `check_glob` succeeded.
[[nodiscard]] std::string normalize_path_glob(std::string_view pattern);

/// The canonical form of a path argument for matching, or nullopt when it can
/// never lie inside the workspace by its spelling: empty, containing NUL,
/// absolute, or with any `..` component (even `a/../b`, which
/// `resolve_in_workspace` also refuses). `.` segments and repeated or trailing
/// slashes are dropped; the root is `.`.
[[nodiscard]] std::optional<std::string> workspace_relative(std::string_view path);

/// The host of a URL (`scheme://[user@]host[:port][/...]`), lower case, or
/// nullopt when there is none or it is not a plain host name or IP literal.
/// A backslash ends the authority as in browsers (`http://a.com\@b.com` is
/// `a.com`), so no spelling trick moves the checked host away from the one a
/// client connects to.
[[nodiscard]] std::optional<std::string> host_of_url(std::string_view url);

/// `host` lower-cased, without a `:port` suffix, IPv6 brackets or a trailing
/// dot; nullopt unless the rest is letters, digits, `-`, `_`, `.` (or hex
/// digits, `:` and `.` inside brackets).
[[nodiscard]] std::optional<std::string> normalize_host(std::string_view host);

} // namespace troupe
