// The staged GPU kernels' arguments (src/cuda/kernel_args.h), checked on the CPU: the GPU tests
// skip without a GPU, so without this nothing would notice a wrong stride, mask or offset until
// a GPU run. The buffers are fake addresses (never dereferenced) so that every pointer the
// filling computes can be compared; the expected values are written out by hand from the
// contracts in algorithms/cuda/kernels.h, not computed by the code under test. Built only with
// CUDA (kernels.h includes cuda_runtime.h).
#include "cuda/kernel_args.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "cuda/kernel_plan.h"
#include "cuda/kernels.h"
#include "cuda/peer_memory.h"
#include "op_desc.h"

namespace braid::gpu {
namespace {

using K = CollectiveKind;

constexpr size_t MiB = size_t{1} << 20;

// Fake device buffers, far apart: offsets into them are compared, never dereferenced.
constexpr uintptr_t kSend = 0x10000000, kRecv = 0x40000000;
const void* sendAt(uintptr_t offset) { return reinterpret_cast<const void*>(kSend + offset); }
void* recvAt(uintptr_t offset) { return reinterpret_cast<void*>(kRecv + offset); }

// The peer memory of `rank` of `ranks` GPUs: the arguments read only the rank and the size (the
// sizes the kernel choice reads are tests/kernel_choice_test.cc's).
cuda::PeerMemory memoryFor(int ranks, int rank) {
  cuda::PeerMemory m;
  m.rank = rank;
  m.size = ranks;
  return m;
}

// A call on the fake buffers: `count` elements of dtype (per block where the kind has blocks).
OpDesc op(K kind, DataType dtype, size_t count, int root = 0) {
  OpDesc d;
  d.kind = kind;
  d.send = sendAt(0);
  d.recv = recvAt(0);
  d.count = count;
  d.dtype = dtype;
  d.root = root;
  return d;
}

// A plan with distinct, recognisable numbers, so that a field copied from the wrong place shows.
KernelPlan planOf(Kernel kernel, int blocks, int threads = 0, size_t block = 0,
                  int tailBlocks = 0) {
  KernelPlan plan;
  plan.kernel = kernel;
  plan.blocks = blocks;
  plan.threads = threads;
  plan.block = block;
  plan.tailBlocks = tailBlocks;
  return plan;
}

TEST(KernelArgs, BlockBytesAreElementsTimesTheirSize) {
  EXPECT_EQ(blockBytes(op(K::kAllReduce, DataType::kFloat32, 250)), 1000u);
  EXPECT_EQ(blockBytes(op(K::kAllGather, DataType::kUint8, 250)), 250u);
  EXPECT_EQ(blockBytes(op(K::kReduceScatter, DataType::kFloat64, 250)), 2000u);
}

TEST(KernelArgs, LlAllReduceOneBlockNoStrides) {
  const cuda::LlArgs a =
      llArgs(planOf(Kernel::kLlReduce, 3, 96), op(K::kAllReduce, DataType::kFloat32, 250));
  EXPECT_EQ(a.input, sendAt(0));
  EXPECT_EQ(a.output, recvAt(0));
  EXPECT_EQ(a.bytes, 1000u);  // bytes, not elements
  EXPECT_EQ(a.inputStride, 0u);
  EXPECT_EQ(a.outputStride, 0u);
  EXPECT_EQ(a.blocks, 3);
  EXPECT_EQ(a.threads, 96);
}

TEST(KernelArgs, LlReduceScatterStridesTheInputByTheBlock) {
  const cuda::LlArgs a =
      llArgs(planOf(Kernel::kLl128Reduce, 5, 1024), op(K::kReduceScatter, DataType::kFloat32, 256));
  EXPECT_EQ(a.input, sendAt(0));
  EXPECT_EQ(a.output, recvAt(0));
  EXPECT_EQ(a.bytes, 1024u);
  EXPECT_EQ(a.inputStride, 1024u);
  EXPECT_EQ(a.outputStride, 0u);
  EXPECT_EQ(a.blocks, 5);
  EXPECT_EQ(a.threads, 1024);
}

TEST(KernelArgs, LlAllGatherStridesTheOutputByTheBlock) {
  const cuda::LlArgs a =
      llArgs(planOf(Kernel::kLlAllGather, 2, 64), op(K::kAllGather, DataType::kFloat64, 100));
  EXPECT_EQ(a.input, sendAt(0));
  EXPECT_EQ(a.output, recvAt(0));
  EXPECT_EQ(a.bytes, 800u);
  EXPECT_EQ(a.inputStride, 0u);
  EXPECT_EQ(a.outputStride, 800u);
  EXPECT_EQ(a.blocks, 2);
  EXPECT_EQ(a.threads, 64);
}

TEST(KernelArgs, LlBroadcastOneBlockNoStrides) {
  const cuda::LlArgs a =
      llArgs(planOf(Kernel::kLlBroadcast, 4, 512), op(K::kBroadcast, DataType::kUint8, 4096, 2));
  EXPECT_EQ(a.bytes, 4096u);
  EXPECT_EQ(a.inputStride, 0u);
  EXPECT_EQ(a.outputStride, 0u);
  EXPECT_EQ(a.blocks, 4);
  EXPECT_EQ(a.threads, 512);
}

TEST(KernelArgs, TwoShotCountsElementsAndLeavesTheRegisteredOutputsUnset) {
  const cuda::TwoShotArgs a =
      twoShotArgs(planOf(Kernel::kTwoShot, 32), op(K::kAllReduce, DataType::kFloat32, 1 * MiB));
  EXPECT_EQ(a.input, sendAt(0));
  EXPECT_EQ(a.output, recvAt(0));
  EXPECT_EQ(a.count, 1048576u);  // elements, not bytes
  EXPECT_EQ(a.blocks, 32);
  for (int r = 0; r < cuda::kMaxRanks; ++r) EXPECT_EQ(a.outputs[r], nullptr) << r;
  EXPECT_EQ(a.check, 0u);
}

TEST(KernelArgs, PushReduceAllReduceToEveryoneWithoutStride) {
  for (int ranks : {2, 4}) {
    SCOPED_TRACE(testing::Message() << ranks << " GPUs");
    const cuda::PeerMemory m = memoryFor(ranks, 1);
    const cuda::PushReduceArgs a = pushReduceArgs(m, planOf(Kernel::kPushReduce, 7),
                                                  op(K::kAllReduce, DataType::kFloat32, 1000));
    EXPECT_EQ(a.input, sendAt(0));
    EXPECT_EQ(a.output, recvAt(0));
    EXPECT_EQ(a.inputStride, 0u);
    EXPECT_EQ(a.count, 1000u);
    EXPECT_EQ(a.receivers, ranks == 2 ? 0x3u : 0xFu);
    EXPECT_EQ(a.blocks, 7);
  }
}

TEST(KernelArgs, PushReduceReduceScatterStridesTheInputByTheBlockBytes) {
  for (int ranks : {2, 4}) {
    SCOPED_TRACE(testing::Message() << ranks << " GPUs");
    const cuda::PeerMemory m = memoryFor(ranks, 0);
    const cuda::PushReduceArgs a = pushReduceArgs(m, planOf(Kernel::kPushReduce, 9),
                                                  op(K::kReduceScatter, DataType::kFloat32, 1000));
    EXPECT_EQ(a.input, sendAt(0));
    EXPECT_EQ(a.output, recvAt(0));
    EXPECT_EQ(a.inputStride, 4000u);  // bytes of one block
    EXPECT_EQ(a.count, 1000u);        // elements of one block
    EXPECT_EQ(a.receivers, ranks == 2 ? 0x3u : 0xFu);
    EXPECT_EQ(a.blocks, 9);
  }
}

TEST(KernelArgs, PushReduceReduceOnlyToTheRoot) {
  struct Case {
    int ranks, rank, root;
    uint32_t receivers;
  };
  for (const Case& c : {Case{2, 0, 1, 0x2u}, Case{4, 0, 1, 0x2u}, Case{4, 3, 1, 0x2u},
                        Case{4, 1, 3, 0x8u}, Case{4, 2, 0, 0x1u}}) {
    SCOPED_TRACE(testing::Message()
                 << "rank " << c.rank << " of " << c.ranks << ", root " << c.root);
    const cuda::PushReduceArgs a =
        pushReduceArgs(memoryFor(c.ranks, c.rank), planOf(Kernel::kPushReduce, 2),
                       op(K::kReduce, DataType::kInt32, 64, c.root));
    EXPECT_EQ(a.receivers, c.receivers);
    EXPECT_EQ(a.inputStride, 0u);
    EXPECT_EQ(a.count, 64u);
    EXPECT_EQ(a.blocks, 2);
  }
}

TEST(KernelArgs, PushCopyBroadcastFromTheRootToTheOthers) {
  // 4 GPUs, root 2: the root sends (0b0100) to ranks 0, 1 and 3 (0b1011) and copies its own.
  const OpDesc d = op(K::kBroadcast, DataType::kUint8, 3 * MiB, 2);
  const KernelPlan plan = planOf(Kernel::kPushCopy, 11);
  const cuda::PushCopyArgs root = pushCopyArgs(memoryFor(4, 2), plan, d);
  EXPECT_EQ(root.input, sendAt(0));
  EXPECT_EQ(root.output, recvAt(0));
  EXPECT_EQ(root.bytes, 3145728u);
  EXPECT_EQ(root.inputStride, 0u);
  EXPECT_EQ(root.outputStride, 0u);
  EXPECT_EQ(root.senders, 0x4u);
  EXPECT_EQ(root.receivers, 0xBu);
  EXPECT_TRUE(root.ownCopy);
  EXPECT_EQ(root.blocks, 11);
  const cuda::PushCopyArgs other = pushCopyArgs(memoryFor(4, 1), plan, d);
  EXPECT_EQ(other.output, recvAt(0));
  EXPECT_EQ(other.bytes, 3145728u);
  EXPECT_EQ(other.inputStride, 0u);
  EXPECT_EQ(other.outputStride, 0u);
  EXPECT_EQ(other.senders, 0x4u);
  EXPECT_EQ(other.receivers, 0xBu);
  EXPECT_FALSE(other.ownCopy);
  EXPECT_EQ(other.blocks, 11);
  // 2 GPUs, root 1.
  const cuda::PushCopyArgs two =
      pushCopyArgs(memoryFor(2, 0), plan, op(K::kBroadcast, DataType::kUint8, 100, 1));
  EXPECT_EQ(two.senders, 0x2u);
  EXPECT_EQ(two.receivers, 0x1u);
  EXPECT_FALSE(two.ownCopy);
}

TEST(KernelArgs, PushCopyAllGatherEveryoneToEveryoneIntoItsBlock) {
  for (int ranks : {2, 4}) {
    SCOPED_TRACE(testing::Message() << ranks << " GPUs");
    const cuda::PushCopyArgs a = pushCopyArgs(memoryFor(ranks, 1), planOf(Kernel::kPushCopy, 13),
                                              op(K::kAllGather, DataType::kFloat16, 3000));
    EXPECT_EQ(a.input, sendAt(0));
    EXPECT_EQ(a.output, recvAt(0));
    EXPECT_EQ(a.bytes, 6000u);
    EXPECT_EQ(a.inputStride, 0u);
    EXPECT_EQ(a.outputStride, 6000u);
    EXPECT_EQ(a.senders, ranks == 2 ? 0x3u : 0xFu);
    EXPECT_EQ(a.receivers, ranks == 2 ? 0x3u : 0xFu);
    EXPECT_TRUE(a.ownCopy);
    EXPECT_EQ(a.blocks, 13);
  }
}

TEST(KernelArgs, PushCopyAllToAllStridesBothSides) {
  const cuda::PushCopyArgs a = pushCopyArgs(memoryFor(4, 0), planOf(Kernel::kPushCopy, 6),
                                            op(K::kAllToAll, DataType::kInt64, 512));
  EXPECT_EQ(a.input, sendAt(0));
  EXPECT_EQ(a.output, recvAt(0));
  EXPECT_EQ(a.bytes, 4096u);
  EXPECT_EQ(a.inputStride, 4096u);
  EXPECT_EQ(a.outputStride, 4096u);
  EXPECT_EQ(a.senders, 0xFu);
  EXPECT_EQ(a.receivers, 0xFu);
  EXPECT_TRUE(a.ownCopy);
  EXPECT_EQ(a.blocks, 6);
}

// 3 GPUs, root 1, 8 MiB + 100 bytes (kernel_choice_test.cc checks that plan):
// blocks of 2796224 bytes, a body of 8388672 bytes and a tail of 36.
constexpr size_t kUnevenBytes = 8 * MiB + 100, kUnevenBlock = 2796224;

TEST(KernelArgs, ScatterAllGatherBroadcastAtTheRootWithATail) {
  const ScatterAllGatherArgs a = scatterAllGatherArgs(
      memoryFor(3, 1), planOf(Kernel::kScatterAllGatherBroadcast, 64, 0, kUnevenBlock, 1),
      op(K::kBroadcast, DataType::kUint8, kUnevenBytes, 1));
  // The root sends block d of its buffer to rank d (ranks 0 and 2) and copies block 1 itself.
  EXPECT_EQ(a.scatter.input, sendAt(0));
  EXPECT_EQ(a.scatter.inputStride, 2796224u);
  EXPECT_EQ(a.scatter.output, recvAt(2796224));  // recv + rank 1 * block
  EXPECT_EQ(a.scatter.outputStride, 0u);
  EXPECT_EQ(a.scatter.bytes, 2796224u);
  EXPECT_EQ(a.scatter.senders, 0x2u);
  EXPECT_EQ(a.scatter.receivers, 0x5u);
  EXPECT_TRUE(a.scatter.ownCopy);
  EXPECT_EQ(a.scatter.blocks, 64);
  // Every rank sends its block to everyone, into block s of the output; its own is in place.
  EXPECT_EQ(a.gather.input, recvAt(2796224));
  EXPECT_EQ(a.gather.inputStride, 0u);
  EXPECT_EQ(a.gather.output, recvAt(0));
  EXPECT_EQ(a.gather.outputStride, 2796224u);
  EXPECT_EQ(a.gather.bytes, 2796224u);
  EXPECT_EQ(a.gather.senders, 0x7u);
  EXPECT_EQ(a.gather.receivers, 0x7u);
  EXPECT_FALSE(a.gather.ownCopy);
  EXPECT_EQ(a.gather.blocks, 64);
  // The root pushes the last 36 bytes to the others and copies them itself.
  ASSERT_TRUE(a.hasTail);
  EXPECT_EQ(a.tail.input, sendAt(8388672));
  EXPECT_EQ(a.tail.inputStride, 0u);
  EXPECT_EQ(a.tail.output, recvAt(8388672));
  EXPECT_EQ(a.tail.outputStride, 0u);
  EXPECT_EQ(a.tail.bytes, 36u);
  EXPECT_EQ(a.tail.senders, 0x2u);
  EXPECT_EQ(a.tail.receivers, 0x5u);
  EXPECT_TRUE(a.tail.ownCopy);
  EXPECT_EQ(a.tail.blocks, 1);
}

TEST(KernelArgs, ScatterAllGatherBroadcastAtAnotherRankWithATail) {
  const ScatterAllGatherArgs a = scatterAllGatherArgs(
      memoryFor(3, 2), planOf(Kernel::kScatterAllGatherBroadcast, 64, 0, kUnevenBlock, 1),
      op(K::kBroadcast, DataType::kUint8, kUnevenBytes, 1));
  EXPECT_EQ(a.scatter.inputStride, 2796224u);
  EXPECT_EQ(a.scatter.output, recvAt(5592448));  // recv + rank 2 * block
  EXPECT_EQ(a.scatter.bytes, 2796224u);
  EXPECT_EQ(a.scatter.senders, 0x2u);
  EXPECT_EQ(a.scatter.receivers, 0x5u);
  EXPECT_FALSE(a.scatter.ownCopy);
  EXPECT_EQ(a.gather.input, recvAt(5592448));
  EXPECT_EQ(a.gather.output, recvAt(0));
  EXPECT_EQ(a.gather.outputStride, 2796224u);
  EXPECT_EQ(a.gather.senders, 0x7u);
  EXPECT_EQ(a.gather.receivers, 0x7u);
  EXPECT_FALSE(a.gather.ownCopy);
  ASSERT_TRUE(a.hasTail);
  EXPECT_EQ(a.tail.input, nullptr);  // only the root reads its buffer
  EXPECT_EQ(a.tail.output, recvAt(8388672));
  EXPECT_EQ(a.tail.bytes, 36u);
  EXPECT_EQ(a.tail.senders, 0x2u);
  EXPECT_EQ(a.tail.receivers, 0x5u);
  EXPECT_FALSE(a.tail.ownCopy);
  EXPECT_EQ(a.tail.blocks, 1);
}

TEST(KernelArgs, ScatterAllGatherBroadcastThatDividesEvenlyHasNoTail) {
  // 4 GPUs, root 0, 8 MiB of floats: 2 MiB each, nothing left over.
  const KernelPlan plan = planOf(Kernel::kScatterAllGatherBroadcast, 3, 0, 2 * MiB, 0);
  const OpDesc d = op(K::kBroadcast, DataType::kFloat32, 2 * MiB, 0);
  const ScatterAllGatherArgs other = scatterAllGatherArgs(memoryFor(4, 3), plan, d);
  EXPECT_EQ(other.scatter.inputStride, 2097152u);
  EXPECT_EQ(other.scatter.output, recvAt(6291456));  // recv + rank 3 * block
  EXPECT_EQ(other.scatter.bytes, 2097152u);
  EXPECT_EQ(other.scatter.senders, 0x1u);
  EXPECT_EQ(other.scatter.receivers, 0xEu);
  EXPECT_FALSE(other.scatter.ownCopy);
  EXPECT_EQ(other.scatter.blocks, 3);
  EXPECT_EQ(other.gather.input, recvAt(6291456));
  EXPECT_EQ(other.gather.output, recvAt(0));
  EXPECT_EQ(other.gather.outputStride, 2097152u);
  EXPECT_EQ(other.gather.bytes, 2097152u);
  EXPECT_EQ(other.gather.senders, 0xFu);
  EXPECT_EQ(other.gather.receivers, 0xFu);
  EXPECT_EQ(other.gather.blocks, 3);
  EXPECT_FALSE(other.hasTail);
  const ScatterAllGatherArgs root = scatterAllGatherArgs(memoryFor(4, 0), plan, d);
  EXPECT_EQ(root.scatter.output, recvAt(0));
  EXPECT_TRUE(root.scatter.ownCopy);
  EXPECT_EQ(root.gather.input, recvAt(0));
  EXPECT_FALSE(root.hasTail);
}

TEST(KernelArgs, ChainBroadcastCarriesTheRootAndTheBytes) {
  const cuda::ChainArgs a = chainArgs(planOf(Kernel::kChainBroadcast, 17),
                                      op(K::kBroadcast, DataType::kFloat64, 1000, 2));
  EXPECT_EQ(a.input, sendAt(0));
  EXPECT_EQ(a.output, recvAt(0));
  EXPECT_EQ(a.bytes, 8000u);
  EXPECT_EQ(a.root, 2);
  EXPECT_EQ(a.blocks, 17);
}

}  // namespace
}  // namespace braid::gpu
