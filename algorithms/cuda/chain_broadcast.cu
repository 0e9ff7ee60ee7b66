// Pipelined chain broadcast on GPUs, for large messages: ranks in order from the root form a
// chain; each chunk goes root -> next -> ... -> last, and a rank forwards a chunk (one read of
// its staging, stored to its output and to the next rank's staging) while the previous rank
// already pushes the following one (rounds alternate each lane's two staging parts). Every
// GPU sends the buffer once, where a root pushing to everyone sends it n - 1 times.
#include "cuda/graph_launch.cuh"
#include "cuda/kernels.h"
#include "cuda/primitives.cuh"

namespace braid::cuda {
namespace {

__global__ void __launch_bounds__(kThreads) chainBroadcastKernel(PeerMemory m, ChainArgs a) {
  const int lane = blockIdx.x, me = m.rank, n = m.size;
  const uint64_t seq = collectiveSeq(m);
  const int half = static_cast<int>(seq & 1);
  const int position = (me - a.root + n) % n;
  const int prev = (me - 1 + n) % n, next = (me + 1) % n;
  const bool first = position == 0, last = position == n - 1;
  const auto* in = static_cast<const uint8_t*>(a.input);
  auto* out = static_cast<uint8_t*>(a.output);

  for (size_t round = 0;; ++round) {
    const Share sh = shareOf(a.bytes, m.partBytes, gridDim.x, lane, round);
    if (sh.n == 0) break;
    const int part = static_cast<int>(round & 1);
    const uint64_t tag = tagOf(seq, round);
    if (first) {
      if (!pushRound(m, 1u << next, half, lane, part, tag, in + sh.begin, 0, sh.n)) return;
      if (in != out) copyBytes(out + sh.begin, in + sh.begin, sh.n);
      continue;
    }
    bool ok = true;
    if (threadIdx.x == 0) {
      ok = spinUntil(m, readyFlag(m, me, half, prev, lane, part), tag, prev);
      if (ok && !last) ok = waitRegionFree(m, next, half, lane, part);
    }
    if (!blockAgree(ok)) return;
    uint8_t* dsts[2] = {out + sh.begin, last ? nullptr : region(m, next, half, me, lane, part)};
    copyToAll(dsts, last ? 1 : 2, region(m, me, half, prev, lane, part), sh.n);
    blockAgree(true);
    if (threadIdx.x == 0) {
      storeRelease(ackFlag(m, prev, half, me, lane, part), tag);
      if (!last) raiseReady(m, next, half, lane, part, tag);
    }
  }
  finishCollective(m, seq);
}

}  // namespace

cudaError_t chainBroadcast(const PeerMemory& m, const ChainArgs& a, cudaStream_t stream) {
  return launch(chainBroadcastKernel, a.blocks, kThreads, stream, m, a);
}

}  // namespace braid::cuda
