// The tuner's cost model as pure functions (costs grow with size; latency-optimal picks for tiny
// calls, bandwidth-optimal for large ones; hierarchical when slow inter-host links dominate;
// the same inputs give the same choice), and the tuner inside communicators: every rank decides
// alike, with the defaults and with BRAID_TUNE_PROBE=1, and one host keeps the choices that
// measured best before the model (docs/results/2026-11-22-cpu-4ranks).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "algorithm_choice.h"
#include "cost_model.h"
#include "params.h"
#include "support/ranks.h"

namespace braid {
namespace {

using K = CollectiveKind;

struct NamedShape {
  const char* name;
  CommShape shape;
};

CommShape shapeFor(const std::vector<std::string>& hosts, LinkClass local, size_t arena = 0) {
  return shapeOf(commTopologyFromHostIds(hosts), local, LinkClass::kTcp, arena);
}

std::vector<NamedShape> shapes() {
  return {
      {"shm 4 ranks with arena", shapeFor({"a", "a", "a", "a"}, LinkClass::kShm, 1 << 20)},
      {"tcp 8 ranks", shapeFor(std::vector<std::string>(8, "a"), LinkClass::kTcp)},
      {"tcp 7 ranks", shapeFor(std::vector<std::string>(7, "a"), LinkClass::kTcp)},
      {"4 hosts x 2", shapeFor({"a", "a", "b", "b", "c", "c", "d", "d"}, LinkClass::kShm)},
      {"3 hosts x 2 interleaved", shapeFor({"a", "b", "c", "a", "b", "c"}, LinkClass::kShm)},
      {"2 hosts, 2 + 1", shapeFor({"a", "a", "b"}, LinkClass::kShm)},
  };
}

// Every algorithm the model knows, including those the registry may not have yet.
const std::vector<std::pair<K, std::vector<std::string>>>& allFormulas() {
  static const std::vector<std::pair<K, std::vector<std::string>>> v = {
      {K::kAllReduce,
       {"ring", "oneshot", "shm-oneshot", "shm-twoshot", "tree", "halving-doubling",
        "recursive-doubling", "hierarchical"}},
      {K::kReduceScatter, {"ring", "halving-doubling", "hierarchical"}},
      {K::kAllGather, {"ring", "halving-doubling", "hierarchical"}},
      {K::kBroadcast, {"chain", "binomial", "tree", "hierarchical"}},
      {K::kReduce, {"chain", "binomial", "tree"}},
      {K::kAllToAll, {"pairwise"}},
  };
  return v;
}

std::vector<size_t> sizes() {
  std::vector<size_t> v = {0, 1, 3, 7};
  for (size_t b = 8; b <= (size_t{1} << 30); b *= 2) {
    v.push_back(b);
    v.push_back(b + b / 3 + 1);
  }
  return v;
}

TEST(CostModel, CostsGrowWithSize) {
  const CostModel m = defaultCostModel();
  for (const auto& [name, shape] : shapes()) {
    for (const auto& [kind, algos] : allFormulas()) {
      for (const std::string& a : algos) {
        double previous = -1;
        for (size_t bytes : sizes()) {
          double t = predictUs(m, kind, a, bytes, shape);
          ASSERT_FALSE(std::isnan(t)) << name << " " << toString(kind) << " " << a;
          ASSERT_GE(t, 0) << name << " " << toString(kind) << " " << a;
          ASSERT_GE(t, previous) << name << " " << toString(kind) << " " << a << " at " << bytes;
          previous = t;
        }
        // Where it can run at all, larger calls cost strictly more in the end.
        double small = predictUs(m, kind, a, 8, shape);
        double large = predictUs(m, kind, a, size_t{1} << 30, shape);
        if (std::isfinite(small)) {
          ASSERT_GT(large, small) << name << " " << a;
        }
      }
    }
  }
}

TEST(CostModel, UnknownNamesAndImpossibleShapesAreNeverChosen) {
  const CostModel m = defaultCostModel();
  const CommShape oneHost = shapeFor({"a", "a", "a", "a"}, LinkClass::kShm);
  EXPECT_TRUE(std::isinf(predictUs(m, K::kAllReduce, "no-such", 8, oneHost)));
  EXPECT_TRUE(std::isinf(predictUs(m, K::kAllReduce, "shm-twoshot", 8, oneHost)));  // no arena
  EXPECT_TRUE(std::isinf(predictUs(m, K::kAllReduce, "hierarchical", 8, oneHost)));
  EXPECT_TRUE(std::isinf(
      predictUs(m, K::kAllReduce, "hierarchical", 8, shapeFor({"a", "a", "b"}, LinkClass::kShm))));
  const CommShape arena = shapeFor({"a", "a", "a", "a"}, LinkClass::kShm, 4096);
  EXPECT_TRUE(std::isfinite(predictUs(m, K::kAllReduce, "shm-oneshot", 4096, arena)));
  EXPECT_TRUE(std::isinf(predictUs(m, K::kAllReduce, "shm-oneshot", 4097, arena)));
  EXPECT_EQ(bestOf(m, K::kAllReduce, 8, oneHost, {"no-such"}).algorithm, "");
}

TEST(CostModel, LatencyOptimalForTinyBandwidthOptimalForLarge) {
  const CostModel m = defaultCostModel();
  const std::vector<std::string> flat = {"ring", "oneshot", "tree", "halving-doubling"};
  for (const auto& [name, shape] : shapes()) {
    SCOPED_TRACE(name);
    // Tiny: one round of messages beats 2(n-1) ring steps and 2 log n tree steps.
    auto tiny = bestOf(m, K::kAllReduce, 8, shape, flat);
    EXPECT_EQ(tiny.algorithm, "oneshot");
    EXPECT_LT(tiny.us, predictUs(m, K::kAllReduce, "ring", 8, shape));
    // log2 n hops instead of n-1 (equal for n = 3).
    if (shape.ranks >= 4) {
      EXPECT_EQ(bestOf(m, K::kBroadcast, 8, shape, {"chain", "binomial"}).algorithm, "binomial");
    }
    // Large: an algorithm that moves 2(n-1)/n of the buffer per rank, never one-shot's n-1
    // buffers or the tree's 2.
    auto large = bestOf(m, K::kAllReduce, size_t{256} << 20, shape, flat);
    EXPECT_TRUE(large.algorithm == "ring" || large.algorithm == "halving-doubling")
        << large.algorithm;
    EXPECT_EQ(bestOf(m, K::kBroadcast, size_t{256} << 20, shape, {"chain", "binomial"}).algorithm,
              "chain");
  }
  // With an arena on one host: one-shot through it for tiny, two-shot for large.
  const CommShape arena = shapeFor({"a", "a", "a", "a"}, LinkClass::kShm, 1 << 20);
  const std::vector<std::string> all = {"ring", "oneshot", "shm-oneshot", "shm-twoshot"};
  EXPECT_EQ(bestOf(m, K::kAllReduce, 8, arena, all).algorithm, "shm-oneshot");
  EXPECT_EQ(bestOf(m, K::kAllReduce, size_t{64} << 20, arena, all).algorithm, "shm-twoshot");
}

TEST(CostModel, PipelinedAlgorithmsGetAChunkThatGrowsWithSize) {
  const CostModel m = defaultCostModel();
  const CommShape shape = shapeFor(std::vector<std::string>(16, "a"), LinkClass::kTcp);
  size_t small = 0, large = 0;
  predictUs(m, K::kAllReduce, "tree", 64 << 10, shape, &small);
  predictUs(m, K::kAllReduce, "tree", size_t{256} << 20, shape, &large);
  EXPECT_GT(small, 0u);
  EXPECT_GT(large, small);
  size_t none = 1;
  predictUs(m, K::kAllReduce, "ring", 1 << 20, shape, &none);
  EXPECT_EQ(none, 0u);
}

TEST(CostModel, HierarchicalWhenSlowInterHostLinksDominate) {
  CostModel m = defaultCostModel();
  m.link(LinkClass::kTcp).alphaUs = 50;
  m.link(LinkClass::kTcp).betaUsPerByte = 1.0 / 125.0;  // 1 Gbit/s per host
  const CommShape shape = shapeFor({"a", "a", "b", "b", "c", "c", "d", "d"}, LinkClass::kShm);
  for (const auto& [kind, algos] : allFormulas()) {
    if (kind != K::kAllReduce && kind != K::kReduceScatter && kind != K::kAllGather) continue;
    for (size_t bytes : {size_t{1} << 20, size_t{16} << 20, size_t{256} << 20}) {
      auto best = bestOf(m, kind, bytes, shape, algos);
      EXPECT_EQ(best.algorithm, "hierarchical") << toString(kind) << " " << bytes;
    }
  }
  // Its advantage is the inter-host traffic: (H-1)/H instead of (n-1)/n of the data per host
  // link, so at large sizes it beats the flat ring by about that ratio.
  const double ring = predictUs(m, K::kAllReduce, "ring", size_t{256} << 20, shape);
  const double hier = predictUs(m, K::kAllReduce, "hierarchical", size_t{256} << 20, shape);
  EXPECT_LT(hier, ring * 0.95);
  // A broadcast crosses hosts once per host either way; hierarchical wins on latency.
  EXPECT_EQ(
      bestOf(m, K::kBroadcast, 64 << 10, shape, {"chain", "binomial", "hierarchical"}).algorithm,
      "hierarchical");
}

// LogP's o: with messages that cost mostly CPU (veth, oversubscribed cores), a one-shot that
// sends 7 messages at once loses to the hierarchical allReduce's few messages per rank, which
// the plain alpha-beta model cannot see (docs/results/2026-11-22-netns/probe-auto).
TEST(CostModel, PerMessageOverheadChargesManyMessagesPerStep) {
  CostModel m = defaultCostModel();
  m.link(LinkClass::kTcp).alphaUs = 100;
  m.link(LinkClass::kTcp).betaUsPerByte = 1.0 / 125.0;
  const CommShape shape = shapeFor({"a", "a", "b", "b", "c", "c", "d", "d"}, LinkClass::kShm);
  const std::vector<std::string> algos = {"ring", "oneshot", "tree", "halving-doubling",
                                          "hierarchical"};
  m.link(LinkClass::kTcp).overheadUs = 0;
  const double cheap = predictUs(m, K::kAllReduce, "oneshot", 8, shape);
  EXPECT_EQ(bestOf(m, K::kAllReduce, 8, shape, algos).algorithm, "oneshot");
  m.link(LinkClass::kTcp).overheadUs = 40;
  // 6 remote messages per rank (and 1 local): 5 remote overheads beyond alpha.
  EXPECT_DOUBLE_EQ(predictUs(m, K::kAllReduce, "oneshot", 8, shape), cheap + 5 * 40);
  EXPECT_EQ(bestOf(m, K::kAllReduce, 8, shape, algos).algorithm, "hierarchical");
}

TEST(CostModel, SameInputsSameChoice) {
  const CostModel a = defaultCostModel(), b = defaultCostModel();
  for (const auto& [name, shape] : shapes()) {
    CommShape copy = shape;
    for (const auto& [kind, algos] : allFormulas()) {
      for (size_t bytes : sizes()) {
        auto x = bestOf(a, kind, bytes, shape, algos);
        auto y = bestOf(b, kind, bytes, copy, algos);
        ASSERT_EQ(x.algorithm, y.algorithm) << name;
        ASSERT_EQ(x.chunkBytes, y.chunkBytes) << name;
        ASSERT_EQ(std::memcmp(&x.us, &y.us, sizeof(double)), 0) << name;
      }
    }
  }
}

// The model keeps the one-host choices that measured best: shm one-shot up to 16 KiB and two-shot
// from 32 KiB on 4 ranks; over TCP recursive doubling for tiny (session 5, 4 ranks, median of 3:
// 90 us at 8 B against one-shot's 142) and ring for large.
TEST(Tuner, OneHostChoicesMatchTheMeasurements) {
  testing::runRanks(4, "shm", [](Communicator& comm) {
    for (size_t b : {size_t{8}, size_t{2} << 10, size_t{16} << 10}) {
      EXPECT_EQ(comm.algorithmFor(K::kAllReduce, b / 4, DataType::kFloat32), "shm-oneshot") << b;
    }
    for (size_t b : {size_t{32} << 10, size_t{1} << 20, size_t{128} << 20}) {
      EXPECT_EQ(comm.algorithmFor(K::kAllReduce, b / 4, DataType::kFloat32), "shm-twoshot") << b;
    }
    double t = comm.predictedTimeUs(K::kAllReduce, 2, DataType::kFloat32);
    EXPECT_GT(t, 0);
    EXPECT_LT(t, 100);
  });
  testing::runRanks(4, "tcp", [](Communicator& comm) {
    EXPECT_EQ(comm.algorithmFor(K::kAllReduce, 2, DataType::kFloat32), "recursive-doubling");
    EXPECT_EQ(comm.algorithmFor(K::kAllReduce, 1 << 20, DataType::kFloat32), "ring");
  });
}

// Every rank decides alike: each rank's decisions for many (collective, size) are hashed and
// the hashes allGathered. With BRAID_TUNE_PROBE=1 each rank measures something different, so
// this also checks that rank 0's numbers are the ones everyone uses.
void expectSameDecisionsEverywhere(const std::vector<std::string>& hosts) {
  testing::runRanksOnHosts(hosts, [](Communicator& comm) {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](const void* p, size_t n) {
      for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 1099511628211ull;
    };
    for (K kind : {K::kAllReduce, K::kReduceScatter, K::kAllGather, K::kBroadcast, K::kReduce}) {
      for (size_t count = 1; count <= (size_t{1} << 28); count *= 4) {
        std::string a = comm.algorithmFor(kind, count, DataType::kFloat32);
        double t = comm.predictedTimeUs(kind, count, DataType::kFloat32);
        mix(a.data(), a.size());
        mix(&t, sizeof(t));
      }
    }
    std::vector<uint64_t> all(comm.size());
    ASSERT_TRUE(comm.allGather(&h, all.data(), 1, DataType::kUint64).isOk());
    for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(all[r], h) << "rank " << r;
  });
}

TEST(Tuner, EveryRankDecidesAlike) { expectSameDecisionsEverywhere({"a", "a", "b", "b"}); }

TEST(Tuner, EveryRankDecidesAlikeAfterTheProbe) {
  setenv("BRAID_TUNE_PROBE", "1", 1);
  reloadParams();
  expectSameDecisionsEverywhere({"a", "a", "b", "b", "c", "c"});
  expectSameDecisionsEverywhere({"a", "a", "a"});
  unsetenv("BRAID_TUNE_PROBE");
  reloadParams();
}

// Decisions are cached per (kind, bytes): a cached answer equals a fresh one for every size (64
// slots, so sizes collide and evict), forcing an algorithm and configuring a new model take
// effect at once, and a copy decides alike.
TEST(Tuner, CachedDecisionsEqualFreshOnesAndFollowOverrides) {
  const CommShape shape = shapeFor({"a", "a", "a", "a"}, LinkClass::kShm, 1 << 20);
  AlgorithmChoice choice;
  choice.configure(defaultCostModel(), shape);
  auto fresh = [&](K kind, size_t bytes) {
    AlgorithmChoice other;  // a new one holds nothing cached
    other.configure(defaultCostModel(), shape);
    return other.choose(kind, bytes);
  };
  for (int round = 0; round < 2; ++round) {  // the second round is served from the cache
    for (K kind : {K::kAllReduce, K::kBroadcast, K::kReduceScatter}) {
      for (size_t bytes = 1; bytes <= (size_t{1} << 30); bytes = bytes * 3 + 1) {
        Decision d = choice.choose(kind, bytes), f = fresh(kind, bytes);
        ASSERT_EQ(d.algorithm, f.algorithm) << bytes;
        EXPECT_EQ(d.predictedUs, f.predictedUs) << bytes;
        EXPECT_EQ(d.chunkBytes, f.chunkBytes) << bytes;
      }
    }
  }
  EXPECT_STREQ(choice.choose(K::kAllReduce, 8).algorithm->name, "shm-oneshot");
  ASSERT_TRUE(choice.force(K::kAllReduce, "ring").isOk());
  EXPECT_STREQ(choice.choose(K::kAllReduce, 8).algorithm->name, "ring");
  EXPECT_TRUE(choice.choose(K::kAllReduce, 8).forced);
  AlgorithmChoice copy = choice;
  EXPECT_STREQ(copy.choose(K::kAllReduce, 8).algorithm->name, "ring");
  ASSERT_TRUE(choice.force(K::kAllReduce, "auto").isOk());
  EXPECT_STREQ(choice.choose(K::kAllReduce, 8).algorithm->name, "shm-oneshot");
  CostModel slowShm = defaultCostModel();
  slowShm.link(LinkClass::kShm).alphaUs = 1e6;  // the arena's one synchronisation now costs 1 s
  choice.configure(slowShm, shape);
  EXPECT_EQ(choice.choose(K::kAllReduce, 8).predictedUs, [&] {
    AlgorithmChoice other;
    other.configure(slowShm, shape);
    return other.choose(K::kAllReduce, 8).predictedUs;
  }());
  EXPECT_GT(choice.choose(K::kAllReduce, 8).predictedUs, 1e5);
}

TEST(Tuner, OverridesReplaceDefaults) {
  setenv("BRAID_TUNE_TCP_ALPHA_US", "123", 1);
  setenv("BRAID_TUNE_TCP_GBS", "0.5", 1);
  setenv("BRAID_TUNE_TCP_OVERHEAD_US", "7", 1);
  reloadParams();
  CostModel m = defaultCostModel();
  applyModelOverrides(&m);
  unsetenv("BRAID_TUNE_TCP_ALPHA_US");
  unsetenv("BRAID_TUNE_TCP_GBS");
  unsetenv("BRAID_TUNE_TCP_OVERHEAD_US");
  reloadParams();
  EXPECT_EQ(m.link(LinkClass::kTcp).alphaUs, 123);
  EXPECT_EQ(m.link(LinkClass::kTcp).overheadUs, 7);
  EXPECT_DOUBLE_EQ(m.link(LinkClass::kTcp).betaUsPerByte, 1.0 / 500.0);
  EXPECT_EQ(m.link(LinkClass::kShm).alphaUs, defaultCostModel().link(LinkClass::kShm).alphaUs);
}

}  // namespace
}  // namespace braid
