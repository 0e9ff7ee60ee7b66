// Fills the staged kernels' arguments (kernel_args.h) from the plan and the call, apart from the
// launch so that tests/kernel_args_test.cc checks every field on the CPU; kernel_choice.cc
// launches what these return.
#include "cuda/kernel_args.h"

#include <cstdint>

namespace braid::gpu {
namespace {

using K = CollectiveKind;

uint32_t everyone(const cuda::PeerMemory& m) { return (1u << m.size) - 1; }

}  // namespace

size_t blockBytes(const OpDesc& d) { return d.count * dataTypeSize(d.dtype); }

cuda::LlArgs llArgs(const KernelPlan& plan, const OpDesc& d) {
  const size_t bytes = blockBytes(d);
  cuda::LlArgs a;
  a.input = d.send;
  a.output = d.recv;
  a.bytes = bytes;
  a.inputStride = d.kind == K::kReduceScatter ? bytes : 0;
  a.outputStride = d.kind == K::kAllGather ? bytes : 0;
  a.blocks = plan.blocks;
  a.threads = plan.threads;
  return a;
}

cuda::TwoShotArgs twoShotArgs(const KernelPlan& plan, const OpDesc& d) {
  cuda::TwoShotArgs a;
  a.input = d.send;
  a.output = d.recv;
  a.count = d.count;
  a.blocks = plan.blocks;
  return a;
}

cuda::PushReduceArgs pushReduceArgs(const cuda::PeerMemory& m, const KernelPlan& plan,
                                    const OpDesc& d) {
  cuda::PushReduceArgs a;
  a.input = d.send;
  a.inputStride = d.kind == K::kReduceScatter ? blockBytes(d) : 0;
  a.output = d.recv;
  a.count = d.count;
  a.receivers = d.kind == K::kReduce ? 1u << d.root : everyone(m);
  a.blocks = plan.blocks;
  return a;
}

cuda::PushCopyArgs pushCopyArgs(const cuda::PeerMemory& m, const KernelPlan& plan,
                                const OpDesc& d) {
  const size_t bytes = blockBytes(d);
  cuda::PushCopyArgs a;
  a.input = d.send;
  a.output = d.recv;
  a.bytes = bytes;
  a.blocks = plan.blocks;
  if (d.kind == K::kBroadcast) {
    a.senders = 1u << d.root;
    a.receivers = everyone(m) & ~(1u << d.root);
    a.ownCopy = m.rank == d.root;
  } else {
    a.inputStride = d.kind == K::kAllToAll ? bytes : 0;
    a.outputStride = bytes;
    a.senders = a.receivers = everyone(m);
    a.ownCopy = true;
  }
  return a;
}

ScatterAllGatherArgs scatterAllGatherArgs(const cuda::PeerMemory& m, const KernelPlan& plan,
                                          const OpDesc& d) {
  const size_t bytes = blockBytes(d);
  const size_t block = plan.block;
  const size_t body = block * m.size;
  auto* out = static_cast<uint8_t*>(d.recv);
  const auto* in = static_cast<const uint8_t*>(d.send);
  const uint32_t others = everyone(m) & ~(1u << d.root);
  const bool isRoot = m.rank == d.root;
  ScatterAllGatherArgs r;

  cuda::PushCopyArgs& scatter = r.scatter;
  scatter.input = d.send;
  scatter.inputStride = block;
  scatter.output = out + m.rank * block;
  scatter.bytes = block;
  scatter.senders = 1u << d.root;
  scatter.receivers = others;
  scatter.ownCopy = isRoot;
  scatter.blocks = plan.blocks;

  cuda::PushCopyArgs& gather = r.gather;
  gather.input = out + m.rank * block;
  gather.output = out;
  gather.outputStride = block;
  gather.bytes = block;
  gather.senders = gather.receivers = everyone(m);
  gather.blocks = plan.blocks;

  r.hasTail = body != bytes;
  if (!r.hasTail) return r;
  cuda::PushCopyArgs& tail = r.tail;
  tail.input = isRoot ? in + body : nullptr;
  tail.output = out + body;
  tail.bytes = bytes - body;
  tail.senders = 1u << d.root;
  tail.receivers = others;
  tail.ownCopy = isRoot;
  tail.blocks = plan.tailBlocks;
  return r;
}

cuda::ChainArgs chainArgs(const KernelPlan& plan, const OpDesc& d) {
  cuda::ChainArgs a;
  a.input = d.send;
  a.output = d.recv;
  a.bytes = blockBytes(d);
  a.root = d.root;
  a.blocks = plan.blocks;
  return a;
}

}  // namespace braid::gpu
