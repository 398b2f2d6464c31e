#define BOOST_TEST_MODULE serve_fanout
#include <boost/test/unit_test.hpp>
