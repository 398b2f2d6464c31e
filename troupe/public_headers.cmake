# The public headers: what `cmake --install` puts under include/troupe/ and
# the only project headers troupe::runtime's users see (the build copies them
# to ${PROJECT_BINARY_DIR}/include/troupe/, troupe/CMakeLists.txt).
#
# How the list is derived: troupe/runtime.hpp, the embedding API, plus every
# project header it includes ("dir/file.hpp"), transitively. Nothing else is
# public: not detail/, not the actors, the store or the sandbox, not the
# generated Cap'n Proto headers. Paths are relative to the source root and
# keep that shape when installed, so an embedder with include/troupe on its
# include path writes #include "troupe/runtime.hpp".
#
# What guards it: the ctest test `public_headers` (cmake/check_public_headers.cmake)
# recomputes the closure and fails, naming the header, when this list has one
# too many or too few; the in-tree example (examples/) compiles against the
# copies only, and scripts/test-install.sh against an installed package.
set(TROUPE_PUBLIC_HEADERS
  troupe/runtime.hpp
  troupe/runtime_stats.hpp
  core/chat.hpp
  core/mcp/mcp_catalog.hpp
  core/mcp/mcp_types.hpp
  core/model_endpoint.hpp
  core/model_provider.hpp
  core/policy.hpp
  core/run_result.hpp
  core/sandbox_spec.hpp
  core/runtime_errc.hpp
  core/scenario.hpp
  core/tool.hpp
  schemas/errors.hpp
  schemas/event.hpp)
