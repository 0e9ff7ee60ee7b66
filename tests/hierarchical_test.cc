// Hierarchical collectives on simulated hosts (CommOptions::hostId: shared memory within a
// host, TCP between hosts), forced, with exact inputs compared at zero tolerance: layouts 2x2,
// 3x2, 2x3 and an interleaved 2x2 (ranks of a host not consecutive), counts 0, 1, odd and large,
// sampled dtypes and ops, in place and out of place. Also: hierarchical is offered and forceable
// only where every host has the same number of ranks, and says so clearly otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <tuple>
#include <vector>

#include "exact_data.h"
#include "params.h"
#include "support/ranks.h"

namespace braid {
namespace {

using testing::runRanksOnHosts;
using K = CollectiveKind;

const std::vector<size_t> kCounts = {0, 1, 7, 1023, 200003};

struct Case {
  const char* name;
  std::vector<std::string> hosts;  // host id per rank
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class Hierarchical : public ::testing::TestWithParam<Case> {};

// (dtype, op) pairs: every dtype once and every op at least twice, over few combinations.
std::vector<std::pair<DataType, ReduceOp>> sampledTypesAndOps() {
  std::vector<std::pair<DataType, ReduceOp>> v;
  for (int t = 0; t < kNumDataTypes; ++t) {
    v.emplace_back(static_cast<DataType>(t), static_cast<ReduceOp>(t % kNumReduceOps));
  }
  v.emplace_back(DataType::kFloat32, ReduceOp::kAvg);
  v.emplace_back(DataType::kBfloat16, ReduceOp::kProd);
  return v;
}

std::string where(const char* what, DataType t, ReduceOp o, size_t count, bool inPlace, int r) {
  return std::string(what) + " " + std::string(toString(t)) + " " + std::string(toString(o)) +
         " count=" + std::to_string(count) + (inPlace ? " in-place" : " out-of-place") +
         " rank=" + std::to_string(r);
}

// allReduce of count exact inputs (one spare byte past the end) compared at zero tolerance.
void expectExactAllReduce(Communicator& comm, DataType t, ReduceOp o, size_t count, bool inPlace) {
  const int n = comm.size(), r = comm.rank();
  const size_t es = dataTypeSize(t);
  std::vector<uint8_t> send(count * es + 1), recv(count * es + 1), want(count * es + 1);
  exact::fillInput(send.data(), count, t, o, r, n);
  exact::fillReduced(want.data(), count, t, o, n);
  uint8_t* out = inPlace ? send.data() : recv.data();
  Status s = comm.allReduce(send.data(), out, count, t, o);
  ASSERT_TRUE(s.isOk()) << where("allReduce", t, o, count, inPlace, r) << s.toString();
  ASSERT_EQ(exact::countMismatches(out, want.data(), count, t), 0u)
      << where("allReduce", t, o, count, inPlace, r);
}

TEST_P(Hierarchical, ExactForEveryCollectiveCountAndPlacement) {
  runRanksOnHosts(GetParam().hosts, [&](Communicator& comm) {
    for (K kind : {K::kAllReduce, K::kReduceScatter, K::kAllGather, K::kBroadcast}) {
      auto names = comm.algorithms(kind);
      ASSERT_NE(std::find(names.begin(), names.end(), "hierarchical"), names.end());
      ASSERT_TRUE(comm.setAlgorithm(kind, "hierarchical").isOk());
      ASSERT_EQ(comm.algorithmFor(kind, 1000, DataType::kFloat32), "hierarchical");
    }
    const int n = comm.size(), r = comm.rank();
    const auto pairs = sampledTypesAndOps();
    for (size_t count : kCounts) {
      for (size_t pair = 0; pair < pairs.size(); ++pair) {
        // The large count with two pairs only: CI time.
        if (count > 100000 && pair % 5 != 0) continue;
        const auto [t, o] = pairs[pair];
        const size_t es = dataTypeSize(t);
        for (bool inPlace : {false, true}) {
          expectExactAllReduce(comm, t, o, count, inPlace);
          if (::testing::Test::HasFatalFailure()) return;
          std::vector<uint8_t> send(count * es + 1), recv(count * es + 1), want(count * es + 1);
          uint8_t* out = nullptr;
          Status s;

          // reduceScatter and allGather move n blocks: a smaller large case.
          const size_t per = count > 100000 ? count / 16 + 1 : count;
          std::vector<uint8_t> all(per * n * es + 1), block(per * es + 1), ref(per * n * es + 1);
          exact::fillInput(all.data(), per * n, t, o, r, n);
          exact::fillReduced(ref.data(), per, t, o, n, per * r);
          uint8_t* rsOut = inPlace ? all.data() + per * r * es : block.data();
          s = comm.reduceScatter(all.data(), rsOut, per, t, o);
          ASSERT_TRUE(s.isOk()) << where("reduceScatter", t, o, per, inPlace, r) << s.toString();
          ASSERT_EQ(exact::countMismatches(rsOut, ref.data(), per, t), 0u)
              << where("reduceScatter", t, o, per, inPlace, r);

          for (int b = 0; b < n; ++b) {
            exact::fillInput(ref.data() + per * b * es, per, t, ReduceOp::kSum, b, n);
          }
          std::memset(all.data(), 0xA5, all.size());
          exact::fillInput(block.data(), per, t, ReduceOp::kSum, r, n);
          const uint8_t* agIn = block.data();
          if (inPlace) {
            std::memcpy(all.data() + per * r * es, block.data(), per * es);
            agIn = all.data() + per * r * es;
          }
          s = comm.allGather(agIn, all.data(), per, t);
          ASSERT_TRUE(s.isOk()) << where("allGather", t, o, per, inPlace, r) << s.toString();
          ASSERT_EQ(exact::countMismatches(all.data(), ref.data(), per * n, t), 0u)
              << where("allGather", t, o, per, inPlace, r);

          // broadcast from a root that moves with the count and the placement.
          const int root = static_cast<int>((count + (inPlace ? 1 : 0)) % n);
          exact::fillInput(want.data(), count, t, ReduceOp::kMin, root, n);
          std::memset(send.data(), 0, send.size());
          std::memset(recv.data(), 0x5A, recv.size());
          if (r == root) exact::fillInput(send.data(), count, t, ReduceOp::kMin, root, n);
          out = inPlace ? send.data() : recv.data();
          s = comm.broadcast(send.data(), out, count, t, root);
          ASSERT_TRUE(s.isOk()) << where("broadcast", t, o, count, inPlace, r) << s.toString();
          ASSERT_EQ(exact::countMismatches(out, want.data(), count, t), 0u)
              << where("broadcast", t, o, count, inPlace, r) << " root=" << root;
        }
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Layouts, Hierarchical,
                         ::testing::Values(Case{"2x2", {"a", "a", "b", "b"}},
                                           Case{"3x2", {"a", "a", "b", "b", "c", "c"}},
                                           Case{"2x3", {"a", "a", "a", "b", "b", "b"}},
                                           Case{"2x2_interleaved", {"a", "b", "a", "b"}},
                                           Case{"3x1", {"a", "b", "c"}}),
                         [](const auto& param) { return std::string(param.param.name); });

// Buffers of 8 MiB and more go in pieces whose host-local steps overlap the next piece's
// exchange across hosts; piece and block sizes that do not divide evenly must still be exact.
class HierarchicalPieces : public ::testing::TestWithParam<Case> {};

TEST_P(HierarchicalPieces, LargeAllReducesInUnevenPiecesAreExact) {
  runRanksOnHosts(GetParam().hosts, [&](Communicator& comm) {
    ASSERT_TRUE(comm.setAlgorithm(K::kAllReduce, "hierarchical").isOk());
    // 12 MiB + a few elements: 3 pieces of unequal blocks (4-byte types), 3 of 1-byte ones.
    for (auto [t, o, count] : {std::tuple{DataType::kFloat32, ReduceOp::kSum, size_t{3145733}},
                               std::tuple{DataType::kInt8, ReduceOp::kMax, size_t{12582917}}}) {
      for (bool inPlace : {false, true}) expectExactAllReduce(comm, t, o, count, inPlace);
    }
  });
}

// 2 hosts x 3 interleaved ranks, and 3 hosts x 2 (a cross stage of three ranks).
INSTANTIATE_TEST_SUITE_P(Layouts, HierarchicalPieces,
                         ::testing::Values(Case{"2x3_interleaved", {"a", "b", "a", "b", "a", "b"}},
                                           Case{"3x2", {"a", "a", "b", "b", "c", "c"}}),
                         [](const auto& param) { return std::string(param.param.name); });

// Ranks that disagree about a hierarchical call fail (naming the disagreement) instead of hanging
// or mixing data, also when the failure surfaces inside a stage: rank 3 passes countOnRank3
// floats, the others count.
void expectDisagreementFails(size_t count, size_t countOnRank3) {
  runRanksOnHosts(
      {"a", "a", "b", "b"},
      [&](Communicator& comm) {
        ASSERT_TRUE(comm.setAlgorithm(K::kAllReduce, "hierarchical").isOk());
        const size_t mine = comm.rank() == 3 ? countOnRank3 : count;
        std::vector<float> buf(mine, 1.0f);
        Status s = comm.allReduce(buf.data(), buf.data(), mine, DataType::kFloat32, ReduceOp::kSum);
        EXPECT_FALSE(s.isOk());
        EXPECT_NE(s.message().find("disagree"), std::string::npos) << s.toString();
      },
      std::chrono::milliseconds(20000));
}

TEST(HierarchicalErrors, DisagreeingRanksFail) { expectDisagreementFails(70000, 70001); }

// The same in the pieced path: 8 MiB (2 pieces) against 12 MiB (3 pieces).
TEST(HierarchicalErrors, DisagreeingRanksFailInPieces) {
  expectDisagreementFails(size_t{2} << 20, size_t{3} << 20);
}

// With ranks on one host, or hosts with different numbers of ranks, hierarchical is not offered
// and forcing it fails clearly.
TEST(HierarchicalAvailability, OnlyWithEqualRanksPerHost) {
  for (const std::vector<std::string>& hosts :
       {std::vector<std::string>{"a", "a", "b"}, std::vector<std::string>{"a", "a", "a"}}) {
    runRanksOnHosts(hosts, [&](Communicator& comm) {
      auto names = comm.algorithms(K::kAllReduce);
      EXPECT_EQ(std::find(names.begin(), names.end(), "hierarchical"), names.end());
      Status s = comm.setAlgorithm(K::kAllReduce, "hierarchical");
      EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.toString();
      EXPECT_NE(s.message().find("same number of ranks"), std::string::npos) << s.message();
      EXPECT_NE(comm.algorithmFor(K::kAllReduce, 1 << 20, DataType::kFloat32), "hierarchical");
      // The communicator still works.
      float x = 1, y = 0;
      EXPECT_TRUE(comm.allReduce(&x, &y, 1, DataType::kFloat32, ReduceOp::kSum).isOk());
      EXPECT_EQ(y, static_cast<float>(comm.size()));
    });
  }
}

TEST(HierarchicalAvailability, ForcedThroughTheEnvironmentFailsCreation) {
  setenv("BRAID_ALGO", "allreduce:hierarchical", 1);
  reloadParams();
  auto store = makeHashStore();
  const std::vector<std::string> hosts = {"a", "a", "b"};
  std::vector<Status> results(hosts.size());
  std::vector<std::thread> threads;
  for (int r = 0; r < static_cast<int>(hosts.size()); ++r) {
    threads.emplace_back([&, r] {
      CommOptions o;
      o.store = store;
      o.rank = r;
      o.size = static_cast<int>(hosts.size());
      o.hostId = hosts[r];
      o.timeout = std::chrono::milliseconds(20000);
      auto comm = Communicator::create(o);
      results[r] = comm.status();
    });
  }
  for (auto& t : threads) t.join();
  unsetenv("BRAID_ALGO");
  reloadParams();
  for (const Status& s : results) {
    EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.toString();
    EXPECT_NE(s.message().find("hierarchical needs ranks on more than one host"), std::string::npos)
        << s.message();
  }
}

}  // namespace
}  // namespace braid
