# `cmake --install build --prefix P` makes troupe a CMake package:
#   P/include/troupe/...          the public headers (troupe/public_headers.cmake)
#   P/lib/libtroupe_*.a           every layer: troupe_runtime is static and needs them
#   P/lib/cmake/troupe/           troupeConfig.cmake (+ Version, Targets, FindCAF.cmake)
#   P/bin/troupe, troupe-sandbox-worker   the console, and the shell tool's
#                                 worker (the runtime looks for it on PATH)
# so that `find_package(troupe)` gives troupe::runtime (docs/embedding.md).
# scripts/test-install.sh installs into a temporary prefix and builds
# examples/embed against it.
include(CMakePackageConfigHelpers)

set(TROUPE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/troupe")
set(troupe_layers troupe_schemas troupe_core troupe_persistence troupe_sandbox troupe_net
                  troupe_mcp troupe_actors troupe_runtime)
foreach(layer IN LISTS troupe_layers)
  string(REPLACE "troupe_" "" export_name "${layer}")
  set_target_properties(${layer} PROPERTIES EXPORT_NAME ${export_name})
endforeach()

install(TARGETS ${troupe_layers} EXPORT troupeTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(TARGETS troupe troupe-sandbox-worker
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")

include("${PROJECT_SOURCE_DIR}/troupe/public_headers.cmake")
foreach(header IN LISTS TROUPE_PUBLIC_HEADERS)
  get_filename_component(header_dir "${header}" DIRECTORY)
  install(FILES "${PROJECT_SOURCE_DIR}/${header}"
    DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/troupe/${header_dir}")
endforeach()

install(EXPORT troupeTargets NAMESPACE troupe::
  DESTINATION "${TROUPE_INSTALL_CMAKEDIR}")
configure_package_config_file(cmake/troupeConfig.cmake.in
  "${PROJECT_BINARY_DIR}/troupeConfig.cmake"
  INSTALL_DESTINATION "${TROUPE_INSTALL_CMAKEDIR}")
# 0.x: a new minor version may break the API.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/troupeConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/troupeConfig.cmake"
  "${PROJECT_BINARY_DIR}/troupeConfigVersion.cmake"
  cmake/FindCAF.cmake
  DESTINATION "${TROUPE_INSTALL_CMAKEDIR}")
