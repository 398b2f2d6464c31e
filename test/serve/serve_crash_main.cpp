#define BOOST_TEST_MODULE serve_crash
#include <boost/test/unit_test.hpp>
