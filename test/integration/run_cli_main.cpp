#define BOOST_TEST_MODULE run_cli
#include <boost/test/unit_test.hpp>
