// Which GPU kernel runs a collective (src/cuda/kernel_plan.h), checked on the CPU where CI runs:
// the GPU tests skip without a GPU, so without this nothing would notice a changed threshold.
// Peer memory is sized as transports/nvlink/transport.cc sizes it from the BRAID_GPU_*
// parameters; the expected kernels and counts follow the rules as the code comments and
// src/params.def document them, written out here rather than computed by the code under test.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "cuda/kernel_plan.h"
#include "cuda/peer_memory.h"
#include "op_desc.h"
#include "params.h"

namespace braid::gpu {
namespace {

using K = CollectiveKind;

constexpr size_t KiB = size_t{1} << 10;
constexpr size_t MiB = size_t{1} << 20;

// The peer memory of rank 0 of `ranks` GPUs as the NVLink transport sets it up: lanes from
// BRAID_GPU_BLOCKS, BRAID_GPU_BUFFER_BYTES over 3 x (ranks - 1) x lanes x 2 parts rounded down
// to 256 bytes, the LL and LL128 slots from their settings in 8-byte units; LL128 by default
// 2 MiB on 2 GPUs and off on more.
cuda::PeerMemory memoryFor(int ranks, const Params& p = Params()) {
  cuda::PeerMemory m;
  m.rank = 0;
  m.size = ranks;
  m.lanes = static_cast<int>(std::clamp<int64_t>(p.gpuBlocks, 1, 128));
  const size_t parts = size_t{3} * (ranks - 1) * m.lanes * 2;
  m.partBytes = static_cast<size_t>(p.gpuBufferBytes) / parts / 256 * 256;
  m.llBytes = static_cast<size_t>(p.gpuLlBytes) / 8 * 8;
  const int64_t ll128 = p.gpuLl128Bytes >= 0 ? p.gpuLl128Bytes : ranks == 2 ? 2 * MiB : 0;
  m.ll128Bytes = static_cast<size_t>(ll128) / 8 * 8;
  return m;
}

// A collective of `bytes` per block (the whole buffer for allReduce and broadcast).
OpDesc op(K kind, size_t bytes, int root = 0) {
  OpDesc d;
  d.kind = kind;
  d.dtype = bytes % 4 == 0 ? DataType::kFloat32 : DataType::kUint8;
  d.count = bytes % 4 == 0 ? bytes / 4 : bytes;
  d.root = root;
  return d;
}

// The staged plan, or a plan named after the error.
KernelPlan plan(const cuda::PeerMemory& m, const Params& p, const OpDesc& d) {
  auto r = planStaged(m, p, d);
  if (!r.isOk()) {
    ADD_FAILURE() << r.status().toString();
    KernelPlan failed;
    failed.what = "error";
    return failed;
  }
  return *r;
}
std::string allReduce(const cuda::PeerMemory& m, const Params& p, size_t bytes) {
  return plan(m, p, op(K::kAllReduce, bytes)).what;
}

TEST(KernelChoice, BlocksOnePer8KiBAtLeastOneAtMostLanes) {
  EXPECT_EQ(blocksFor(0, 64), 1);
  EXPECT_EQ(blocksFor(1, 64), 1);
  EXPECT_EQ(blocksFor(8 * KiB, 64), 1);
  EXPECT_EQ(blocksFor(8 * KiB + 1, 64), 2);
  EXPECT_EQ(blocksFor(64 * KiB, 64), 8);
  EXPECT_EQ(blocksFor(512 * KiB, 64), 64);
  EXPECT_EQ(blocksFor(512 * KiB + 1, 64), 64);
  EXPECT_EQ(blocksFor(1 * MiB, 128), 128);
  EXPECT_EQ(blocksFor(1 * MiB, 3), 3);
  EXPECT_EQ(blocksFor(8 * KiB, 1), 1);
}

TEST(KernelChoice, LlThreadsOnePer8ByteUnitInWholeWarps) {
  const cuda::PeerMemory m = memoryFor(4);  // 64 lanes
  struct Case {
    size_t bytes;
    int blocks, threads;
  };
  // One thread per 8-byte unit, at least one warp, whole warps, at most 512 a block; then more
  // blocks, at most the lanes.
  for (const Case& c : {Case{8, 1, 32}, Case{200, 1, 32}, Case{264, 1, 64}, Case{1000, 1, 128},
                        Case{4 * KiB, 1, 512}, Case{4 * KiB + 8, 2, 512}, Case{8 * KiB, 2, 512},
                        Case{256 * KiB, 64, 512}, Case{1 * MiB, 64, 512}}) {
    const LlShape s = llShape(m, c.bytes);
    EXPECT_EQ(s.blocks, c.blocks) << c.bytes << " bytes";
    EXPECT_EQ(s.threads, c.threads) << c.bytes << " bytes";
  }
  Params few;
  few.gpuBlocks = 3;
  const LlShape s = llShape(memoryFor(4, few), 1 * MiB);
  EXPECT_EQ(s.blocks, 3);
  EXPECT_EQ(s.threads, 512);
}

TEST(KernelChoice, Ll128ThreadsEightPerLineInWholeWarps) {
  const cuda::PeerMemory m = memoryFor(2);  // 64 lanes
  struct Case {
    size_t bytes;
    int blocks, threads;
  };
  // Lines of 120 payload bytes, eight threads each, whole warps, at most 1024 a block.
  for (const Case& c : {Case{8, 1, 32},              // 1 line: 8 threads, one warp
                        Case{480, 1, 32},            // 4 lines: 32 threads
                        Case{488, 1, 64},            // 5 lines: 40 threads
                        Case{1000, 1, 96},           // 9 lines: 72 threads
                        Case{15360, 1, 1024},        // 128 lines: 1024 threads
                        Case{15368, 2, 1024},        // 129 lines
                        Case{16 * KiB, 2, 1024},     // 137 lines
                        Case{1 * MiB, 64, 1024}}) {  // 8739 lines: 69 blocks, at most 64
    const LlShape s = ll128Shape(m, c.bytes);
    EXPECT_EQ(s.blocks, c.blocks) << c.bytes << " bytes";
    EXPECT_EQ(s.threads, c.threads) << c.bytes << " bytes";
    EXPECT_EQ(s.threads % 32, 0);
  }
}

TEST(KernelChoice, Ll128OnByDefaultOnlyOnTwoGpusAndTheSettingWins) {
  EXPECT_EQ(ll128BytesFor(-1, 2), 2 * MiB);
  EXPECT_EQ(ll128BytesFor(-1, 3), 0u);
  EXPECT_EQ(ll128BytesFor(-1, 4), 0u);
  EXPECT_EQ(ll128BytesFor(-1, 8), 0u);
  EXPECT_EQ(ll128BytesFor(0, 2), 0u);
  EXPECT_EQ(ll128BytesFor(512 * KiB, 2), 512 * KiB);
  EXPECT_EQ(ll128BytesFor(4 * MiB, 4), 4 * MiB);
}

TEST(KernelChoice, TwoGpuAllReduceBySize) {
  const Params p;
  const cuda::PeerMemory m = memoryFor(2, p);
  // The default staging holds 8 MiB in one round: 64 lanes of 341.25 KiB parts.
  ASSERT_EQ(m.partBytes, 349440u);
  for (size_t bytes : {size_t{8}, 1 * KiB, 8 * KiB}) {
    EXPECT_EQ(allReduce(m, p, bytes), "low-latency one-shot allReduce") << bytes;
  }
  for (size_t bytes : {8 * KiB + 4, 16 * KiB, 64 * KiB, 1 * MiB, 2 * MiB}) {
    EXPECT_EQ(allReduce(m, p, bytes), "LL128 one-shot allReduce") << bytes;
  }
  for (size_t bytes : {2 * MiB + 4, 4 * MiB, 8 * MiB}) {
    EXPECT_EQ(allReduce(m, p, bytes), "one-shot allReduce") << bytes;
  }
  for (size_t bytes : {8 * MiB + 4, 16 * MiB, 256 * MiB}) {
    EXPECT_EQ(allReduce(m, p, bytes), "two-shot allReduce") << bytes;
  }
  EXPECT_EQ(plan(m, p, op(K::kAllReduce, 8 * KiB)).kernel, Kernel::kLlReduce);
  EXPECT_EQ(plan(m, p, op(K::kAllReduce, 1 * MiB)).kernel, Kernel::kLl128Reduce);
  EXPECT_EQ(plan(m, p, op(K::kAllReduce, 4 * MiB)).kernel, Kernel::kPushReduce);
  EXPECT_EQ(plan(m, p, op(K::kAllReduce, 16 * MiB)).kernel, Kernel::kTwoShot);
}

TEST(KernelChoice, TwoGpuStagedOneShotOnlyInOneStagingRound) {
  Params p;
  p.gpuBufferBytes = 32 * MiB;  // parts of 87296 bytes: 64 lanes hold 5.3 MiB in one round
  cuda::PeerMemory m = memoryFor(2, p);
  EXPECT_EQ(allReduce(m, p, 4 * MiB), "one-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 8 * MiB), "two-shot allReduce");
  p.gpuBufferBytes = 16 * MiB;  // parts of 43520 bytes: 2.7 MiB in one round
  m = memoryFor(2, p);
  EXPECT_EQ(allReduce(m, p, 4 * MiB), "two-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 8 * MiB), "two-shot allReduce");
  // LL and LL128 do not use the staging: unchanged.
  EXPECT_EQ(allReduce(m, p, 8 * KiB), "low-latency one-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 2 * MiB), "LL128 one-shot allReduce");
}

TEST(KernelChoice, TwoGpuLlCarriesUpTo1MiBWhereLl128DoesNotCoverIt) {
  Params p;
  p.gpuLl128Bytes = 0;
  cuda::PeerMemory m = memoryFor(2, p);
  EXPECT_EQ(m.ll128Bytes, 0u);
  for (size_t bytes : {size_t{8}, 16 * KiB, 1 * MiB}) {
    EXPECT_EQ(allReduce(m, p, bytes), "low-latency one-shot allReduce") << bytes;
  }
  EXPECT_EQ(allReduce(m, p, 1 * MiB + 4), "one-shot allReduce");
  EXPECT_EQ(plan(m, p, op(K::kReduceScatter, 1 * MiB)).what,
            std::string("low-latency reduceScatter"));
  // LL128 below 1 MiB does not take over from LL at 8 KiB, and above LL's limit it is too small.
  p.gpuLl128Bytes = 512 * KiB;
  m = memoryFor(2, p);
  EXPECT_EQ(allReduce(m, p, 16 * KiB), "low-latency one-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 1 * MiB), "low-latency one-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 1 * MiB + 4), "one-shot allReduce");
  // A smaller LL slot (BRAID_GPU_LL_BYTES) is the limit where it is below 8 KiB.
  p = Params();
  p.gpuLlBytes = 4 * KiB;
  m = memoryFor(2, p);
  EXPECT_EQ(allReduce(m, p, 4 * KiB), "low-latency one-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 4 * KiB + 4), "LL128 one-shot allReduce");
}

TEST(KernelChoice, FourGpuAllReduceBySize) {
  Params p;
  cuda::PeerMemory m = memoryFor(4, p);
  EXPECT_EQ(m.ll128Bytes, 0u);
  for (size_t bytes : {size_t{8}, 8 * KiB, 64 * KiB, 128 * KiB}) {  // BRAID_GPU_ONESHOT_BYTES
    EXPECT_EQ(allReduce(m, p, bytes), "low-latency one-shot allReduce") << bytes;
  }
  for (size_t bytes : {128 * KiB + 4, 256 * KiB, 1 * MiB, 2 * MiB}) {  // the LL slot
    EXPECT_EQ(allReduce(m, p, bytes), "low-latency two-shot allReduce") << bytes;
  }
  for (size_t bytes : {2 * MiB + 4, 4 * MiB, 8 * MiB, 256 * MiB}) {
    EXPECT_EQ(allReduce(m, p, bytes), "two-shot allReduce") << bytes;
  }
  EXPECT_EQ(plan(m, p, op(K::kAllReduce, 1 * MiB)).kernel, Kernel::kLlTwoShot);
  // A larger BRAID_GPU_ONESHOT_BYTES: one-shot up to it, staged where LL does not fit.
  p.gpuOneShotBytes = 8 * MiB;
  EXPECT_EQ(allReduce(m, p, 1 * MiB), "low-latency one-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 8 * MiB), "one-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 8 * MiB + 4), "two-shot allReduce");
  // LL128 asked for on 4 GPUs: one-shot above the LL slot up to BRAID_GPU_ONESHOT_BYTES only.
  p = Params();
  p.gpuLlBytes = 64 * KiB;
  p.gpuLl128Bytes = 4 * MiB;
  m = memoryFor(4, p);
  EXPECT_EQ(allReduce(m, p, 64 * KiB), "low-latency one-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 96 * KiB), "LL128 one-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 256 * KiB), "two-shot allReduce");
}

TEST(KernelChoice, LlTwoShotOnlyWhereBothShardsFitTheLlSlot) {
  // Two shards of ceil(units / ranks) 8-byte units each must fit the LL slot. A 4104-byte slot
  // (513 units) on 2 GPUs: 4096 bytes take shards of 256 units (4096 bytes), 4104 bytes shards
  // of 257 (4112 bytes, too many).
  Params p;
  p.gpuLl128Bytes = 0;
  p.gpuLlBytes = 4104;
  p.gpuAlgo = "twoshot";
  const cuda::PeerMemory m = memoryFor(2, p);
  EXPECT_EQ(allReduce(m, p, 4096), "low-latency two-shot allReduce");
  EXPECT_EQ(allReduce(m, p, 4104), "two-shot allReduce");
}

TEST(KernelChoice, ForcedAlgorithmsDoWhatTheySay) {
  Params p;
  const cuda::PeerMemory two = memoryFor(2, p), four = memoryFor(4, p);
  p.gpuAlgo = "oneshot";  // low-latency or LL128 where the size fits, else staged
  EXPECT_EQ(allReduce(two, p, 8 * KiB), "low-latency one-shot allReduce");
  EXPECT_EQ(allReduce(two, p, 1 * MiB), "LL128 one-shot allReduce");
  EXPECT_EQ(allReduce(two, p, 16 * MiB), "one-shot allReduce");
  EXPECT_EQ(allReduce(four, p, 1 * MiB), "low-latency one-shot allReduce");
  EXPECT_EQ(allReduce(four, p, 4 * MiB), "one-shot allReduce");
  p.gpuAlgo = "twoshot";  // low-latency where the shards fit, else staged (never LL128)
  EXPECT_EQ(allReduce(two, p, 8), "low-latency two-shot allReduce");
  EXPECT_EQ(allReduce(two, p, 1 * MiB), "two-shot allReduce");
  EXPECT_EQ(allReduce(four, p, 8), "low-latency two-shot allReduce");
  EXPECT_EQ(allReduce(four, p, 4 * MiB), "two-shot allReduce");
  p.gpuAlgo = "oneshot-ll128";  // LL128 wherever it fits BRAID_GPU_LL128_BYTES
  EXPECT_EQ(allReduce(two, p, 8), "LL128 one-shot allReduce");
  EXPECT_EQ(allReduce(two, p, 2 * MiB), "LL128 one-shot allReduce");
  EXPECT_EQ(allReduce(two, p, 2 * MiB + 4), "one-shot allReduce");
  EXPECT_EQ(allReduce(four, p, 8), "one-shot allReduce");  // LL128 off on 4 GPUs
  p.gpuAlgo = "oneshot-staged";
  EXPECT_EQ(allReduce(two, p, 8), "one-shot allReduce");
  EXPECT_EQ(allReduce(four, p, 256 * MiB), "one-shot allReduce");
  p.gpuAlgo = "twoshot-staged";
  EXPECT_EQ(allReduce(two, p, 8), "two-shot allReduce");
  EXPECT_EQ(allReduce(four, p, 8), "two-shot allReduce");
  // Only allReduce is forced.
  EXPECT_EQ(plan(two, p, op(K::kReduceScatter, 8)).what, std::string("low-latency reduceScatter"));
}

TEST(KernelChoice, UnknownForcedAlgorithmIsAnInvalidArgumentListingTheChoices) {
  Params p;
  p.gpuAlgo = "fastest";
  for (int ranks : {2, 4}) {
    for (size_t bytes : {size_t{8}, 16 * MiB}) {
      auto r = planStaged(memoryFor(ranks, p), p, op(K::kAllReduce, bytes));
      ASSERT_FALSE(r.isOk()) << ranks << " GPUs, " << bytes << " bytes";
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      const std::string& message = r.status().message();
      EXPECT_NE(message.find("BRAID_GPU_ALGO=fastest"), std::string::npos) << message;
      for (const char* accepted :
           {"oneshot,", "twoshot,", "oneshot-ll128", "oneshot-staged", "twoshot-staged"}) {
        EXPECT_NE(message.find(accepted), std::string::npos) << accepted << ": " << message;
      }
    }
  }
  // Other kinds do not read it.
  EXPECT_TRUE(planStaged(memoryFor(2, p), p, op(K::kAllGather, 8)).isOk());
}

TEST(KernelChoice, ReduceScatterAndAllGatherProtocolByBlockSize) {
  const Params p;
  const cuda::PeerMemory two = memoryFor(2, p), four = memoryFor(4, p);
  struct Case {
    const cuda::PeerMemory* m;
    size_t block;
    const char* scatter;
    const char* gather;
  };
  for (const Case& c : {
           Case{&two, 8, "low-latency reduceScatter", "low-latency allGather"},
           Case{&two, 8 * KiB, "low-latency reduceScatter", "low-latency allGather"},
           Case{&two, 8 * KiB + 4, "LL128 reduceScatter", "LL128 allGather"},
           Case{&two, 2 * MiB, "LL128 reduceScatter", "LL128 allGather"},
           Case{&two, 2 * MiB + 4, "reduceScatter", "allGather"},
           Case{&four, 8, "low-latency reduceScatter", "low-latency allGather"},
           Case{&four, 2 * MiB, "low-latency reduceScatter", "low-latency allGather"},
           Case{&four, 2 * MiB + 4, "reduceScatter", "allGather"},
       }) {
    SCOPED_TRACE(testing::Message() << c.m->size << " GPUs, blocks of " << c.block);
    EXPECT_EQ(plan(*c.m, p, op(K::kReduceScatter, c.block)).what, std::string(c.scatter));
    EXPECT_EQ(plan(*c.m, p, op(K::kAllGather, c.block)).what, std::string(c.gather));
  }
  EXPECT_EQ(plan(two, p, op(K::kReduceScatter, 8)).kernel, Kernel::kLlReduce);
  EXPECT_EQ(plan(two, p, op(K::kReduceScatter, 1 * MiB)).kernel, Kernel::kLl128Reduce);
  EXPECT_EQ(plan(two, p, op(K::kReduceScatter, 4 * MiB)).kernel, Kernel::kPushReduce);
  EXPECT_EQ(plan(two, p, op(K::kAllGather, 8)).kernel, Kernel::kLlAllGather);
  EXPECT_EQ(plan(two, p, op(K::kAllGather, 1 * MiB)).kernel, Kernel::kLl128AllGather);
  EXPECT_EQ(plan(two, p, op(K::kAllGather, 4 * MiB)).kernel, Kernel::kPushCopy);
}

TEST(KernelChoice, ReduceAndAllToAllAlwaysStaged) {
  const Params p;
  for (int ranks : {2, 4}) {
    const cuda::PeerMemory m = memoryFor(ranks, p);
    for (size_t bytes : {size_t{8}, 1 * MiB, 64 * MiB}) {
      const KernelPlan reduce = plan(m, p, op(K::kReduce, bytes, 1));
      EXPECT_EQ(reduce.kernel, Kernel::kPushReduce);
      EXPECT_EQ(reduce.what, std::string("reduce"));
      const KernelPlan allToAll = plan(m, p, op(K::kAllToAll, bytes));
      EXPECT_EQ(allToAll.kernel, Kernel::kPushCopy);
      EXPECT_EQ(allToAll.what, std::string("allToAll"));
    }
  }
}

TEST(KernelChoice, BroadcastBySize) {
  Params p;
  auto broadcast = [&](int ranks, size_t bytes) {
    return std::string(plan(memoryFor(ranks, p), p, op(K::kBroadcast, bytes, 1)).what);
  };
  // 2 GPUs: low-latency up to 1 MiB, then the root's push (never the chain).
  EXPECT_EQ(broadcast(2, 8), "low-latency broadcast");
  EXPECT_EQ(broadcast(2, 1 * MiB), "low-latency broadcast");
  EXPECT_EQ(broadcast(2, 1 * MiB + 4), "broadcast");
  EXPECT_EQ(broadcast(2, 256 * MiB), "broadcast");
  // 3+ GPUs: low-latency up to BRAID_GPU_ONESHOT_BYTES, the chain from BRAID_GPU_CHAIN_BYTES.
  for (int ranks : {3, 4, 8}) {
    EXPECT_EQ(broadcast(ranks, 128 * KiB), "low-latency broadcast") << ranks;
    EXPECT_EQ(broadcast(ranks, 128 * KiB + 4), "broadcast") << ranks;
    EXPECT_EQ(broadcast(ranks, 256 * KiB - 4), "broadcast") << ranks;
    EXPECT_EQ(broadcast(ranks, 256 * KiB), "broadcast (chain)") << ranks;
    EXPECT_EQ(broadcast(ranks, 256 * MiB), "broadcast (chain)") << ranks;
  }
  // The chain moved up: scatter + allGather from 8 MiB until it starts.
  p.gpuChainBytes = 64 * MiB;
  EXPECT_EQ(broadcast(4, 8 * MiB - 4), "broadcast");
  EXPECT_EQ(broadcast(4, 8 * MiB), "broadcast (scatter + allGather)");
  EXPECT_EQ(broadcast(4, 64 * MiB - 4), "broadcast (scatter + allGather)");
  EXPECT_EQ(broadcast(4, 64 * MiB), "broadcast (chain)");
  EXPECT_EQ(broadcast(2, 8 * MiB), "broadcast");
  // BRAID_GPU_LL_BROADCAST_BYTES, within the LL slot (BRAID_GPU_LL_BYTES, 2 MiB).
  p = Params();
  p.gpuLlBroadcastBytes = 4 * MiB;
  EXPECT_EQ(broadcast(2, 2 * MiB), "low-latency broadcast");
  EXPECT_EQ(broadcast(2, 2 * MiB + 4), "broadcast");
  EXPECT_EQ(broadcast(4, 2 * MiB), "low-latency broadcast");
  EXPECT_EQ(broadcast(4, 2 * MiB + 4), "broadcast (chain)");
  p.gpuLlBroadcastBytes = 4 * KiB;
  EXPECT_EQ(broadcast(2, 4 * KiB), "low-latency broadcast");
  EXPECT_EQ(broadcast(2, 4 * KiB + 4), "broadcast");
}

TEST(KernelChoice, ScatterAllGatherBroadcastBlocksAndTail) {
  Params p;
  p.gpuChainBytes = 1024 * MiB;
  // 3 GPUs, 8 MiB + 100 bytes: blocks of 2796224 bytes (a third, rounded down to 16), a tail
  // of 36 bytes in one block.
  KernelPlan s = plan(memoryFor(3, p), p, op(K::kBroadcast, 8 * MiB + 100));
  EXPECT_EQ(s.kernel, Kernel::kScatterAllGatherBroadcast);
  EXPECT_EQ(s.block, 2796224u);
  EXPECT_EQ(s.blocks, 64);
  EXPECT_EQ(s.tailBlocks, 1);
  // 4 GPUs, 8 MiB: 2 MiB each, no tail; 3 lanes cap the blocks.
  p.gpuBlocks = 3;
  s = plan(memoryFor(4, p), p, op(K::kBroadcast, 8 * MiB));
  EXPECT_EQ(s.block, 2 * MiB);
  EXPECT_EQ(s.blocks, 3);
  EXPECT_EQ(s.tailBlocks, 0);
}

TEST(KernelChoice, StagedBlocksPerDestination) {
  Params p;
  p.gpuBlocks = 128;
  p.gpuLlBytes = 0;  // everything staged
  const cuda::PeerMemory four = memoryFor(4, p);
  // Two-shot: blocks for each rank's quarter; one-shot and the others: for the whole block.
  KernelPlan k = plan(four, p, op(K::kAllReduce, 256 * KiB));
  EXPECT_EQ(k.kernel, Kernel::kTwoShot);
  EXPECT_EQ(k.blocks, 8);
  k = plan(four, p, op(K::kAllReduce, 64 * KiB));
  EXPECT_EQ(k.kernel, Kernel::kPushReduce);
  EXPECT_EQ(k.blocks, 8);
  EXPECT_EQ(plan(four, p, op(K::kReduceScatter, 24 * KiB)).blocks, 3);
  EXPECT_EQ(plan(four, p, op(K::kAllGather, 4 * MiB)).blocks, 128);
  EXPECT_EQ(plan(four, p, op(K::kBroadcast, 4 * MiB)).blocks, 128);  // the chain
  EXPECT_EQ(plan(four, p, op(K::kReduce, 4)).blocks, 1);
  // Low-latency plans carry the LL shape: 1 MiB on 2 GPUs is LL128, 8739 lines.
  const Params defaults;
  k = plan(memoryFor(2, defaults), defaults, op(K::kAllReduce, 1 * MiB));
  EXPECT_EQ(k.blocks, 64);
  EXPECT_EQ(k.threads, 1024);
  k = plan(memoryFor(2, defaults), defaults, op(K::kAllReduce, 1000));
  EXPECT_EQ(k.blocks, 1);
  EXPECT_EQ(k.threads, 128);
}

TEST(KernelChoice, DirectFromDirectBytesOfTheWholeBufferUnlessForced) {
  Params p;  // BRAID_GPU_DIRECT_BYTES 2 MiB
  const cuda::PeerMemory two = memoryFor(2, p), four = memoryFor(4, p);
  EXPECT_TRUE(directWanted(two, p, op(K::kAllReduce, 2 * MiB)));
  EXPECT_FALSE(directWanted(two, p, op(K::kAllReduce, 2 * MiB - 4)));
  // reduceScatter and allGather count every rank's block.
  EXPECT_TRUE(directWanted(two, p, op(K::kReduceScatter, 1 * MiB)));
  EXPECT_FALSE(directWanted(two, p, op(K::kReduceScatter, 1 * MiB - 4)));
  EXPECT_TRUE(directWanted(four, p, op(K::kAllGather, 512 * KiB)));
  EXPECT_FALSE(directWanted(four, p, op(K::kAllGather, 256 * KiB)));
  EXPECT_EQ(directSpan(four, op(K::kAllGather, 512 * KiB)), 2 * MiB);
  EXPECT_EQ(directSpan(four, op(K::kAllReduce, 512 * KiB)), 512 * KiB);
  // Other kinds never.
  EXPECT_FALSE(directWanted(four, p, op(K::kBroadcast, 64 * MiB)));
  EXPECT_FALSE(directWanted(four, p, op(K::kReduce, 64 * MiB)));
  EXPECT_FALSE(directWanted(four, p, op(K::kAllToAll, 64 * MiB)));
  // -1: never; a forced algorithm: never.
  p.gpuDirectBytes = -1;
  EXPECT_FALSE(directWanted(two, p, op(K::kAllReduce, 64 * MiB)));
  p = Params();
  p.gpuAlgo = "oneshot";
  EXPECT_FALSE(directWanted(two, p, op(K::kAllReduce, 64 * MiB)));
  p = Params();
  p.gpuDirectBytes = 0;
  EXPECT_TRUE(directWanted(two, p, op(K::kAllReduce, 8)));
}

TEST(KernelChoice, DirectKernelsAndTheirBlocks) {
  Params p;
  const cuda::PeerMemory two = memoryFor(2, p), four = memoryFor(4, p);
  KernelPlan k = planDirect(two, p, op(K::kAllReduce, 2 * MiB));
  EXPECT_EQ(k.kernel, Kernel::kDirectAllReduce);
  EXPECT_EQ(k.what, std::string("direct allReduce"));
  EXPECT_EQ(k.blocks, 64);  // 1 MiB each: 128 blocks of 8 KiB, at most the lanes
  // One block per whole 8 KiB of this rank's part (rounded down), at least one.
  EXPECT_EQ(directBlocks(two, op(K::kAllReduce, 24 * KiB)), 1);
  EXPECT_EQ(directBlocks(two, op(K::kAllReduce, 32 * KiB)), 2);
  EXPECT_EQ(directBlocks(four, op(K::kAllReduce, 256 * KiB)), 8);
  EXPECT_EQ(directBlocks(four, op(K::kReduceScatter, 256 * KiB)), 32);
  EXPECT_EQ(directBlocks(four, op(K::kAllGather, 4 * KiB)), 1);
  k = planDirect(four, p, op(K::kReduceScatter, 1 * MiB));
  EXPECT_EQ(k.kernel, Kernel::kDirectReduceScatter);
  EXPECT_EQ(k.what, std::string("direct reduceScatter"));
  k = planDirect(four, p, op(K::kAllGather, 1 * MiB));
  EXPECT_EQ(k.kernel, Kernel::kDirectAllGather);
  EXPECT_EQ(k.what, std::string("direct allGather"));
  // BRAID_GPU_DIRECT_PUSH_BYTES: from there, two-shot into the registered outputs.
  p.gpuDirectPushBytes = 4 * MiB;
  k = planDirect(four, p, op(K::kAllReduce, 4 * MiB - 4));
  EXPECT_EQ(k.kernel, Kernel::kDirectAllReduce);
  k = planDirect(four, p, op(K::kAllReduce, 256 * KiB));
  EXPECT_EQ(k.kernel, Kernel::kDirectAllReduce);
  EXPECT_EQ(k.blocks, 8);
  k = planDirect(four, p, op(K::kAllReduce, 4 * MiB));
  EXPECT_EQ(k.kernel, Kernel::kTwoShotRegistered);
  EXPECT_EQ(k.what, std::string("two-shot allReduce into registered outputs"));
  EXPECT_EQ(k.blocks, 64);
  p.gpuBlocks = 128;
  // Its blocks are the staged ones for each rank's part (rounded up), not the direct kernels'.
  const cuda::PeerMemory eight = memoryFor(8, p);
  k = planDirect(eight, p, op(K::kAllReduce, 4 * MiB + 64));
  EXPECT_EQ(k.kernel, Kernel::kTwoShotRegistered);
  EXPECT_EQ(k.blocks, 65);  // 512 KiB + 8 bytes each
  EXPECT_EQ(directBlocks(eight, op(K::kAllReduce, 4 * MiB + 64)), 64);
}

TEST(KernelChoice, KindsWithoutAGpuAlgorithmAreUnsupported) {
  const Params p;
  for (K kind : {K::kBarrier, K::kSend, K::kRecv}) {
    auto r = planStaged(memoryFor(2, p), p, op(kind, 8));
    ASSERT_FALSE(r.isOk());
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  }
}

}  // namespace
}  // namespace braid::gpu
