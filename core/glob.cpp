#include "core/glob.hpp"

#include <algorithm>
#include <array>
#include <bitset>
#include <cctype>
#include <vector>

#include "core/workspace.hpp"

namespace troupe {

namespace {

enum class token_kind : uint8_t {
  literal,  // one given character
  one,      // `?`: one character but the separator
  set,      // `[...]`: one character of the set, never the separator
  star,     // `*`: a run of characters without the separator
  globstar, // `**`: any run of characters
  skip,     // no input: both the next token and `jump` (an optional group)
};

struct token {
  explicit token(token_kind k, char ch = 0, size_t to = 0) : kind(k), c(ch), jump(to) {
    // nop
  }

  token_kind kind;
  char c;
  size_t jump;
  std::bitset<256> chars;
  bool negate = false;
};

// No character equals -1, so names have no separator.
int separator_of(glob_kind kind) {
  switch (kind) {
    case glob_kind::path: return '/';
    case glob_kind::host: return '.';
    default: return -1;
  }
}

bool is_sep(char c, int sep) {
  return static_cast<unsigned char>(c) == sep;
}

caf::error bad(const std::string& what) {
  return caf::make_error(runtime_errc::invalid_scenario, what);
}

std::string offset(size_t i) {
  return " at offset " + std::to_string(i);
}

// Reads the class starting at p[i] == '['; `i` ends on its ']'.
caf::error compile_class(std::string_view p, size_t& i, int sep, token& out) {
  const size_t open = i;
  size_t j = i + 1;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
    out.negate = true;
    ++j;
  }
  bool first = true;
  // Reads one (possibly escaped) class character at p[j], advancing j past it.
  auto read_char = [&](char& c) -> caf::error {
    if (p[j] == '\\' && ++j >= p.size())
      return bad("unbalanced '['" + offset(open));
    c = p[j++];
    if (is_sep(c, sep))
      return bad("the separator '" + std::string(1, c) + "' inside [...]" + offset(j - 1));
    return {};
  };
  for (;;) {
    if (j >= p.size())
      return bad("unbalanced '['" + offset(open));
    if (p[j] == ']' && !first)
      break;
    first = false;
    char lo = 0;
    if (auto err = read_char(lo))
      return err;
    char hi = lo;
    if (j + 1 < p.size() && p[j] == '-' && p[j + 1] != ']') {
      ++j;
      if (auto err = read_char(hi))
        return err;
      if (static_cast<unsigned char>(hi) < static_cast<unsigned char>(lo))
        return bad("reversed range '" + std::string{lo} + "-" + std::string{hi} + "'"
                   + offset(open));
    }
    for (int c = static_cast<unsigned char>(lo); c <= static_cast<unsigned char>(hi); ++c)
      out.chars.set(static_cast<size_t>(c));
  }
  out.kind = token_kind::set;
  i = j;
  return {};
}

bool all_stars(std::string_view s, size_t min) {
  return s.size() >= min && s.find_first_not_of('*') == s.npos;
}

// Compiles `p` into tokens. `**` as a whole segment becomes an optional group, so
// `a/**/b` matches `a/b` and `src/**` matches `src`.
caf::error compile_tokens(std::string_view p, glob_kind kind, std::vector<token>& out) {
  const int sep = separator_of(kind);
  bool segment_start = true;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '*') {
      size_t k = i;
      while (k < p.size() && p[k] == '*')
        ++k;
      const bool double_star = k - i >= 2;
      if (double_star && sep >= 0 && segment_start && k < p.size() && is_sep(p[k], sep)) {
        out.emplace_back(token_kind::skip, 0, out.size() + 3);
        out.emplace_back(token_kind::globstar);
        out.emplace_back(token_kind::literal, p[k]);
        i = k; // on the separator; segment_start stays true
        continue;
      }
      out.emplace_back(double_star ? token_kind::globstar : token_kind::star);
      segment_start = false;
      i = k - 1;
    } else if (c == '?') {
      out.emplace_back(token_kind::one);
      segment_start = false;
    } else if (c == '[') {
      token t{token_kind::set};
      if (auto err = compile_class(p, i, sep, t))
        return err;
      out.push_back(std::move(t));
      segment_start = false;
    } else if (c == '\\') {
      if (i + 1 >= p.size())
        return bad("a trailing '\\'" + offset(i));
      if (kind == glob_kind::path && p[i + 1] == '/')
        return bad("an escaped '/'" + offset(i));
      out.emplace_back(token_kind::literal, p[++i]);
      segment_start = false;
    } else if (sep >= 0 && is_sep(c, sep) && all_stars(p.substr(i + 1), 2)) {
      // A trailing "/**" is optional as a whole: `src/**` matches `src` too.
      out.emplace_back(token_kind::skip, 0, out.size() + 3);
      out.emplace_back(token_kind::literal, c);
      out.emplace_back(token_kind::globstar);
      break;
    } else {
      out.emplace_back(token_kind::literal, c);
      segment_start = sep >= 0 && is_sep(c, sep);
    }
  }
  return {};
}

// Adds state `i` and everything reachable from it without input.
void add_state(const std::vector<token>& toks, char* active, size_t i) {
  if (active[i])
    return;
  active[i] = 1;
  if (i == toks.size())
    return;
  switch (toks[i].kind) {
    case token_kind::star:
    case token_kind::globstar:
      add_state(toks, active, i + 1);
      break;
    case token_kind::skip:
      add_state(toks, active, i + 1);
      add_state(toks, active, toks[i].jump);
      break;
    default:
      break;
  }
}

bool run(const std::vector<token>& toks, std::string_view text, int sep) {
  // Two sets of |tokens| + 1 state flags. A compiled policy matches every
  // call against every rule's globs, so patterns of ordinary size keep them
  // on the stack instead of allocating twice per match.
  constexpr size_t inline_states = 128;
  const size_t n = toks.size() + 1;
  std::array<char, 2 * inline_states> inline_flags{};
  std::vector<char> heap_flags;
  char* flags = inline_flags.data();
  if (n > inline_states) {
    heap_flags.assign(2 * n, 0);
    flags = heap_flags.data();
  }
  char* cur = flags;
  char* next = flags + n;
  add_state(toks, cur, 0);
  for (char ch : text) {
    std::fill(next, next + n, 0);
    bool any = false;
    const bool at_sep = is_sep(ch, sep);
    for (size_t i = 0; i < toks.size(); ++i) {
      if (!cur[i])
        continue;
      const auto& t = toks[i];
      bool advance = false;
      switch (t.kind) {
        case token_kind::literal: advance = ch == t.c; break;
        case token_kind::one: advance = !at_sep; break;
        case token_kind::set:
          advance = !at_sep && t.chars.test(static_cast<unsigned char>(ch)) != t.negate;
          break;
        case token_kind::star:
          if (!at_sep) {
            add_state(toks, next, i);
            any = true;
          }
          break;
        case token_kind::globstar:
          add_state(toks, next, i);
          any = true;
          break;
        case token_kind::skip: break;
      }
      if (advance) {
        add_state(toks, next, i + 1);
        any = true;
      }
    }
    if (!any)
      return false;
    std::swap(cur, next);
  }
  return cur[toks.size()] != 0;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  for (;;) {
    auto end = s.find(sep, begin);
    out.push_back(s.substr(begin, end == s.npos ? s.npos : end - begin));
    if (end == s.npos)
      return out;
    begin = end + 1;
  }
}

// Drops empty and `.` segments; nothing left is the root `.`.
std::string join_segments(std::string_view s) {
  std::string out;
  for (auto seg : split(s, '/')) {
    if (seg.empty() || seg == ".")
      continue;
    if (!out.empty())
      out += '/';
    out += seg;
  }
  return out.empty() ? std::string{"."} : out;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool is_port(std::string_view s) {
  return !s.empty() && s.size() <= 5 && s.find_first_not_of("0123456789") == s.npos;
}

} // namespace

// What compiled_glob shares between copies.
struct glob_program {
  std::vector<token> tokens;
  int sep = -1;
  bool valid = false;
  bool is_path = false;
  bool root_matches = false; ///< path patterns: whether `.` (the root) matches
};

compiled_glob compiled_glob::compile(std::string_view pattern, glob_kind kind) {
  compiled_glob out;
  out.pattern_ = std::string{pattern};
  out.kind_ = kind;
  auto prog = std::make_shared<glob_program>();
  prog->sep = separator_of(kind);
  std::string normalized;
  if (kind == glob_kind::path) {
    normalized = normalize_path_glob(pattern);
    pattern = normalized;
    prog->is_path = true;
    // The root has no name a wildcard could match; only "everything" covers it.
    prog->root_matches = pattern == "." || glob_matches_everything(pattern, kind);
  }
  prog->valid = !pattern.empty() && !compile_tokens(pattern, kind, prog->tokens);
  out.program_ = std::move(prog);
  return out;
}

bool compiled_glob::matches(std::string_view text) const {
  if (!program_)
    return false;
  if (program_->is_path && text == ".")
    return program_->root_matches;
  return program_->valid && run(program_->tokens, text, program_->sep);
}

caf::error check_glob(std::string_view pattern, glob_kind kind) {
  if (pattern.empty())
    return bad("an empty pattern");
  std::vector<token> toks;
  if (auto err = compile_tokens(pattern, kind, toks))
    return err;
  // A path pattern could only match paths no tool accepts when it leaves the
  // workspace by the same rule (core/workspace.hpp).
  if (kind != glob_kind::path || !leaves_workspace(pattern))
    return {};
  return bad(pattern.front() == '/' ? "an absolute path pattern" : "a '..' segment");
}

bool glob_match(std::string_view pattern, std::string_view text, glob_kind kind) {
  return compiled_glob::compile(pattern, kind).matches(text);
}

bool is_literal_glob(std::string_view pattern) {
  return pattern.find_first_of("*?[\\") == pattern.npos;
}

bool glob_matches_everything(std::string_view pattern, glob_kind kind) {
  if (kind == glob_kind::name)
    return all_stars(pattern, 1);
  if (kind == glob_kind::host)
    return all_stars(pattern, 2);
  auto normalized = normalize_path_glob(pattern);
  for (auto seg : split(normalized, '/'))
    if (!all_stars(seg, 2))
      return false;
  return true;
}

std::string normalize_path_glob(std::string_view pattern) {
  return join_segments(pattern);
}

std::optional<std::string> workspace_relative(std::string_view path) {
  if (spelling_fault_of(path) != spelling_fault::none)
    return std::nullopt;
  return join_segments(path);
}

std::optional<std::string> host_of_url(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == url.npos || scheme_end == 0
      || !std::isalpha(static_cast<unsigned char>(url.front())))
    return std::nullopt;
  for (char c : url.substr(0, scheme_end))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
      return std::nullopt;
  auto rest = url.substr(scheme_end + 3);
  auto authority = rest.substr(0, rest.find_first_of("/?#\\"));
  if (auto at = authority.rfind('@'); at != authority.npos)
    authority = authority.substr(at + 1);
  return normalize_host(authority);
}

std::optional<std::string> normalize_host(std::string_view host) {
  std::string h;
  for (char c : host)
    h += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!h.empty() && h.front() == '[') {
    auto close = h.find(']');
    if (close == h.npos || close == 1)
      return std::nullopt;
    auto after = std::string_view{h}.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !is_port(after.substr(1))))
      return std::nullopt;
    auto inner = h.substr(1, close - 1);
    if (inner.find(':') == inner.npos || inner.find_first_not_of("0123456789abcdef:.") != inner.npos)
      return std::nullopt;
    return inner;
  }
  if (auto colon = h.find(':'); colon != h.npos) {
    if (!is_port(std::string_view{h}.substr(colon + 1)))
      return std::nullopt;
    h.resize(colon);
  }
  if (!h.empty() && h.back() == '.')
    h.pop_back();
  if (h.empty() || h.front() == '.' || h.find("..") != h.npos)
    return std::nullopt;
  for (char c : h)
    if (!is_host_char(c))
      return std::nullopt;
  return h;
}

} // namespace troupe
