# The command provider's process runner and provider glue, added to
# troupe_net by net/CMakeLists.txt (include(${CMAKE_CURRENT_LIST_DIR}/command_process.cmake)).
target_sources(troupe_net PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/command_process.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/command_spawn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/command_provider.cpp)
