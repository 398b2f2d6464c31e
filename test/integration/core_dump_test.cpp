// A process that loaded secrets writes no core file (issue 14, item 9).
// The in-process check: PR_GET_DUMPABLE and RLIMIT_CORE after runtime::create
// with a secrets file. It leaves this test process non-dumpable, which no
// other case depends on.

#include <boost/test/unit_test.hpp>

#include <fstream>

#include <sys/prctl.h>
#include <sys/resource.h>

#include "troupe/runtime.hpp"
#include "schemas/errors.hpp"
#include "test/support/temp_dir.hpp"

using namespace troupe;

BOOST_AUTO_TEST_CASE(loading_a_secrets_file_forbids_core_dumps) {
  test::temp_dir dir{"troupe-core"};
  auto secrets = dir.path / "secrets.env";
  std::ofstream(secrets) << "API_TOKEN=do-not-dump-me\n";
  BOOST_REQUIRE_MESSAGE(prctl(PR_GET_DUMPABLE) == 1,
                        "precondition: the test process starts dumpable");
  runtime_options opts{(dir.path / "j.db").string()};
  opts.secrets_file = secrets.string();
  auto rt = runtime::create(opts);
  BOOST_REQUIRE_MESSAGE(rt, render(rt));
  BOOST_TEST(prctl(PR_GET_DUMPABLE) == 0);
  rlimit core{};
  BOOST_REQUIRE(getrlimit(RLIMIT_CORE, &core) == 0);
  BOOST_TEST(core.rlim_cur == 0u);
  BOOST_TEST(core.rlim_max == 0u);
}
