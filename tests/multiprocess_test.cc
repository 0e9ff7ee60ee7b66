// Multi-process tests: real rank processes started by braid-run or with a torchrun, Open MPI
// or Slurm environment; and the kill-a-rank test (every survivor reports the dead rank, braid-run
// exits non-zero, no process is left).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "support/shell.h"
#include "util/socket.h"

extern char** environ;

namespace braid {
namespace {

const std::string kBin = BRAID_BIN_DIR;
const std::string kRun = kBin + "/tools/braid-run";
const std::string kWorker = kBin + "/tests/braid-test-worker";

std::string printfString(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string printfString(const char* format, ...) {
  char buf[4096];
  va_list args;
  va_start(args, format);
  vsnprintf(buf, sizeof(buf), format, args);
  va_end(args);
  return buf;
}

using testing::Ran;
using testing::runShell;

class BraidRun : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(BraidRun, EveryRankRunsTheCollectives) {
  auto [transport, n] = GetParam();
  Ran r = runShell(printfString("BRAID_TRANSPORT=%s BRAID_TIMEOUT=60 %s -n %d %s check",
                                transport.c_str(), kRun.c_str(), n, kWorker.c_str()));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  for (int rank = 0; rank < n; ++rank) {
    std::string line = "[" + std::to_string(rank) + "] rank " + std::to_string(rank) + " ok";
    EXPECT_NE(r.output.find(line), std::string::npos) << r.output;
  }
  if (n > 1) {
    EXPECT_NE(r.output.find("transport=" + transport), std::string::npos) << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Ranks, BraidRun,
                         ::testing::Combine(::testing::Values("shm", "tcp"),
                                            ::testing::Values(1, 2, 3, 4)));

class KillARank : public ::testing::TestWithParam<std::string> {};

TEST_P(KillARank, SurvivorsNameTheDeadRankAndNothingIsLeft) {
  // Marks this test's ranks, so that workers of tests running in parallel do not count below.
  std::string mark = printfString("BRAID_TEST_MARK=kill-%d-%s", getpid(), GetParam().c_str());
  Ran r = runShell(
      printfString("BRAID_TRANSPORT=%s BRAID_TIMEOUT=60 %s -n 4 --grace 20 --env %s %s kill 2 3",
                   GetParam().c_str(), kRun.c_str(), mark.c_str(), kWorker.c_str()));
  EXPECT_NE(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("rank 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("signal 9"), std::string::npos) << r.output;
  for (int rank : {0, 1, 3}) {
    // Each survivor's error line names rank 2 (directly or in a peer's report).
    std::string prefix = "[" + std::to_string(rank) + "] rank " + std::to_string(rank) + " error: ";
    size_t at = r.output.find(prefix);
    ASSERT_NE(at, std::string::npos) << r.output;
    std::string line = r.output.substr(at, r.output.find('\n', at) - at);
    EXPECT_NE(line.find("rank 2"), std::string::npos) << line;
    EXPECT_EQ(line.find("timed out"), std::string::npos) << line;
  }
  // Survivors report within seconds (not the 60 s timeout, not braid-run's 20 s grace).
  EXPECT_LT(r.seconds, 15.0) << r.output;
  EXPECT_EQ(testing::processesWithEnvironment(mark), 0);
}

INSTANTIATE_TEST_SUITE_P(Transports, KillARank, ::testing::Values("shm", "tcp"));

// Starts n worker processes with an environment made by envFor(rank); all must exit 0.
void runWithEnvironment(int n, const std::function<std::vector<std::string>(int)>& envFor) {
  std::vector<pid_t> pids;
  for (int rank = 0; rank < n; ++rank) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      if (kv.rfind("BRAID_", 0) == 0 || kv.rfind("RANK=", 0) == 0 || kv.rfind("MASTER_", 0) == 0 ||
          kv.rfind("OMPI_", 0) == 0 || kv.rfind("SLURM_", 0) == 0 ||
          kv.rfind("WORLD_SIZE=", 0) == 0) {
        continue;
      }
      env.push_back(kv);
    }
    for (auto& kv : envFor(rank)) env.push_back(kv);
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    std::string mode = "check";
    char* argv[] = {const_cast<char*>(kWorker.c_str()), mode.data(), nullptr};
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, kWorker.c_str(), nullptr, nullptr, argv, envp.data()), 0);
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
}

TEST(Bootstrap, TorchrunEnvironment) {
  // A free port for rank 0's store.
  auto l = net::listenTcp("127.0.0.1", 0);
  ASSERT_TRUE(l.isOk());
  uint16_t port = net::localPort(l->get()).value();
  l->reset();
  runWithEnvironment(3, [&](int rank) {
    return std::vector<std::string>{"RANK=" + std::to_string(rank),        "WORLD_SIZE=3",
                                    "LOCAL_RANK=" + std::to_string(rank),  "MASTER_ADDR=127.0.0.1",
                                    "MASTER_PORT=" + std::to_string(port), "BRAID_TIMEOUT=30"};
  });
}

TEST(Bootstrap, OpenMpiEnvironment) {
  std::string job = std::to_string(getpid()) + "-" + std::to_string(time(nullptr));
  runWithEnvironment(3, [&](int rank) {
    return std::vector<std::string>{"OMPI_COMM_WORLD_RANK=" + std::to_string(rank),
                                    "OMPI_COMM_WORLD_SIZE=3",
                                    "OMPI_COMM_WORLD_LOCAL_RANK=" + std::to_string(rank),
                                    "OMPI_MCA_ess_base_jobid=" + job, "BRAID_TIMEOUT=30"};
  });
}

TEST(Bootstrap, SlurmEnvironment) {
  std::string job = std::to_string(getpid());
  runWithEnvironment(2, [&](int rank) {
    return std::vector<std::string>{"SLURM_PROCID=" + std::to_string(rank),
                                    "SLURM_NTASKS=2",
                                    "SLURM_LOCALID=" + std::to_string(rank),
                                    "SLURM_JOB_ID=" + job,
                                    "SLURM_STEP_ID=0",
                                    "BRAID_TIMEOUT=30"};
  });
}

TEST(Bootstrap, NoLauncherIsAClearError) {
  Ran r = runShell(
      "env -u RANK -u WORLD_SIZE -u BRAID_STORE_ADDR -u OMPI_COMM_WORLD_RANK "
      "-u SLURM_PROCID " +
      kWorker + " check");
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.output.find("no launcher environment found"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace braid
