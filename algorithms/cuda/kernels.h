// Host-side entry points of the GPU algorithms (one .cu file each, all built on
// primitives.cuh). Each enqueues one kernel on the stream and returns the launch error, if any.
// Buffers are device pointers (or peer-mapped ones); counts are elements of dtype, unless named
// bytes. src/cuda/kernel_plan.cc chooses the algorithm; src/cuda/kernel_args.cc fills the args.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "braid/types.h"
#include "cuda/peer_memory.h"

namespace braid::cuda {

// Every rank in `receivers` gets the reduction over all ranks of their blocks for it: rank p's
// block for destination d is input + d * inputStride (inputStride 0: the same block for every
// destination). Each rank pushes its blocks into the receivers' staging; each receiver reduces
// in rank order. One-shot allReduce (receivers = all, stride 0), reduceScatter (stride = block
// bytes) and reduce (receivers = root).
struct PushReduceArgs {
  const void* input = nullptr;
  size_t inputStride = 0;  // bytes
  void* output = nullptr;  // this rank's result, if it is a receiver
  size_t count = 0;        // elements per block
  uint32_t receivers = 0;  // bit mask of ranks
  int blocks = 1;
};
cudaError_t pushReduce(const PeerMemory& m, const PushReduceArgs& a, DataType dtype, ReduceOp op,
                       cudaStream_t stream);

// Two-shot allReduce: rank j reduces shard j of every rank's input (pushed into its staging)
// and pushes the result into every rank's staging, from where each rank copies it out; or, when
// the outputs are registered (outputs[0] set), straight into every rank's output.
struct TwoShotArgs {
  const void* input = nullptr;
  void* output = nullptr;
  size_t count = 0;
  int blocks = 1;
  void* outputs[kMaxRanks] = {};  // registered: every rank's output as mapped here
  uint32_t check = 0;             // registered: a hash of the call (see DirectArgs)
};
cudaError_t twoShotAllReduce(const PeerMemory& m, const TwoShotArgs& a, DataType dtype, ReduceOp op,
                             cudaStream_t stream);

// Each rank in `senders` pushes block input + d * inputStride to every rank d in `receivers`,
// which copies it to output + s * outputStride (s the sender). ownCopy: also copy this rank's
// block input + rank * inputStride to output + rank * outputStride. allGather (strides: 0 and
// the block), allToAll (both the block), broadcast (sender root, strides 0).
struct PushCopyArgs {
  const void* input = nullptr;
  size_t inputStride = 0;
  void* output = nullptr;
  size_t outputStride = 0;
  size_t bytes = 0;  // per block
  uint32_t senders = 0;
  uint32_t receivers = 0;
  bool ownCopy = false;
  int blocks = 1;
};
cudaError_t pushCopy(const PeerMemory& m, const PushCopyArgs& a, cudaStream_t stream);

// Low-latency collectives (ll_push.cu): payload and flag in one store, for small and medium
// blocks. `bytes` is one block; it must fit the LL slot: bytes <= m.llBytes (llReduce,
// llAllGather) or 2 * llTwoShotShard(m.size, bytes) * 8 <= m.llBytes (llTwoShotAllReduce).
struct LlArgs {
  const void* input = nullptr;
  size_t inputStride = 0;  // llReduce: block for peer p at input + p * inputStride (0: one block)
  void* output = nullptr;
  size_t outputStride = 0;  // llAllGather: rank s's block at output + s * outputStride
  size_t bytes = 0;
  int blocks = 1;
  int threads = kThreads;  // per block (LL128: up to kLl128Threads); fewer for tiny messages
};
// allReduce (inputStride 0) and reduceScatter (inputStride = bytes), one hop.
cudaError_t llReduce(const PeerMemory& m, const LlArgs& a, DataType dtype, ReduceOp op,
                     cudaStream_t stream);
cudaError_t llAllGather(const PeerMemory& m, const LlArgs& a, cudaStream_t stream);
// allReduce in two hops (reduce-scatter, then allgather of the results): half the traffic of
// one-shot for four or more ranks.
cudaError_t llTwoShotAllReduce(const PeerMemory& m, const LlArgs& a, DataType dtype, ReduceOp op,
                               cudaStream_t stream);

// LL128 collectives (ll128_push.cu): the LL protocol with the flag in 128-byte lines, for
// medium blocks; `bytes` must fit the LL128 slot (bytes <= m.ll128Bytes). Launch with a whole
// number of warps per block.
cudaError_t ll128Reduce(const PeerMemory& m, const LlArgs& a, DataType dtype, ReduceOp op,
                        cudaStream_t stream);
cudaError_t ll128AllGather(const PeerMemory& m, const LlArgs& a, cudaStream_t stream);

// Broadcast down the chain root, root + 1, ... (chain_broadcast.cu).
struct ChainArgs {
  const void* input = nullptr;  // the root's buffer
  void* output = nullptr;
  size_t bytes = 0;
  int root = 0;
  int blocks = 1;
};
cudaError_t chainBroadcast(const PeerMemory& m, const ChainArgs& a, cudaStream_t stream);

// Low-latency broadcast: the root's block to everyone, and a one-unit token from every other
// rank to everyone (so that every rank hears from every rank, as the LL protocol needs).
cudaError_t llBroadcast(const PeerMemory& m, const LlArgs& a, int root, cudaStream_t stream);

// Direct collectives on registered buffers (direct.cu): every rank's buffers are mapped here,
// so ranks read and write each other's buffers in place. Two barriers per launch.
struct DirectArgs {
  const void* input[kMaxRanks] = {};  // every rank's input as mapped here ([rank]: its own)
  void* output[kMaxRanks] = {};       // every rank's output as mapped here
  // allReduce: elements; reduceScatter: elements per block; allGather: bytes per rank.
  size_t count = 0;
  uint32_t check = 0;  // a hash of the call, the same on every rank for matching calls
  int blocks = 1;
};
// allReduce: rank j reduces shard j of every input in rank order into every output.
cudaError_t directAllReduce(const PeerMemory& m, const DirectArgs& a, DataType dtype, ReduceOp op,
                            cudaStream_t stream);
// reduceScatter: rank j reduces block j of every input into its own output (output[rank]).
cudaError_t directReduceScatter(const PeerMemory& m, const DirectArgs& a, DataType dtype,
                                ReduceOp op, cudaStream_t stream);
// allGather: rank j writes its input (input[rank]) into block j of every output.
cudaError_t directAllGather(const PeerMemory& m, const DirectArgs& a, cudaStream_t stream);

// Sends and receives of one group, in one launch: every direction (peer, send or receive) gets
// its own blocks and runs its operations in call order.
inline constexpr int kMaxP2pOps = 64;
struct P2pOp {
  void* buffer = nullptr;
  size_t bytes = 0;
};
struct P2pDirection {
  int peer = 0;
  int send = 0;     // 1 = send to peer, 0 = receive from peer
  int firstOp = 0;  // ops [firstOp, firstOp + numOps) of P2pArgs::ops
  int numOps = 0;
};
struct P2pArgs {
  P2pOp ops[kMaxP2pOps];
  P2pDirection directions[2 * kMaxRanks];
  int numDirections = 0;
  int lanes = 1;  // blocks per direction
};
cudaError_t sendRecv(const PeerMemory& m, const P2pArgs& a, cudaStream_t stream);

}  // namespace braid::cuda
