#pragma once
// The dashboard's static files (serve/dashboard/), built into the binary by
// cmake/embed_assets.cmake: the server reads no file and needs no CDN.

#include <string_view>

namespace troupe::serve {

struct dashboard_asset {
  std::string_view path;         ///< under serve/dashboard/, e.g. "app.js"
  std::string_view content_type;
  std::string_view etag;         ///< quoted, from the file's SHA-256
  std::string_view body;
};

/// The file at `path` (relative to serve/dashboard/); nothing when there is none.
[[nodiscard]] const dashboard_asset* find_dashboard_asset(std::string_view path);

} // namespace troupe::serve
