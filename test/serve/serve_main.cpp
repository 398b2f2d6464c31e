#define BOOST_TEST_MODULE serve
#include <cstdio>

#include <boost/test/unit_test.hpp>

// The exchanges of this run only: the contract check reads what we record.
struct fresh_contract_log {
  fresh_contract_log() { std::remove(TROUPE_CONTRACT_LOG); }
};
BOOST_TEST_GLOBAL_FIXTURE(fresh_contract_log);
