// In-process multi-rank harness for the test suite.
#include "support/ranks.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace braid::testing {

namespace {

void run(int n, const std::string& transport, const std::vector<std::string>& hostIds,
         const std::function<void(Communicator& comm)>& fn, std::chrono::milliseconds timeout) {
  auto store = makeHashStore();
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      CommOptions o;
      o.store = store;
      o.rank = r;
      o.size = n;
      o.transport = transport;
      if (!hostIds.empty()) o.hostId = hostIds[r];
      o.timeout = timeout;
      auto comm = Communicator::create(o);
      ASSERT_TRUE(comm.isOk()) << "rank " << r << ": " << comm.status().toString();
      fn(**comm);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace

void runRanks(int n, const std::string& transport,
              const std::function<void(Communicator& comm)>& fn,
              std::chrono::milliseconds timeout) {
  run(n, transport, {}, fn, timeout);
}

void runRanksOnHosts(const std::vector<std::string>& hostIds,
                     const std::function<void(Communicator& comm)>& fn,
                     std::chrono::milliseconds timeout) {
  run(static_cast<int>(hostIds.size()), "", hostIds, fn, timeout);
}

}  // namespace braid::testing
