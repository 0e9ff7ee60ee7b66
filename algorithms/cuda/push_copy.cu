// Data movement without reduction on GPUs: every sender pushes its block for each receiver into
// that receiver's staging; receivers copy the blocks to their output. allGather (each rank's
// block to everyone), allToAll (block d to rank d) and broadcast (the root's block to
// everyone) differ only in who sends what. Rounds alternate each lane's two staging parts.
#include "cuda/graph_launch.cuh"
#include "cuda/kernels.h"
#include "cuda/primitives.cuh"

namespace braid::cuda {
namespace {

__global__ void __launch_bounds__(kThreads) pushCopyKernel(PeerMemory m, PushCopyArgs a) {
  const int lane = blockIdx.x, me = m.rank, n = m.size;
  const uint64_t seq = collectiveSeq(m);
  const int half = static_cast<int>(seq & 1);
  const bool sending = (a.senders >> me) & 1u, receiving = (a.receivers >> me) & 1u;
  auto isSender = [&](int p) { return p != me && ((a.senders >> p) & 1u); };
  const auto* in = static_cast<const uint8_t*>(a.input);
  auto* out = static_cast<uint8_t*>(a.output);
  const size_t chunk = stagedChunk(m, a.bytes, 1);

  for (size_t round = 0;; ++round) {
    const Share sh = shareOf(a.bytes, chunk, gridDim.x, lane, round);
    if (sh.n == 0) break;
    const int part = static_cast<int>(round & 1);
    const uint64_t tag = tagOf(seq, round);
    // This rank's own block, where it has one to copy: in the same pass as the push when every
    // receiver gets the same bytes (one read of the input, not two), else after it.
    // (Only ranks with ownCopy have an input: the others' may be null.)
    const uint8_t* ownSrc = a.ownCopy ? in + me * a.inputStride + sh.begin : nullptr;
    uint8_t* ownDst = a.ownCopy ? out + me * a.outputStride + sh.begin : nullptr;
    const bool own = a.ownCopy && ownSrc != ownDst;
    const bool fused =
        own && sending && a.inputStride == 0 && (aligned16(ownDst) || !aligned16(ownSrc));
    if (sending && !pushRound(m, a.receivers, half, lane, part, tag, in + sh.begin, a.inputStride,
                              sh.n, fused ? ownDst : nullptr)) {
      return;
    }
    bool ok = true;
    if (own && !fused) copyBytes(ownDst, ownSrc, sh.n);
    if (!receiving) continue;
    if (threadIdx.x == 0) {
      for (int w = 0; w < n && ok; ++w) {
        if (isSender(w)) ok = spinUntil(m, readyFlag(m, me, half, w, lane, part), tag, w);
      }
    }
    if (!blockAgree(ok)) return;
    for (int w = 0; w < n; ++w) {
      if (isSender(w)) {
        copyBytes(out + w * a.outputStride + sh.begin, region(m, me, half, w, lane, part), sh.n);
      }
    }
    blockAgree(true);
    if (threadIdx.x < n && isSender(threadIdx.x)) {
      storeRelease(ackFlag(m, threadIdx.x, half, me, lane, part), tag);
    }
  }
  finishCollective(m, seq);
}

}  // namespace

cudaError_t pushCopy(const PeerMemory& m, const PushCopyArgs& a, cudaStream_t stream) {
  return launch(pushCopyKernel, a.blocks, kThreads, stream, m, a);
}

}  // namespace braid::cuda
