// Exhaustive checks of the pure rank arithmetic in algorithms/patterns/ for n = 1..64: each
// schedule is simulated symbolically (which ranks' contributions each block holds) and must
// deliver every contribution exactly once, with senders and receivers agreeing at every step.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "patterns/hierarchy.h"
#include "patterns/pairwise.h"
#include "patterns/ring.h"
#include "patterns/tree.h"

namespace braid::patterns {
namespace {

TEST(Patterns, BlocksPartitionEveryCount) {
  for (int n = 1; n <= 64; ++n) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{63}, size_t{64}, size_t{65},
                         size_t{1023}, size_t{1048579}}) {
      EXPECT_EQ(blockBegin(count, n, 0), 0u);
      EXPECT_EQ(blockBegin(count, n, n), count);
      size_t lo = count, hi = 0;
      for (int b = 0; b < n; ++b) {
        ASSERT_LE(blockBegin(count, n, b), blockBegin(count, n, b + 1)) << n << " " << count;
        lo = std::min(lo, blockCount(count, n, b));
        hi = std::max(hi, blockCount(count, n, b));
      }
      EXPECT_LE(hi - lo, 1u) << "n=" << n << " count=" << count;
    }
  }
}

TEST(Patterns, RingReduceScatterDeliversEachContributionOnce) {
  for (int n = 1; n <= 64; ++n) {
    // held[r][b]: the ranks whose contribution rank r's partial sum of block b includes.
    std::vector<std::vector<std::multiset<int>>> held(n, std::vector<std::multiset<int>>(n));
    for (int r = 0; r < n; ++r) {
      for (int b = 0; b < n; ++b) held[r][b].insert(r);
    }
    for (int step = 0; step + 1 < n; ++step) {
      auto next = held;
      for (int r = 0; r < n; ++r) {
        int right = ringRight(r, n);
        int sent = reduceScatterSendBlock(r, n, step);
        ASSERT_EQ(reduceScatterRecvBlock(right, n, step), sent) << "n=" << n << " step=" << step;
        for (int c : held[r][sent]) next[right][sent].insert(c);
      }
      held = next;
    }
    for (int r = 0; r < n; ++r) {
      std::multiset<int> all;
      for (int c = 0; c < n; ++c) all.insert(c);
      EXPECT_EQ(held[r][r], all) << "n=" << n << " rank=" << r;
    }
  }
}

TEST(Patterns, RingAllGatherDeliversEveryBlock) {
  for (int n = 1; n <= 64; ++n) {
    std::vector<std::set<int>> has(n);
    for (int r = 0; r < n; ++r) has[r].insert(r);
    for (int step = 0; step + 1 < n; ++step) {
      auto next = has;
      for (int r = 0; r < n; ++r) {
        int right = ringRight(r, n);
        int sent = allGatherSendBlock(r, n, step);
        ASSERT_TRUE(has[r].count(sent)) << "rank sends a block it does not have";
        ASSERT_EQ(allGatherRecvBlock(right, n, step), sent);
        ASSERT_FALSE(has[right].count(sent)) << "a block arrives twice";
        next[right].insert(sent);
      }
      has = next;
    }
    for (int r = 0; r < n; ++r) EXPECT_EQ(has[r].size(), static_cast<size_t>(n));
  }
}

TEST(Patterns, BinomialTreeSpansEveryRankWithLogDepth) {
  for (int n = 1; n <= 64; ++n) {
    int rounds = disseminationRounds(n);  // ceil(log2 n)
    std::vector<int> depth(n, -1);
    depth[0] = 0;
    // Parents and children agree, and every rank is reached exactly once.
    std::vector<int> reached(n, 0);
    for (int v = 0; v < n; ++v) {
      for (int c : binomialChildren(v, n)) {
        ASSERT_LT(c, n);
        EXPECT_EQ(binomialParent(c), v);
        ++reached[c];
      }
    }
    for (int v = 1; v < n; ++v) {
      EXPECT_EQ(reached[v], 1) << "n=" << n << " v=" << v;
      int d = 0;
      for (int u = v; u != 0; u = binomialParent(u)) ++d;
      EXPECT_LE(d, rounds) << "n=" << n << " v=" << v;
    }
    for (int root = 0; root < n; ++root) {
      for (int r = 0; r < n; ++r) EXPECT_EQ(toReal(toVirtual(r, root, n), root, n), r);
    }
  }
}

TEST(Patterns, PairwiseExchangesEveryOrderedPairOnce) {
  for (int n = 1; n <= 64; ++n) {
    std::vector<std::vector<int>> seen(n, std::vector<int>(n, 0));
    for (int step = 1; step < n; ++step) {
      for (int r = 0; r < n; ++r) {
        int to = pairwiseSendPeer(r, n, step);
        ASSERT_NE(to, r);
        EXPECT_EQ(pairwiseRecvPeer(to, n, step), r);
        ++seen[r][to];
      }
    }
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) EXPECT_EQ(seen[a][b], a == b ? 0 : 1);
    }
  }
}

TEST(Patterns, DisseminationInformsEveryRank) {
  for (int n = 1; n <= 64; ++n) {
    std::vector<std::set<int>> heard(n);
    for (int r = 0; r < n; ++r) heard[r].insert(r);
    for (int round = 0; round < disseminationRounds(n); ++round) {
      auto next = heard;
      for (int r = 0; r < n; ++r) {
        int to = disseminationSendPeer(r, n, round);
        EXPECT_EQ(disseminationRecvPeer(to, n, round), r);
        next[to].insert(heard[r].begin(), heard[r].end());
      }
      heard = next;
    }
    for (int r = 0; r < n; ++r) EXPECT_EQ(heard[r].size(), static_cast<size_t>(n)) << n;
  }
}

// Hierarchical groups, for every uniform layout of H hosts x L ranks with n <= 64, hosts in
// consecutive blocks and interleaved: local and cross groups partition the ranks, a rank is in
// its own groups at its local rank / host index, and the packed order puts rank (h, l)'s block
// where the local reduce-scatter hands it to l and the cross stage then to h.
TEST(Patterns, HierarchyGroupsAndPackedBlocks) {
  for (int hosts = 1; hosts <= 8; ++hosts) {
    for (int l = 1; hosts * l <= 64; ++l) {
      for (bool interleaved : {false, true}) {
        const int n = hosts * l;
        std::vector<std::string> ids(n);
        for (int r = 0; r < n; ++r) {
          ids[r] = "h" + std::to_string(interleaved ? r % hosts : r / l);
        }
        const CommTopology t = commTopologyFromHostIds(ids);
        ASSERT_EQ(t.hosts, hosts);
        ASSERT_TRUE(t.uniform);
        std::set<int> packed;
        for (int r = 0; r < n; ++r) {
          auto local = localGroup(t, r), cross = crossGroup(t, r);
          ASSERT_EQ(local.size(), static_cast<size_t>(l));
          ASSERT_EQ(cross.size(), static_cast<size_t>(hosts));
          EXPECT_EQ(local[t.localRankOf[r]], r);
          EXPECT_EQ(cross[t.hostOf[r]], r);
          for (int m : local) EXPECT_EQ(t.hostOf[m], t.hostOf[r]);
          for (int m : cross) EXPECT_EQ(t.localRankOf[m], t.localRankOf[r]);
          // Local block l' of the packed buffer holds hosts-many blocks; the cross stage's block
          // h' of it is rank (h', l').
          const int p = packedBlock(t, r);
          EXPECT_EQ(p / hosts, t.localRankOf[r]);
          EXPECT_EQ(p % hosts, t.hostOf[r]);
          packed.insert(p);
        }
        EXPECT_EQ(packed.size(), static_cast<size_t>(n));
        EXPECT_EQ(*packed.rbegin(), n - 1);
      }
    }
  }
  // Unequal hosts are not uniform.
  EXPECT_FALSE(commTopologyFromHostIds({"a", "a", "b"}).uniform);
  EXPECT_EQ(commTopologyFromHostIds({"a", "b", "a"}).ranksOnHost[0], (std::vector<int>{0, 2}));
}

}  // namespace
}  // namespace braid::patterns
