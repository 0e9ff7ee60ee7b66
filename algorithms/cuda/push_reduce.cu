// One-shot reduction on GPUs: every rank pushes its block for each receiver straight into that
// receiver's staging, and every receiver reduces all blocks in rank order. One hop of latency,
// so it is the allReduce for small messages (receivers = all, the same block for everyone);
// for reduceScatter (block d for receiver d) every byte crosses a link once; reduce sends all
// blocks to the root. Rounds reuse each lane's two staging parts alternately, so a writer can
// push round r + 1 while the receiver still reduces round r.
#include "cuda/dispatch.cuh"
#include "cuda/graph_launch.cuh"
#include "cuda/kernels.h"

namespace braid::cuda {
namespace {

// kRanks: the number of ranks when known at compile time (2), else 0 (m.size). Knowing it lets
// the loops over ranks unroll and the source and destination lists live in registers (no stack
// frame): on 2x H200 the staged one-shot allReduce took 1.1-1.5 us less from 256 KiB to 8 MiB
// (256 KiB 10.5 -> 9.1 us, 4 MiB 22.7 -> 21.5; session 11).
template <typename T, typename Op, int kRanks>
__global__ void __launch_bounds__(kThreads)
    pushReduceKernel(PeerMemory m, PushReduceArgs a, int avgRanks) {
  const int lane = blockIdx.x, me = m.rank, n = kRanks > 0 ? kRanks : m.size;
  const uint64_t seq = collectiveSeq(m);
  const int half = static_cast<int>(seq & 1);
  const size_t chunk = stagedChunk(m, a.count, sizeof(T));
  const bool receiving = (a.receivers >> me) & 1u;
  auto blockFor = [&](int d) {
    return reinterpret_cast<const T*>(static_cast<const uint8_t*>(a.input) + d * a.inputStride);
  };

  for (size_t round = 0;; ++round) {
    const Share sh = shareOf(a.count, chunk, gridDim.x, lane, round);
    if (sh.n == 0) break;
    const int part = static_cast<int>(round & 1);
    const uint64_t tag = tagOf(seq, round);
    const size_t bytes = sh.n * sizeof(T);

    if (!pushRound<kRanks>(m, a.receivers, half, lane, part, tag,
                           static_cast<const uint8_t*>(a.input) + sh.begin * sizeof(T),
                           a.inputStride, bytes)) {
      return;
    }
    bool ok = true;
    if (!receiving) continue;

    if (threadIdx.x == 0) {
      for (int w = 0; w < n && ok; ++w) {
        if (w != me) ok = spinUntil(m, readyFlag(m, me, half, w, lane, part), tag, w);
      }
    }
    if (!blockAgree(ok)) return;
    const T* srcs[kMaxRanks];
    for (int w = 0; w < n; ++w) {
      srcs[w] = w == me ? blockFor(me) + sh.begin
                        : reinterpret_cast<const T*>(region(m, me, half, w, lane, part));
    }
    T* dst = static_cast<T*>(a.output) + sh.begin;
    reduceToAll<T, Op>(&dst, 1, srcs, n, sh.n, avgRanks);
    blockAgree(true);
    if (threadIdx.x < n && threadIdx.x != me) {
      storeRelease(ackFlag(m, threadIdx.x, half, me, lane, part), tag);
    }
  }
  finishCollective(m, seq);
}

}  // namespace

cudaError_t pushReduce(const PeerMemory& m, const PushReduceArgs& a, DataType dtype, ReduceOp op,
                       cudaStream_t stream) {
  const int avg = avgRanksOf(m, op);
  return withTypeAndOp(dtype, op, [&](auto t, auto o) {
    return withRanks(m, [&](auto ranks) {
      return launch(pushReduceKernel<decltype(t), decltype(o), decltype(ranks)::value>, a.blocks,
                    kThreads, stream, m, a, avg);
    });
  });
}

}  // namespace braid::cuda
