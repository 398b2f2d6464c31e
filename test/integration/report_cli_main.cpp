#define BOOST_TEST_MODULE report_cli
#include <boost/test/unit_test.hpp>
