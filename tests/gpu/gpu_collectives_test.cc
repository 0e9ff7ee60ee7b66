// GPU tests (ctest label "gpu"): real rank processes, one per GPU (GpuMatrix: see there), started
// by braid-run, each running braid-test-gpu-worker on device buffers. Skipped where no GPU is
// found (the CUDA code is still built there).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "support/shell.h"

namespace braid {
namespace {

using testing::Ran;
using testing::runShell;

const std::string kBin = BRAID_BIN_DIR;
const std::string kRun = kBin + "/tools/braid-run";
const std::string kWorker = kBin + "/tests/braid-test-gpu-worker";

int gpus() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

#define REQUIRE_GPUS(n) \
  if (gpus() < (n)) GTEST_SKIP() << "needs " << (n) << " GPU(s), found " << gpus()

// Runs the worker on n ranks and expects "rank R ok" from each.
void expectOk(int n, const std::string& args, const std::string& env = "") {
  Ran r = runShell(env + " BRAID_TIMEOUT=60 " + kRun + " -n " + std::to_string(n) + " " + kWorker +
                   " " + args);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  for (int rank = 0; rank < n; ++rank) {
    std::string line = "[" + std::to_string(rank) + "] rank " + std::to_string(rank) + " ok";
    EXPECT_NE(r.output.find(line), std::string::npos) << r.output;
  }
}

class GpuMatrix : public ::testing::TestWithParam<int> {};

// 3 and 4 ranks also run on 2 GPUs: braid-run gives rank r GPU r % GPUs, ranks on one GPU map
// each other's memory as peers on others do, and their kernels take turns on it. So every GPU
// machine runs the kernels' general paths (only 2 ranks take the compile-time 2-rank forms). The
// worker's ok line names the path the checks took.
TEST_P(GpuMatrix, EveryCollectiveDtypeOpCountInPlaceAndOffset) {
  REQUIRE_GPUS(std::min(GetParam(), 2));
  expectOk(GetParam(), "matrix");
}
INSTANTIATE_TEST_SUITE_P(Ranks, GpuMatrix, ::testing::Values(1, 2, 3, 4));

// Each GPU algorithm forced at every size: allReduce low-latency one-shot and two-shot (up to
// BRAID_GPU_LL_BYTES), LL128 one-shot and the staged ones; reduceScatter, allGather and
// broadcast with LL and LL128 off, and reduceScatter and allGather LL128 from the smallest size;
// broadcast down the chain, and low-latency up to the LL region's size; on registered buffers the
// direct kernels, and the two-shot into registered outputs, at every size. 3 ranks where there are
// 3 GPUs (uneven two-shot shards).
class GpuAlgorithms : public ::testing::TestWithParam<const char*> {};

TEST_P(GpuAlgorithms, CollectivesWithSeveralAlgorithmsExact) {
  REQUIRE_GPUS(2);
  expectOk(gpus() >= 3 ? 3 : 2, "variants", GetParam());
}
INSTANTIATE_TEST_SUITE_P(
    Forced, GpuAlgorithms,
    ::testing::Values("BRAID_GPU_ALGO=oneshot BRAID_GPU_LL128_BYTES=0", "BRAID_GPU_ALGO=twoshot",
                      "BRAID_GPU_ALGO=oneshot-staged",
                      "BRAID_GPU_LL_BYTES=0 BRAID_GPU_LL128_BYTES=0",
                      "BRAID_GPU_LL_BYTES=0 BRAID_GPU_CHAIN_BYTES=1",
                      "BRAID_GPU_LL_BROADCAST_BYTES=2097152",
                      "BRAID_GPU_ALGO=oneshot-ll128 BRAID_GPU_LL128_BYTES=4194304",
                      "BRAID_GPU_LL_BYTES=8 BRAID_GPU_LL128_BYTES=4194304",
                      "BRAID_TEST_REGISTER=1 BRAID_GPU_DIRECT_BYTES=0",
                      "BRAID_TEST_REGISTER=1 BRAID_GPU_DIRECT_BYTES=0 "
                      "BRAID_GPU_DIRECT_PUSH_BYTES=0"));

// Registered buffers on 2 and 4 GPUs too (the direct kernels' shards and lanes differ); on 2
// with 2 blocks, so that a block's range spans several of the wide tiles and a remainder.
TEST(Gpu, RegisteredBuffersDirectOnTwoAndFourGpus) {
  REQUIRE_GPUS(2);
  expectOk(2, "variants", "BRAID_TEST_REGISTER=1 BRAID_GPU_DIRECT_BYTES=0 BRAID_GPU_BLOCKS=2");
  if (gpus() >= 4) expectOk(4, "variants", "BRAID_TEST_REGISTER=1 BRAID_GPU_DIRECT_BYTES=0");
}

TEST(Gpu, GraphCaptureAndReplayOnRegisteredBuffers) {
  REQUIRE_GPUS(2);
  expectOk(gpus() >= 4 ? 4 : 2, "graph", "BRAID_TEST_REGISTER=1 BRAID_GPU_DIRECT_BYTES=0");
}

TEST(Gpu, RegistrationErrorsAndMismatchedOffsetsAreReported) {
  REQUIRE_GPUS(2);
  expectOk(gpus() >= 3 ? 3 : 2, "mismatch");
}

TEST(Gpu, StagedThroughHostWhenPeerMemoryIsOff) {
  REQUIRE_GPUS(2);
  expectOk(2, "quick", "BRAID_GPU_P2P=0");
}

TEST(Gpu, GraphCaptureAndReplay) {
  REQUIRE_GPUS(2);
  expectOk(gpus() >= 4 ? 4 : 2, "graph");
}

TEST(Gpu, TwoCommunicatorsUsedAlternately) {
  REQUIRE_GPUS(2);
  expectOk(2, "twocomms");
}

// The last rank dies at the 5th allReduce (16 MiB, in place); every survivor's error names it,
// well before the 60 s timeout.
void expectSurvivorsNameTheDead(int n, const std::string& env) {
  const int victim = n - 1;
  Ran r = runShell(env + " BRAID_TIMEOUT=60 " + kRun + " -n " + std::to_string(n) + " --grace 20 " +
                   kWorker + " kill " + std::to_string(victim) + " 5");
  EXPECT_NE(r.exitCode, 0) << r.output;
  const std::string dead = "rank " + std::to_string(victim);
  for (int rank = 0; rank < victim; ++rank) {
    std::string prefix = "[" + std::to_string(rank) + "] rank " + std::to_string(rank) + " error: ";
    size_t at = r.output.find(prefix);
    ASSERT_NE(at, std::string::npos) << r.output;
    std::string line = r.output.substr(at, r.output.find('\n', at) - at);
    EXPECT_NE(line.find(dead), std::string::npos) << line;
  }
  EXPECT_LT(r.seconds, 30.0) << r.output;  // not the 60 s timeout
}

TEST(Gpu, KillARankSurvivorsNameIt) {
  REQUIRE_GPUS(2);
  expectSurvivorsNameTheDead(gpus() >= 4 ? 4 : 2, "");
}

// The same while the warps of an LL128 allReduce wait for the dead rank's lines.
TEST(Gpu, KillARankDuringLl128SurvivorsNameIt) {
  REQUIRE_GPUS(2);
  expectSurvivorsNameTheDead(2, "BRAID_GPU_LL128_BYTES=16777216");
}

}  // namespace
}  // namespace braid
