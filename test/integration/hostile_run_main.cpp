#define BOOST_TEST_MODULE hostile_run
#include <boost/test/unit_test.hpp>
