#define BOOST_TEST_MODULE command_provider
#include <boost/test/unit_test.hpp>
