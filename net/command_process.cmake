# The command provider: its process runner and provider glue in troupe_net.
# net/CMakeLists.txt includes this file after defining troupe_net:
#   include(${CMAKE_CURRENT_LIST_DIR}/command_process.cmake)
target_sources(troupe_net PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/command_process.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/command_spawn.cpp
  ${CMAKE_CURRENT_LIST_DIR}/command_provider.cpp)
# The reply parser and the failure decision are core's (core/providers/).
target_link_libraries(troupe_net PUBLIC troupe::core)
