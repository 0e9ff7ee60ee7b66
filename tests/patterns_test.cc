// Exhaustive checks of the pure rank arithmetic in algorithms/patterns/ for n = 1..64: each
// schedule is simulated symbolically (which ranks' contributions each block holds) and must
// deliver every contribution exactly once, with senders and receivers agreeing at every step.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "patterns/double_tree.h"
#include "patterns/halving_doubling.h"
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

TEST(Patterns, HalvingDoublingFoldPairsEveryExtraRank) {
  for (int n = 1; n <= 64; ++n) {
    const int p = hdPow2(n);
    ASSERT_TRUE(p <= n && n < 2 * p && (p & (p - 1)) == 0) << n;
    EXPECT_EQ(1 << hdSteps(n), p);
    std::vector<int> playedBy(p, -1);
    for (int r = 0; r < n; ++r) {
      const int v = hdVirtualRank(r, n), partner = hdFoldPartner(r, n);
      if (partner >= 0) {
        ASSERT_LT(partner, n);
        EXPECT_EQ(hdFoldPartner(partner, n), r) << "fold partners disagree, n=" << n;
        EXPECT_NE(v < 0, hdVirtualRank(partner, n) < 0) << "exactly one of a pair takes part";
      } else {
        EXPECT_GE(v, 0) << "a rank that sits out needs a partner, n=" << n;
      }
      if (v < 0) continue;
      ASSERT_LT(v, p);
      EXPECT_EQ(playedBy[v], -1) << "two ranks play participant " << v;
      playedBy[v] = r;
      EXPECT_EQ(hdRealRank(v, n), r);
    }
    // Segments cover the ranks' blocks in order, each exactly once, one or two ranks each:
    // the participant's own and its partner's.
    EXPECT_EQ(hdFirstRankOf(0, n), 0);
    EXPECT_EQ(hdFirstRankOf(p, n), n);
    for (int v = 0; v < p; ++v) {
      ASSERT_NE(playedBy[v], -1) << "participant " << v << " unplayed, n=" << n;
      const int first = hdFirstRankOf(v, n), end = hdFirstRankOf(v + 1, n);
      ASSERT_TRUE(end - first == 1 || end - first == 2) << n;
      for (int r = first; r < end; ++r) {
        EXPECT_TRUE(r == playedBy[v] || r == hdFoldPartner(playedBy[v], n))
            << "segment " << v << " holds rank " << r << "'s block, n=" << n;
      }
    }
  }
}

TEST(Patterns, RecursiveHalvingLeavesEachSegmentReducedAtOneOwner) {
  for (int n = 1; n <= 64; ++n) {
    const int p = hdPow2(n);
    // held[v][s]: the ranks whose contribution participant v's partial sum of segment s has,
    // starting after the fold (a pair's participant holds both inputs).
    std::vector<std::vector<std::multiset<int>>> held(p, std::vector<std::multiset<int>>(p));
    std::vector<SegmentRange> range(p, SegmentRange{0, p});
    for (int r = 0; r < n; ++r) {
      int v =
          hdVirtualRank(r, n) >= 0 ? hdVirtualRank(r, n) : hdVirtualRank(hdFoldPartner(r, n), n);
      for (int s = 0; s < p; ++s) held[v][s].insert(r);
    }
    for (int step = 0; step < hdSteps(n); ++step) {
      auto next = held;
      for (int v = 0; v < p; ++v) {
        const int w = hdHalvingPartner(v, p, step);
        ASSERT_TRUE(w >= 0 && w < p && w != v);
        ASSERT_EQ(hdHalvingPartner(w, p, step), v) << "partners not symmetric, n=" << n;
        const SegmentRange keep = hdHalvingKeep(v, p, step), give = hdHalvingSend(v, p, step);
        EXPECT_EQ(give, hdHalvingKeep(w, p, step)) << "sends what the partner keeps";
        // keep and give split the current range in two equal halves.
        EXPECT_EQ(keep.end - keep.begin, give.end - give.begin);
        EXPECT_EQ(std::min(keep.begin, give.begin), range[v].begin);
        EXPECT_EQ(std::max(keep.end, give.end), range[v].end);
        EXPECT_TRUE(keep.end == give.begin || give.end == keep.begin);
        EXPECT_TRUE(keep.begin <= v && v < keep.end);
        for (int s = give.begin; s < give.end; ++s) {
          for (int c : held[v][s]) next[w][s].insert(c);
        }
      }
      for (int v = 0; v < p; ++v) range[v] = hdHalvingKeep(v, p, step);
      held = next;
    }
    std::multiset<int> all;
    for (int r = 0; r < n; ++r) all.insert(r);
    for (int v = 0; v < p; ++v) {
      EXPECT_EQ(range[v], (SegmentRange{v, v + 1})) << "n=" << n;
      EXPECT_EQ(held[v][v], all) << "n=" << n << " v=" << v;
    }
  }
}

TEST(Patterns, RecursiveDoublingGathersEverySegmentOnce) {
  for (int n = 1; n <= 64; ++n) {
    const int p = hdPow2(n);
    std::vector<std::vector<int>> has(p, std::vector<int>(p, 0));
    for (int v = 0; v < p; ++v) has[v][v] = 1;
    for (int step = 0; step < hdSteps(n); ++step) {
      auto next = has;
      for (int v = 0; v < p; ++v) {
        const int w = hdDoublingPartner(v, step);
        ASSERT_TRUE(w >= 0 && w < p);
        ASSERT_EQ(hdDoublingPartner(w, step), v);
        const SegmentRange give = hdDoublingSend(v, step);
        EXPECT_EQ(give, hdDoublingRecv(w, step));
        for (int s = give.begin; s < give.end; ++s) {
          ASSERT_EQ(has[v][s], 1) << "sends a segment it does not hold, n=" << n;
          next[w][s] += 1;
        }
      }
      has = next;
    }
    for (int v = 0; v < p; ++v) {
      for (int s = 0; s < p; ++s) EXPECT_EQ(has[v][s], 1) << "n=" << n << " v=" << v << " s=" << s;
    }
  }
}

// links[r]: rank r's links in one tree over n ranks. Checks parents and children agree, the
// tree spans every rank from `root` within maxDepth hops, and no rank has more than 2 children.
void expectTree(const std::vector<TreeLinks>& links, int root, int maxDepth, const char* what) {
  const int n = static_cast<int>(links.size());
  std::vector<int> asChild(n, 0);
  for (int r = 0; r < n; ++r) {
    const TreeLinks& l = links[r];
    EXPECT_FALSE(l.children[0] < 0 && l.children[1] >= 0);
    for (int c : l.children) {
      if (c < 0) continue;
      ASSERT_LT(c, n);
      EXPECT_EQ(links[c].parent, r) << what << " n=" << n << ": child " << c << " of " << r;
      ++asChild[c];
    }
  }
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(asChild[r], r == root ? 0 : 1) << what << " n=" << n << " rank " << r;
    int depth = 0;
    for (int u = r; u != root && depth <= n; u = links[u].parent) {
      ASSERT_GE(links[u].parent, 0) << what << " n=" << n << ": rank " << u << " has no parent";
      ++depth;
    }
    EXPECT_LE(depth, maxDepth) << what << " n=" << n << " rank " << r;
  }
}

TEST(Patterns, InOrderTreeIsBalancedWithEvenPositionsAsLeaves) {
  for (int m = 1; m <= 64; ++m) {
    std::vector<TreeLinks> links(m);
    for (int pos = 0; pos < m; ++pos) links[pos] = inOrderLinks(pos, m);
    expectTree(links, inOrderRoot(m), hdSteps(m), "in-order tree");
    for (int pos = 0; pos < m; ++pos) {
      EXPECT_EQ(links[pos].childCount() == 0, pos % 2 == 0) << "m=" << m << " pos=" << pos;
    }
  }
}

TEST(Patterns, DoubleTreeRanksAreInnerInAtMostOneTree) {
  for (int n = 1; n <= 64; ++n) {
    std::vector<TreeLinks> trees[2];
    for (int t = 0; t < 2; ++t) {
      for (int r = 0; r < n; ++r) {
        EXPECT_EQ(doubleTreeRank(doubleTreePosition(r, n, t), n, t), r);
        trees[t].push_back(doubleTreeLinks(r, n, t));
      }
      expectTree(trees[t], doubleTreeRoot(n, t), hdSteps(n), "double tree");
    }
    for (int r = 0; r < n; ++r) {
      EXPECT_FALSE(trees[0][r].childCount() > 0 && trees[1][r].childCount() > 0)
          << "rank " << r << " is inner in both trees, n=" << n;
    }
  }
}

TEST(Patterns, RootedDoubleTreeHangsBothTreesUnderTheRoot) {
  for (int n = 1; n <= 64; ++n) {
    const int depth = n == 1 ? 0 : hdSteps(n - 1) + 1;
    for (int root = 0; root < n; ++root) {
      std::vector<TreeLinks> trees[2];
      for (int t = 0; t < 2; ++t) {
        for (int r = 0; r < n; ++r) trees[t].push_back(rootedDoubleTreeLinks(r, n, root, t));
        expectTree(trees[t], root, depth, "rooted double tree");
        EXPECT_EQ(trees[t][root].childCount(), n == 1 ? 0 : 1);
      }
      for (int r = 0; r < n; ++r) {
        if (r == root) continue;
        EXPECT_FALSE(trees[0][r].childCount() > 0 && trees[1][r].childCount() > 0)
            << "rank " << r << " is inner in both trees, n=" << n << " root=" << root;
      }
    }
  }
}

// Pieces of the hierarchical allReduce: one per 4 MiB, at most 8, one where hosts have one rank.
TEST(Patterns, HierarchicalPiecesOnePer4MiBUpToEightAndOneWithoutLocalSteps) {
  constexpr size_t kMiB = size_t{1} << 20;
  EXPECT_EQ(patterns::hierarchicalPieces(0, 2), 1u);
  EXPECT_EQ(patterns::hierarchicalPieces(4 * kMiB - 1, 2), 1u);
  EXPECT_EQ(patterns::hierarchicalPieces(8 * kMiB, 3), 2u);
  EXPECT_EQ(patterns::hierarchicalPieces(12 * kMiB + 20, 3), 3u);
  EXPECT_EQ(patterns::hierarchicalPieces(32 * kMiB, 2), 8u);
  EXPECT_EQ(patterns::hierarchicalPieces(size_t{1} << 40, 8), 8u);
  EXPECT_EQ(patterns::hierarchicalPieces(size_t{1} << 30, 1), 1u);
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
