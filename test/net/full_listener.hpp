#pragma once
// A listener that never accepts, its accept queue full: the kernel drops
// further SYNs, so a connect to it hangs as it would towards a silent host
// (what a connect timeout needs, without depending on the network).

#include <cstdint>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

namespace troupe::test {

struct full_listener {
  int fd = -1;
  std::vector<int> fillers;
  uint16_t port = 0;

  full_listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    BOOST_REQUIRE(::listen(fd, 0) == 0);
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    // Connect until one connect hangs (SO_SNDTIMEO bounds it): the queue is full.
    timeval bound{0, 200000};
    for (int i = 0; i < 16; ++i) {
      int c = ::socket(AF_INET, SOCK_STREAM, 0);
      ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
      fillers.push_back(c);
      if (::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return;
    }
    BOOST_FAIL("the accept queue never filled");
  }
  full_listener(const full_listener&) = delete;
  full_listener& operator=(const full_listener&) = delete;
  ~full_listener() {
    for (int c : fillers)
      ::close(c);
    ::close(fd);
  }
};

} // namespace troupe::test
