// Sends and receives on GPUs, a whole group in one launch: each direction (send to a peer,
// receive from a peer) gets its own blocks and lanes of the point-to-point staging, and runs
// its operations in call order, so an exchange where every rank sends and receives cannot
// deadlock. Messages are numbered per (peer, direction) on the device, which keeps captured
// graphs replayable.
#include "cuda/graph_launch.cuh"
#include "cuda/kernels.h"
#include "cuda/primitives.cuh"

namespace braid::cuda {
namespace {

__global__ void __launch_bounds__(kThreads) sendRecvKernel(PeerMemory m, P2pArgs a) {
  const int lane = blockIdx.x % a.lanes;
  const P2pDirection d = a.directions[blockIdx.x / a.lanes];
  const int me = m.rank, peer = d.peer;
  const uint64_t base = *reinterpret_cast<volatile uint64_t*>(d.send ? &m.counters->sendSeq[peer]
                                                                     : &m.counters->recvSeq[peer]);
  for (int k = 0; k < d.numOps; ++k) {
    const P2pOp op = a.ops[d.firstOp + k];
    auto* buf = static_cast<uint8_t*>(op.buffer);
    for (size_t round = 0;; ++round) {
      const Share sh = shareOf(op.bytes, m.partBytes, a.lanes, lane, round);
      if (sh.n == 0) break;
      const int part = static_cast<int>(round & 1);
      const uint64_t tag = tagOf(base + k, round);
      bool ok = true;
      if (d.send) {
        if (threadIdx.x == 0) ok = waitRegionFree(m, peer, kP2pHalf, lane, part);
        if (!blockAgree(ok)) return;
        copyBytes(region(m, peer, kP2pHalf, me, lane, part), buf + sh.begin, sh.n);
        blockAgree(true);
        if (threadIdx.x == 0) raiseReady(m, peer, kP2pHalf, lane, part, tag);
      } else {
        if (threadIdx.x == 0) {
          ok = spinUntil(m, readyFlag(m, me, kP2pHalf, peer, lane, part), tag, peer);
        }
        if (!blockAgree(ok)) return;
        copyBytes(buf + sh.begin, region(m, me, kP2pHalf, peer, lane, part), sh.n);
        blockAgree(true);
        if (threadIdx.x == 0) storeRelease(ackFlag(m, peer, kP2pHalf, me, lane, part), tag);
      }
    }
  }
  // The last block to finish advances the message numbers of every direction.
  __syncthreads();
  if (threadIdx.x != 0) return;
  __threadfence();
  if (atomicAdd(&m.counters->blocksDone, 1u) == gridDim.x - 1) {
    m.counters->blocksDone = 0;
    for (int i = 0; i < a.numDirections; ++i) {
      const P2pDirection& x = a.directions[i];
      (x.send ? m.counters->sendSeq : m.counters->recvSeq)[x.peer] += x.numOps;
    }
    __threadfence();
  }
}

}  // namespace

cudaError_t sendRecv(const PeerMemory& m, const P2pArgs& a, cudaStream_t stream) {
  if (a.numDirections == 0) return cudaSuccess;
  return launch(sendRecvKernel, a.numDirections * a.lanes, kThreads, stream, m, a);
}

}  // namespace braid::cuda
