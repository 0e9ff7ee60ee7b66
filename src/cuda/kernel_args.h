// The arguments of the staged GPU kernels (the cuda::*Args of algorithms/cuda/kernels.h), filled
// from the plan kernel_plan.h chooses and the call, apart from the launch (kernel_choice.cc) so
// that the strides, masks and offsets can be checked on the CPU (tests/kernel_args_test.cc).
// Pure functions: no launches, no CUDA calls. The direct kernels' arguments need the registered
// windows and stay in kernel_choice.cc.
#pragma once

#include <cstddef>

#include "cuda/kernel_plan.h"
#include "cuda/kernels.h"
#include "op_desc.h"

namespace braid::gpu {

// The bytes of one block of d: the whole buffer for allReduce, broadcast and reduce; each rank's
// block for reduceScatter, allGather and allToAll.
size_t blockBytes(const OpDesc& d);

// A low-latency kernel's arguments (LL and LL128): reduceScatter's block for peer p at
// send + p * bytes, allGather's block of rank s at recv + s * bytes, one block otherwise.
cuda::LlArgs llArgs(const KernelPlan& plan, const OpDesc& d);

// The two-shot allReduce's arguments (staged; the registered variant adds the outputs and the
// check, kernel_choice.cc).
cuda::TwoShotArgs twoShotArgs(const KernelPlan& plan, const OpDesc& d);

// Staged reduction into the receivers: one-shot allReduce (everyone, one block), reduceScatter
// (everyone, a block each) and reduce (the root).
cuda::PushReduceArgs pushReduceArgs(const cuda::PeerMemory& m, const KernelPlan& plan,
                                    const OpDesc& d);

// Staged copies: allGather and allToAll (every rank's block(s) to every rank; rank s's block
// lands at recv + s * bytes) and broadcast (the root's buffer to everyone).
cuda::PushCopyArgs pushCopyArgs(const cuda::PeerMemory& m, const KernelPlan& plan, const OpDesc& d);

// Large broadcast (kernel_plan.cc): the root scatters plan.block to each rank, every rank pushes
// its block to all the others, the root pushes the tail (the bytes past block * size). Three
// pushCopy launches on one stream, the tail only where hasTail; every rank takes the same branch.
struct ScatterAllGatherArgs {
  cuda::PushCopyArgs scatter;
  cuda::PushCopyArgs gather;
  cuda::PushCopyArgs tail;  // meaningful only where hasTail
  bool hasTail = false;
};
ScatterAllGatherArgs scatterAllGatherArgs(const cuda::PeerMemory& m, const KernelPlan& plan,
                                          const OpDesc& d);

// Broadcast down the chain from the root.
cuda::ChainArgs chainArgs(const KernelPlan& plan, const OpDesc& d);

}  // namespace braid::gpu
