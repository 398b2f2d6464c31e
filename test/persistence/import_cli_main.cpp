#define BOOST_TEST_MODULE import_cli
#include <boost/test/unit_test.hpp>
