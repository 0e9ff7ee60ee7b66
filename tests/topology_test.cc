// Topology: the pure host layout of a communicator (CommTopology) on hand-made host-id lists,
// and this machine's discovery (hwloc, libibverbs via dlopen, interfaces) for sanity: it must
// not fail where hardware is missing, and what it reports must be self-consistent.
#include "topology.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "util/spin.h"

namespace braid {
namespace {

using Ranks = std::vector<std::vector<int>>;

TEST(CommTopology, SingleRank) {
  CommTopology t = commTopologyFromHostIds({"a"});
  EXPECT_EQ(t.hosts, 1);
  EXPECT_EQ(t.hostOf, std::vector<int>{0});
  EXPECT_EQ(t.localRankOf, std::vector<int>{0});
  EXPECT_EQ(t.ranksOnHost, Ranks{{0}});
  EXPECT_TRUE(t.uniform);
}

TEST(CommTopology, HostsNumberedByFirstAppearance) {
  // Interleaved placement: host "z" appears first, so it is host 0 although "a" sorts first.
  CommTopology t = commTopologyFromHostIds({"z", "a", "z", "m", "a", "z"});
  EXPECT_EQ(t.hosts, 3);
  EXPECT_EQ(t.hostOf, (std::vector<int>{0, 1, 0, 2, 1, 0}));
  EXPECT_EQ(t.localRankOf, (std::vector<int>{0, 0, 1, 0, 1, 2}));
  EXPECT_EQ(t.ranksOnHost, (Ranks{{0, 2, 5}, {1, 4}, {3}}));
  EXPECT_FALSE(t.uniform);
}

TEST(CommTopology, BlocksAreUniform) {
  CommTopology t = commTopologyFromHostIds({"h0", "h0", "h1", "h1", "h2", "h2"});
  EXPECT_EQ(t.hosts, 3);
  EXPECT_EQ(t.ranksOnHost, (Ranks{{0, 1}, {2, 3}, {4, 5}}));
  EXPECT_EQ(t.localRankOf, (std::vector<int>{0, 1, 0, 1, 0, 1}));
  EXPECT_TRUE(t.uniform);
}

TEST(CommTopology, EveryRankOnItsOwnHost) {
  std::vector<std::string> ids;
  for (int r = 0; r < 7; ++r) ids.push_back("host" + std::to_string(r));
  CommTopology t = commTopologyFromHostIds(ids);
  EXPECT_EQ(t.hosts, 7);
  for (int r = 0; r < 7; ++r) {
    EXPECT_EQ(t.hostOf[r], r);
    EXPECT_EQ(t.localRankOf[r], 0);
  }
  EXPECT_TRUE(t.uniform);
}

TEST(CommTopology, ConsistentOnManyLayouts) {
  // For every assignment of 6 ranks to at most 3 hosts: the three views agree.
  for (int code = 0; code < 729; ++code) {
    std::vector<std::string> ids;
    for (int r = 0, c = code; r < 6; ++r, c /= 3) ids.push_back(std::string(1, 'a' + c % 3));
    CommTopology t = commTopologyFromHostIds(ids);
    ASSERT_EQ(t.hostOf.size(), 6u);
    ASSERT_EQ(static_cast<int>(t.ranksOnHost.size()), t.hosts);
    EXPECT_EQ(t.hostOf[0], 0);
    size_t total = 0;
    bool sameSizes = true;
    for (int h = 0; h < t.hosts; ++h) {
      const std::vector<int>& ranks = t.ranksOnHost[h];
      ASSERT_FALSE(ranks.empty());
      EXPECT_TRUE(std::is_sorted(ranks.begin(), ranks.end()));
      if (h > 0) {
        EXPECT_LT(t.ranksOnHost[h - 1].front(), ranks.front()) << "first appearance";
      }
      for (size_t i = 0; i < ranks.size(); ++i) {
        EXPECT_EQ(t.hostOf[ranks[i]], h);
        EXPECT_EQ(t.localRankOf[ranks[i]], static_cast<int>(i));
        EXPECT_EQ(ids[ranks[i]], ids[ranks.front()]);
      }
      total += ranks.size();
      sameSizes = sameSizes && ranks.size() == t.ranksOnHost[0].size();
    }
    EXPECT_EQ(total, 6u);
    EXPECT_EQ(t.uniform, sameSizes);
  }
}

// Waits yield on every poll once a communicator puts more ranks on this host than the process
// may use CPUs, and only every 16th poll before (util/spin.h).
TEST(SpinPolicy, YieldsOnEveryPollOnlyWhereRanksShareCores) {
  const int cpus = usableCpus();
  EXPECT_GE(cpus, 1);
  EXPECT_EQ(spin_internal::yieldEvery.load(), 16u);
  noteRanksOnHost(cpus);
  EXPECT_EQ(spin_internal::yieldEvery.load(), 16u);
  noteRanksOnHost(cpus + 1);
  EXPECT_EQ(spin_internal::yieldEvery.load(), 1u);
  noteRanksOnHost(1);  // a later, smaller communicator does not undo it
  EXPECT_EQ(spin_internal::yieldEvery.load(), 1u);
}

TEST(HostDiscovery, AbsentIbverbsIsAnEmptyListWithANote) {
  std::string note;
  std::vector<std::string> names = ibverbsDeviceNames("libbraid-no-such-ibverbs.so.1", &note);
  EXPECT_TRUE(names.empty());
  EXPECT_NE(note.find("libbraid-no-such-ibverbs.so.1"), std::string::npos) << note;
}

TEST(HostDiscovery, ReportsThisMachineConsistently) {
  HostTopology t = discoverHostTopology();
  EXPECT_EQ(t.hostId, localHostId());
  ASSERT_TRUE(t.hwlocError.empty()) << t.hwlocError;  // hwloc is a required dependency
  const NumaPlacement& p = t.numa;
  ASSERT_GE(p.nodes.size(), 1u);
  EXPECT_GE(p.cores, 1);
  EXPECT_GE(p.pus, p.cores);
  int nodePus = 0;
  for (const NumaNodeInfo& n : p.nodes) nodePus += n.pus;
  EXPECT_EQ(nodePus, p.pus);
  EXPECT_GE(p.boundPus, 1);
  EXPECT_LE(p.boundPus, p.pus);
  EXPECT_LE(p.boundCores, p.cores);
  EXPECT_FALSE(p.boundCpus.empty());
  ASSERT_FALSE(p.boundNodes.empty());
  if (p.currentNode >= 0) {
    EXPECT_NE(std::find(p.boundNodes.begin(), p.boundNodes.end(), p.currentNode),
              p.boundNodes.end());
  }
  for (const Nic& nic : t.nics) EXPECT_FALSE(nic.name.empty());
  auto lo = std::find_if(t.interfaces.begin(), t.interfaces.end(),
                         [](const NetInterface& n) { return n.loopback; });
  ASSERT_NE(lo, t.interfaces.end());
  EXPECT_EQ(lo->ipv4, "127.0.0.1");
  std::string text = describeHostTopology(t);
  EXPECT_NE(text.find("NUMA nodes: " + std::to_string(p.nodes.size())), std::string::npos);
  EXPECT_NE(text.find(lo->name), std::string::npos);
}

}  // namespace
}  // namespace braid
