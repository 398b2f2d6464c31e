#include "core/envelope.hpp"

#include <algorithm>
#include <set>
#include <vector>

#include "core/json_schema.hpp"
#include "schemas/errors.hpp"

namespace troupe {

namespace {

using json = nlohmann::json;

caf::error invalid(std::string msg) {
  return caf::make_error(runtime_errc::invalid_arguments, std::move(msg));
}

// Length of the well-formed UTF-8 sequence starting at `s[i]`, or 0 when it
// is ill-formed (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto in = [&](size_t k, unsigned lo, unsigned hi) {
    return k < s.size() && byte(k) >= lo && byte(k) <= hi;
  };
  unsigned c = byte(i);
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return in(i + 1, 0x80, 0xBF) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80; // E0: no overlong forms
    unsigned hi = c == 0xED ? 0x9F : 0xBF; // ED: no UTF-16 surrogates
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = c == 0xF0 ? 0x90 : 0x80; // F0: no overlong forms
    unsigned hi = c == 0xF4 ? 0x8F : 0xBF; // F4: nothing above U+10FFFF
    return in(i + 1, lo, hi) && in(i + 2, 0x80, 0xBF) && in(i + 3, 0x80, 0xBF)
             ? 4
             : 0;
  }
  return 0;
}

// Model-provided text (a tool name, a JSON snippet) as it may appear in an
// error message: escaped, and long text cut.
std::string printable(std::string_view name) {
  return escape_unprintable(name, 64);
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty())
      out += ", ";
    out += n;
  }
  return out.empty() ? "(none)" : out;
}

std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key)
    out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}

// What the parse callback saw that the parser itself accepts but we do not.
struct parse_findings {
  bool too_deep = false;
  std::string duplicate_key;
};

// Parses `text`; nlohmann's exception stops here and becomes an error with
// the byte position. Duplicate keys are found while parsing because the
// resulting object silently keeps only one of them.
caf::expected<json> parse_arguments(std::string_view text, const std::string& tool) {
  parse_findings findings;
  std::vector<std::set<std::string>> open_objects;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        [[fallthrough]];
      case json::parse_event_t::array_start:
        if (depth >= max_argument_depth)
          findings.too_deep = true;
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty())
          open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string()
            && !open_objects.back().insert(parsed.get<std::string>()).second
            && findings.duplicate_key.empty())
          findings.duplicate_key = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  json result;
  try {
    result = json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1,
    // column 5: <reason>"; keep the reason, report the byte ourselves.
    // e.byte counts from 1 and points at the last byte the parser read,
    // which is the end of the offending token; the snippet before it shows
    // the model what to fix.
    std::string what = e.what();
    auto colon = what.find(": ");
    auto reason = colon == std::string::npos ? what : what.substr(colon + 2);
    constexpr size_t snippet_bytes = 24;
    auto end = std::min(e.byte, text.size());
    auto begin = end > snippet_bytes ? end - snippet_bytes : 0;
    return invalid("arguments of '" + tool + "' are not valid JSON at byte "
                   + std::to_string(e.byte) + ": " + reason + " (near '"
                   + printable(text.substr(begin, end - begin)) + "')");
  } catch (const json::out_of_range& e) {
    // A number beyond double range ("1e999"); nlohmann refuses it rather than
    // storing infinity, which would be dumped as null.
    std::string what = e.what();
    auto bracket = what.find("] ");
    return invalid("arguments of '" + tool + "' are not valid JSON: "
                   + (bracket == std::string::npos ? what : what.substr(bracket + 2)));
  } catch (const std::exception& e) {
    return invalid("arguments of '" + tool + "' could not be parsed: " + e.what());
  }
  if (findings.too_deep)
    return invalid("arguments of '" + tool + "' nest deeper than "
                   + std::to_string(max_argument_depth) + " levels");
  if (!findings.duplicate_key.empty())
    return invalid("arguments of '" + tool + "' are ambiguous: property '"
                   + printable(findings.duplicate_key)
                   + "' appears more than once in the same object");
  return result;
}

// Sanitizes every string in `value` in place. Object keys are checked but
// never rewritten: silently renaming a key could merge two properties.
caf::error sanitize_tree(json& value, const std::string& ptr) {
  auto shown = [&] { return ptr.empty() ? std::string{"/"} : ptr; };
  if (value.is_string()) {
    auto clean = sanitize_text(value.get_ref<const std::string&>());
    if (!clean)
      return invalid(shown() + ": " + render(clean.error()));
    value = std::move(*clean);
    return caf::none;
  }
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      if (auto err = sanitize_tree(value[i], ptr + "/" + std::to_string(i)))
        return err;
    return caf::none;
  }
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      auto clean_key = sanitize_text(it.key());
      if (!clean_key || *clean_key != it.key())
        return invalid(shown() + ": property name '" + printable(it.key())
                       + "' contains control characters or invalid UTF-8");
      if (auto err = sanitize_tree(it.value(), ptr + "/" + pointer_token(it.key())))
        return err;
    }
  }
  return caf::none;
}

bool all_whitespace(std::string_view text) {
  for (char c : text)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      return false;
  return true;
}

} // namespace

caf::expected<std::string> sanitize_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == 0)
      return invalid("contains a NUL character at byte " + std::to_string(i));
    auto n = utf8_sequence_length(text, i);
    if (n == 0)
      return invalid("is not valid UTF-8 at byte " + std::to_string(i));
    bool dropped = c < 0x20 && c != '\t' && c != '\n' && c != '\r';
    if (!dropped)
      out.append(text.data() + i, n);
    i += n;
  }
  return out;
}

caf::expected<json> prepare_call(const tool_registry& registry,
                                 std::string_view tool_name,
                                 std::string_view args_json) {
  const auto* def = registry.find(tool_name);
  if (def == nullptr)
    return caf::make_error(runtime_errc::unknown_tool,
                           "unknown tool '" + printable(tool_name)
                             + "'; known tools: " + join_names(registry.names()));
  const auto& tool = def->name;
  if (args_json.size() > max_argument_bytes)
    return invalid("arguments of '" + tool + "' are " + std::to_string(args_json.size())
                   + " bytes, over the limit of " + std::to_string(max_argument_bytes)
                   + " bytes");
  auto args = all_whitespace(args_json) ? caf::expected<json>{json::object()}
                                        : parse_arguments(args_json, tool);
  if (!args)
    return std::move(args.error());
  if (auto err = sanitize_tree(*args, ""))
    return invalid("arguments of '" + tool + "': " + render(err));
  if (auto err = validate_json(def->parameters, *args))
    return invalid("arguments of '" + tool + "' do not match its schema: "
                   + render(err));
  return args;
}

std::string escape_unprintable(std::string_view text, size_t max_shown) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  if (text.size() > max_shown)
    out += "...";
  return out;
}

} // namespace troupe
