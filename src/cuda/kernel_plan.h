// Which GPU kernel runs a collective and with how many blocks and threads, decided apart from the
// launch (kernel_choice.cc launches it) so that the rules can be checked on the CPU where CI runs
// (tests/kernel_choice_test.cc): pure arithmetic on the peer memory's sizes, the parameters and
// the call. No CUDA types here, so a plain C++ translation unit can include it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "braid/status.h"
#include "cuda/peer_memory.h"
#include "op_desc.h"
#include "params.h"

namespace braid::gpu {

// The kernels of algorithms/cuda/kernels.h, as the choice uses them.
enum class Kernel {
  kLlReduce,        // allReduce one-shot and reduceScatter, low-latency
  kLl128Reduce,     // the same with LL128
  kLlTwoShot,       // allReduce two-shot, low-latency
  kPushReduce,      // staged: allReduce one-shot, reduceScatter, reduce
  kTwoShot,         // staged allReduce two-shot
  kLlAllGather,     // allGather, low-latency
  kLl128AllGather,  // the same with LL128
  kPushCopy,        // staged: allGather, allToAll, the root's broadcast push
  kLlBroadcast,
  kChainBroadcast,
  kScatterAllGatherBroadcast,  // three pushCopy launches (kernel_choice.cc)
  kDirectAllReduce,            // registered windows (direct.cu)
  kDirectReduceScatter,
  kDirectAllGather,
  kTwoShotRegistered,  // staged two-shot that writes into the registered outputs
};

struct KernelPlan {
  Kernel kernel = Kernel::kPushCopy;
  const char* what = "";  // the name device_comm.cc reports (a string literal)
  int blocks = 1;
  int threads = 0;  // LL and LL128 kernels; the others run cuda::kThreads
  // kScatterAllGatherBroadcast: the block each rank gets (scatter and allGather use `blocks`),
  // and the blocks of the root's push of the tail (none when block * size is the whole buffer).
  size_t block = 0;
  int tailBlocks = 0;
};

// Blocks for a transfer of `bytes` per destination: one per 8 KiB (small messages are
// latency-bound: more blocks push in parallel), at most the configured lanes.
int blocksFor(size_t bytes, int lanes);

// Blocks and threads of a low-latency kernel for `work` threads (each carries one piece per
// round) in blocks of at most maxThreads: enough blocks for one piece per thread, at most the
// configured lanes; one block of whole warps for tiny messages.
struct LlShape {
  int blocks = 1;
  int threads = cuda::kThreads;
};
LlShape llShapeFor(const cuda::PeerMemory& m, size_t work, int maxThreads);
// LL: a thread per 8-byte unit.
LlShape llShape(const cuda::PeerMemory& m, size_t bytes);
// LL128: eight threads per 128-byte line.
LlShape ll128Shape(const cuda::PeerMemory& m, size_t bytes);

// The kernel for d through the staging buffers (or LL slots), by kind and size. Errors: a bad
// BRAID_GPU_ALGO (allReduce), a kind with no GPU algorithm.
Result<KernelPlan> planStaged(const cuda::PeerMemory& m, const Params& p, const OpDesc& d);

// Direct collectives (direct.cu) where the buffers a call shares with its peers lie in
// registered windows: allReduce (input and output), reduceScatter (input), allGather (output),
// from BRAID_GPU_DIRECT_BYTES of the whole buffer, unless BRAID_GPU_ALGO forces an algorithm.
// directWanted: whether d may go direct, before looking for the windows (kernel_choice.cc);
// directSpan: the bytes of the whole buffer to find in a window; directBlocks: the direct
// kernels' blocks (part of the check every rank compares); planDirect: the kernel, once the
// windows are found.
bool directWanted(const cuda::PeerMemory& m, const Params& p, const OpDesc& d);
size_t directSpan(const cuda::PeerMemory& m, const OpDesc& d);
int directBlocks(const cuda::PeerMemory& m, const OpDesc& d);
KernelPlan planDirect(const cuda::PeerMemory& m, const Params& p, const OpDesc& d);

// The LL128 slot size for a communicator of `ranks` from BRAID_GPU_LL128_BYTES (-1: the default
// for that many ranks).
size_t ll128BytesFor(int64_t setting, int ranks);

}  // namespace braid::gpu
