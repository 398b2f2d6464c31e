#define BOOST_TEST_MODULE serve_metrics
#include <boost/test/unit_test.hpp>
