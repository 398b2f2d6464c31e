#define BOOST_TEST_MODULE serve_store
#include <boost/test/unit_test.hpp>
