#define BOOST_TEST_MODULE mcp_cli
#include <boost/test/unit_test.hpp>
