// Multi-host tests on one machine (ctest label `netns`): each test brings up its own cluster of
// network namespaces with scripts/netns-cluster (a unique prefix, always torn down), runs ranks
// on several simulated hosts through braid-run --hosts, and checks that the collectives are
// exact across real network stacks (shm inside a host, TCP over veth + bridge between hosts),
// that rate shaping takes effect, that a dead rank is reported across hosts and that the job
// token keeps strangers out. Skipped, with the reason, where namespaces cannot be created.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/shell.h"

namespace braid {
namespace {

using testing::Ran;
using testing::runShell;

const std::string kBin = BRAID_BIN_DIR;
const std::string kCluster = std::string(BRAID_SOURCE_DIR) + "/scripts/netns-cluster";
const std::string kRun = kBin + "/tools/braid-run";
const std::string kWorker = kBin + "/tests/braid-test-worker";
const std::string kBench = kBin + "/bench/braid-bench";

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// Clusters of test processes that died without tearing theirs down (say, a ctest timeout).
void removeStaleClusters() {
  std::istringstream list(runShell("ip netns list").output);
  std::set<std::string> stale;
  const std::regex name("^(bt([0-9]+)[a-z]-)h[0-9]+");
  std::smatch m;
  for (std::string line; std::getline(list, line);) {
    if (!std::regex_search(line, m, name)) continue;
    pid_t owner = static_cast<pid_t>(std::stol(m[2]));
    if (::kill(owner, 0) != 0 && errno == ESRCH) stale.insert(m[1]);
  }
  for (const std::string& prefix : stale) runShell(kCluster + " down --prefix " + prefix);
}

// Why this machine cannot run the tests ("" when it can), worked out once.
const std::string& whyNoNamespaces() {
  static const std::string reason = [] {
    if (::geteuid() != 0) return std::string("network namespaces need root (CAP_NET_ADMIN)");
    if (runShell("command -v ip").exitCode != 0) return std::string("iproute2's `ip` not found");
    std::string probe = "bt" + std::to_string(::getpid()) + "p";
    Ran r = runShell("ip netns add " + probe + " && ip netns del " + probe);
    if (r.exitCode != 0) return "cannot create a network namespace: " + r.output;
    removeStaleClusters();
    return std::string();
  }();
  return reason;
}

// K simulated hosts for the life of one test; `down` runs even when the test fails.
class Cluster {
 public:
  explicit Cluster(int hosts, const std::string& options = "") : hosts_(hosts) {
    static char next = 'a';
    prefix_ = "bt" + std::to_string(::getpid()) + next++ + "-";
    up_ = runShell(kCluster + " up " + std::to_string(hosts) + " --prefix " + prefix_ + " " +
                   options);
  }
  ~Cluster() { runShell(kCluster + " down --prefix " + prefix_); }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const Ran& up() const { return up_; }
  const std::string& prefix() const { return prefix_; }
  std::string address(int host) const { return "10.77.0." + std::to_string(host + 1); }

  // braid-run -n ranks spread over every host of the cluster; output of all ranks.
  Ran run(int ranks, const std::string& command, const std::string& env = "",
          const std::string& runOptions = "") const {
    return runShell(env + " BRAID_TIMEOUT=60 " + kRun + " --hosts " + std::to_string(hosts_) +
                    " --netns-prefix " + prefix_ + " -n " + std::to_string(ranks) +
                    " --timeout 90 --grace 20 " + runOptions + " -- " + command);
  }

 private:
  int hosts_;
  std::string prefix_;
  Ran up_;
};

class Netns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!whyNoNamespaces().empty()) GTEST_SKIP() << "netns tests skipped: " << whyNoNamespaces();
  }
};

// Table rows of braid-bench: fields of the lines that start with the size column.
std::vector<std::vector<std::string>> benchRows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<std::string> row;
    for (std::string f; fields >> f;) row.push_back(f);
    if (!row.empty() && row[0].starts_with("[")) row.erase(row.begin());  // braid-run's "[rank]"
    if (row.size() >= 17 && std::isdigit(static_cast<unsigned char>(row[0][0])) && row[5] == "|") {
      rows.push_back(row);
    }
  }
  return rows;
}

// Columns of a row: 9/15 busbw, 10/16 #wrong (out-of-place / in-place).
constexpr int kBusbw = 9, kWrong = 10, kWrongInPlace = 16;

TEST_F(Netns, RanksRunInBlocksInTheirHostsNamespace) {
  Cluster cluster(3);
  ASSERT_EQ(cluster.up().exitCode, 0) << cluster.up().output;
  Ran r = cluster.run(7,
                      "sh -c 'echo $RANK $LOCAL_RANK $LOCAL_WORLD_SIZE $BRAID_HOST_ID "
                      "$BRAID_SOCKET_ADDR $BRAID_STORE_ADDR $(readlink /proc/self/ns/net)'");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const std::string ownNetns = runShell("readlink /proc/self/ns/net").output;
  // 7 ranks on 3 hosts: 0-2 on h0, 3-4 on h1, 5-6 on h2.
  const std::vector<int> hostOf = {0, 0, 0, 1, 1, 2, 2};
  const std::vector<int> localOf = {0, 1, 2, 0, 1, 0, 1};
  std::vector<std::string> netnsOf(3);
  std::istringstream in(r.output);
  int seen = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string prefix, hostId, socketAddr, storeAddr, netns;
    int rank = -1, local = -1, localSize = -1;
    if (!(fields >> prefix >> rank >> local >> localSize >> hostId >> socketAddr >> storeAddr >>
          netns)) {
      continue;
    }
    ASSERT_TRUE(rank >= 0 && rank < 7) << line;
    ++seen;
    const int host = hostOf[rank];
    EXPECT_EQ(local, localOf[rank]) << line;
    EXPECT_EQ(localSize, host == 0 ? 3 : 2) << line;
    EXPECT_EQ(hostId, cluster.prefix() + "h" + std::to_string(host)) << line;
    EXPECT_EQ(socketAddr, cluster.address(host)) << line;
    EXPECT_TRUE(storeAddr.starts_with(cluster.address(0) + ":")) << line;
    EXPECT_FALSE(has(ownNetns, netns)) << "rank " << rank << " runs in the test's namespace";
    if (netnsOf[host].empty()) netnsOf[host] = netns;
    EXPECT_EQ(netns, netnsOf[host]) << "ranks of host " << host << " in different namespaces";
  }
  EXPECT_EQ(seen, 7) << r.output;
  EXPECT_NE(netnsOf[0], netnsOf[1]);
  EXPECT_NE(netnsOf[1], netnsOf[2]);

  // braid-info --topology joins the job and rank 0 prints the same layout and each host's view.
  r = cluster.run(7, kBin + "/tools/braid-info --topology");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  for (const std::string& text :
       {std::string("job: 7 ranks on 3 host(s) (not the same number of ranks on each)"),
        std::string("host 0: 3 rank(s)"), std::string("host 2: 2 rank(s)"),
        std::string("rank 4 (local 1)"), std::string("rank 5 (local 0)"),
        "host " + cluster.prefix() + "h2", "eth0         " + cluster.address(2)}) {
    EXPECT_TRUE(has(r.output, text)) << text << "\n" << r.output;
  }
}

TEST_F(Netns, TwoHostsFourRanksRunTheCollectives) {
  Cluster cluster(2);
  ASSERT_EQ(cluster.up().exitCode, 0) << cluster.up().output;
  Ran r = cluster.run(4, kWorker + " check", "BRAID_DEBUG=INFO BRAID_DEBUG_SUBSYS=INIT");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_TRUE(has(r.output, "rank " + std::to_string(rank) + " ok")) << r.output;
  }
  // Ranks 0,1 on h0 and 2,3 on h1: a rank's next one is on its host (shm) or not (tcp).
  EXPECT_TRUE(has(r.output, "[0] rank 0 ok transport=shm")) << r.output;
  EXPECT_TRUE(has(r.output, "[1] rank 1 ok transport=tcp")) << r.output;
  EXPECT_TRUE(has(r.output, "[3] rank 3 ok transport=tcp")) << r.output;
  // The communicator's topology, as it logs it at init.
  EXPECT_TRUE(has(r.output, "rank 3/4 on host " + cluster.prefix() +
                                "h1 (host 1 of 2, local rank 1 of 2): 1 shm peers, 2 tcp peers"))
      << r.output;
}

TEST_F(Netns, ThreeHostsSevenRanksEveryCollectiveIsExact) {
  Cluster cluster(3);
  ASSERT_EQ(cluster.up().exitCode, 0) << cluster.up().output;
  // 7 ranks: 3 on h0, 2 on h1, 2 on h2. Sizes 8 B .. 512 KiB, a few dtypes and ops.
  Ran r = cluster.run(7, kBench + " all --no-progress -b 8 -e 512K -f 16 -n 1 -w 0 -c 1 " +
                             "-d fp32,bf16,int64 -o sum,max,avg");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::vector<std::vector<std::string>> rows = benchRows(r.output);
  // 5 sizes × (3 reducing collectives × 9 dtype/op pairs + 4 others × 3 dtypes), on rank 0.
  EXPECT_GE(rows.size(), 5u * (3 * 9 + 3 * 3)) << r.output;
  for (const auto& row : rows) {
    EXPECT_EQ(row[kWrong], "0") << r.output;
    EXPECT_EQ(row[kWrongInPlace], "0") << r.output;
  }
}

// The algorithms of the multi-host issue (tree, halving-doubling, recursive-doubling,
// hierarchical) are exact across hosts too: every dtype and op, in and out of place, 3 hosts x 2
// ranks (uniform, so hierarchical is offered) and 5 ranks on 3 hosts (3 odd, non-uniform).
TEST_F(Netns, TreeHalvingDoublingAndHierarchicalAreExactAcrossHosts) {
  Cluster cluster(3);
  ASSERT_EQ(cluster.up().exitCode, 0) << cluster.up().output;
  const std::string sweep = " --no-progress -b 8 -e 8000 -f 1000 -n 1 -w 0 -c 1 -d all -o all";
  for (const char* coll : {"allreduce", "reducescatter", "allgather", "broadcast"}) {
    Ran r = cluster.run(6, kBench + " " + coll + " --algo all" + sweep);
    ASSERT_EQ(r.exitCode, 0) << coll << "\n" << r.output;
    EXPECT_TRUE(has(r.output, "# wrong values: 0")) << r.output;
    EXPECT_TRUE(has(r.output, "braid/hierarchical")) << coll << "\n" << r.output;
    if (std::string(coll) != "broadcast") {
      EXPECT_TRUE(has(r.output, "braid/halving-doubling")) << coll << "\n" << r.output;
    }
    if (std::string(coll) == "allreduce") {
      EXPECT_TRUE(has(r.output, "braid/recursive-doubling")) << r.output;
    }
  }
  Ran odd =
      cluster.run(5, kBench + " allreduce --algo tree,halving-doubling,recursive-doubling" + sweep);
  ASSERT_EQ(odd.exitCode, 0) << odd.output;
  EXPECT_TRUE(has(odd.output, "# wrong values: 0")) << odd.output;
}

TEST_F(Netns, ShapedLinksLimitTheBandwidth) {
  Cluster cluster(2, "--rate 100mbit");
  ASSERT_EQ(cluster.up().exitCode, 0) << cluster.up().output;
  EXPECT_TRUE(has(runShell(kCluster + " status --prefix " + cluster.prefix()).output, "100Mbit"));
  Ran r = cluster.run(4, kBench + " allreduce --no-progress -b 2M -e 2M -n 2 -w 1 -c 1",
                      "BRAID_ALGO=allreduce:ring");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  std::vector<std::vector<std::string>> rows = benchRows(r.output);
  ASSERT_EQ(rows.size(), 1u) << r.output;
  EXPECT_EQ(rows[0][kWrong], "0");
  // A 4-rank ring (ranks 0,1 on h0, 2,3 on h1) sends 2(n-1)/n of the data over each host's
  // 12.5 MB/s link (edges 1->2 and 3->0), so busbw = 2(n-1)/n × size / time cannot beat
  // 12.5 MB/s; unshaped veth is many times faster. Twice the bound leaves room for tbf's burst.
  EXPECT_LT(std::stod(rows[0][kBusbw]), 2 * 0.0125) << r.output;
}

TEST_F(Netns, KillARankAcrossHosts) {
  Cluster cluster(2);
  ASSERT_EQ(cluster.up().exitCode, 0) << cluster.up().output;
  // Rank 2 (on h1) kills itself at iteration 3; the survivors on both hosts must name it.
  std::string mark = "BRAID_TEST_MARK=netns-kill-" + std::to_string(::getpid());
  Ran r = cluster.run(4, kWorker + " kill 2 3", "", "--env " + mark);
  EXPECT_NE(r.exitCode, 0) << r.output;
  EXPECT_TRUE(has(r.output, "signal 9")) << r.output;
  for (int rank : {0, 1, 3}) {
    std::string prefix = "[" + std::to_string(rank) + "] rank " + std::to_string(rank) + " error: ";
    size_t at = r.output.find(prefix);
    ASSERT_NE(at, std::string::npos) << r.output;
    std::string line = r.output.substr(at, r.output.find('\n', at) - at);
    EXPECT_TRUE(has(line, "rank 2")) << line;
  }
  EXPECT_LT(r.seconds, 30.0) << r.output;  // promptly, not after BRAID_TIMEOUT (60 s)
  EXPECT_EQ(testing::processesWithEnvironment(mark), 0) << "ranks left behind";
}

TEST_F(Netns, WrongJobTokenIsRefusedAcrossHosts) {
  Cluster cluster(2);
  ASSERT_EQ(cluster.up().exitCode, 0) << cluster.up().output;
  // torchrun-style: rank 0 serves the store in h0; rank 1 in h1 comes with another secret.
  auto rank = [&](int r, const std::string& token) {
    return "ip netns exec " + cluster.prefix() + "h" + std::to_string(r) +
           " env RANK=" + std::to_string(r) + " WORLD_SIZE=2 MASTER_ADDR=" + cluster.address(0) +
           " MASTER_PORT=29500 BRAID_JOB_TOKEN=" + token + " BRAID_HOST_ID=h" + std::to_string(r) +
           " BRAID_SOCKET_ADDR=" + cluster.address(r) + " BRAID_TIMEOUT=20 " + kWorker + " check";
  };
  Ran r = runShell(rank(0, "00000000000000aa") + " >/dev/null 2>&1 & server=$!; sleep 0.5; " +
                   rank(1, "00000000000000bb") + "; rc=$?; kill $server; wait $server; exit $rc");
  EXPECT_EQ(r.exitCode, 2) << r.output;  // the worker's "init error"
  EXPECT_TRUE(has(r.output, "init error")) << r.output;
  EXPECT_TRUE(has(r.output, "wrong job token")) << r.output;
}

// Needs neither root nor namespaces: a braid-run --hosts without its cluster, and bad script
// arguments, fail with messages that say what to do.
TEST(NetnsErrors, MissingHostsAndBadArgumentsAreClearErrors) {
  struct Case {
    std::string command;
    int exitCode;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases = {
      {kRun + " --hosts 2 --netns-prefix nosuch- -n 2 true",
       1,
       {"network namespace nosuch-h0 not found", "scripts/netns-cluster up 2 --prefix nosuch-"}},
      {kRun + " --hosts 3 -n 2 true", 2, {"--hosts 3 needs at least 3 ranks"}},
      {kCluster + " up 0", 1, {"host count"}},
      {kCluster + " up 2 --prefix much-too-long-prefix", 1, {"--prefix", "at most 15"}},
      {kCluster + " up 2 --subnet 8.8.8", 1, {"private /24"}},
      {kCluster + " up 2 --rate fast", 1, {"--rate 'fast'"}},
  };
  for (const Case& c : cases) {
    Ran r = runShell(c.command);
    EXPECT_EQ(r.exitCode, c.exitCode) << c.command << "\n" << r.output;
    for (const std::string& text : c.says) EXPECT_TRUE(has(r.output, text)) << r.output;
  }
}

}  // namespace
}  // namespace braid
