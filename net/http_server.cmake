# The HTTP/1.1 server with Server-Sent Events that `troupe serve` puts its
# API on (http_server.hpp): Boost.Beast on Asio, header-only, a strand per
# connection and no thread per connection. Its public headers hold no Boost
# types. net/CMakeLists.txt includes this file after defining troupe_net.
target_sources(troupe_net PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/http_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/responder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sse_stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/server_types.cpp
  ${CMAKE_CURRENT_LIST_DIR}/problem.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/listener.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/server_connection.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/server_connection_stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/response_build.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/request_target.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/request_checks.cpp
  ${CMAKE_CURRENT_LIST_DIR}/detail/sse_format.cpp)
# problem.hpp takes an nlohmann::json. Boost is header-only here and no
# public header includes it: a build-time dependency only, so the installed
# package (cmake/troupeConfig.cmake.in) does not need to find Boost.
target_link_libraries(troupe_net
  PUBLIC nlohmann_json::nlohmann_json
  PRIVATE $<BUILD_INTERFACE:Boost::headers>)
