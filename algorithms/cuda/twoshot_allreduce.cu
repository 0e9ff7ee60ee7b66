// Two-shot allReduce on GPUs, for medium and large messages: the buffer is cut into n shards;
// every rank pushes shard j of its input into rank j's staging (reduce-scatter by NVLink
// writes), rank j reduces shard j in rank order and writes the result to its own output and
// into every peer's staging in the same pass (allgather by writes), and every rank copies the
// other shards out. Each byte crosses a link twice, the bandwidth optimum 2(n-1)/n of a ring,
// with two hops of latency instead of 2(n-1).
//
// With registered outputs (every rank's output mapped here) the result goes straight into every
// rank's output: no gather staging, flags or copy-out, and the lanes meet once at the start and
// once at the end (as the direct kernels do). Every byte still moves by NVLink writes, which
// reach higher rates than the direct kernels' reads (4x H200: reads capped near 170 GB/s per GPU).
#include "cuda/dispatch.cuh"
#include "cuda/graph_launch.cuh"
#include "cuda/kernels.h"

namespace braid::cuda {
namespace {

constexpr int kScatterPart = 0, kGatherPart = 1;

// kRanks: the ranks when known at compile time (2; see push_reduce.cu), else 0 (m.size).
template <typename T, typename Op, int kRanks>
__global__ void __launch_bounds__(kThreads)
    twoShotKernel(PeerMemory m, TwoShotArgs a, int avgRanks) {
  const int lane = blockIdx.x, me = m.rank, n = kRanks > 0 ? kRanks : m.size;
  const uint64_t seq = collectiveSeq(m);
  const int half = static_cast<int>(seq & 1);
  constexpr size_t V = 16 / sizeof(T);
  // Shards are whole 16-byte vectors (the last ones may be short or empty).
  const size_t shard = ((a.count + n - 1) / n + V - 1) / V * V;
  const size_t chunk = stagedChunk(m, shard, sizeof(T));
  const T* in = static_cast<const T*>(a.input);
  T* out = static_cast<T*>(a.output);
  const bool direct = a.outputs[0] != nullptr;
  const uint64_t word = meetWord(seq, a.check);
  if (direct && !meet(m, lane, kMeetStart, word)) return;

  for (size_t round = 0;; ++round) {
    const Share sh = shareOf(shard, chunk, gridDim.x, lane, round);
    if (sh.n == 0) break;
    const uint64_t tag = tagOf(seq, round);
    // Elements of shard j in this share.
    auto len = [&](int j) -> size_t {
      const size_t first = j * shard + sh.begin;
      if (first >= a.count) return 0;
      return a.count - first < sh.n ? a.count - first : sh.n;
    };

    // Reduce-scatter: shard p's share goes to rank p.
    bool ok = true;
    if (threadIdx.x == 0) {
      for (int p = 0; p < n && ok; ++p) {
        if (p != me) ok = waitRegionFree(m, p, half, lane, kScatterPart);
      }
    }
    if (!blockAgree(ok)) return;
    for (int k = 1; k < n; ++k) {
      const int p = peerAfter(me, k, n);
      copyBytes(region(m, p, half, me, lane, kScatterPart),
                reinterpret_cast<const uint8_t*>(in + p * shard + sh.begin), len(p) * sizeof(T));
    }
    blockAgree(true);
    if (threadIdx.x < n && threadIdx.x != me) {
      raiseReady(m, threadIdx.x, half, lane, kScatterPart, tag);
    }

    // Reduce this rank's shard; the result goes to the output and to every peer at once.
    if (threadIdx.x == 0) {
      for (int w = 0; w < n && ok; ++w) {
        if (w == me) continue;
        ok = spinUntil(m, readyFlag(m, me, half, w, lane, kScatterPart), tag, w) &&
             (direct || waitRegionFree(m, w, half, lane, kGatherPart));
      }
    }
    if (!blockAgree(ok)) return;
    const T* srcs[kMaxRanks];
    T* dsts[kMaxRanks];
    for (int w = 0; w < n; ++w) {
      srcs[w] = w == me ? in + me * shard + sh.begin
                        : reinterpret_cast<const T*>(region(m, me, half, w, lane, kScatterPart));
      // Destinations in ring order from me + 1 (see peerAfter), this rank's own last.
      const int d = peerAfter(me, w + 1, n);
      dsts[w] = direct    ? static_cast<T*>(a.outputs[d]) + me * shard + sh.begin
                : d == me ? out + me * shard + sh.begin
                          : reinterpret_cast<T*>(region(m, d, half, me, lane, kGatherPart));
    }
    reduceToAll<T, Op>(dsts, n, srcs, n, len(me), avgRanks);
    blockAgree(true);
    if (threadIdx.x < n && threadIdx.x != me) {
      storeRelease(ackFlag(m, threadIdx.x, half, me, lane, kScatterPart), tag);
      if (!direct) raiseReady(m, threadIdx.x, half, lane, kGatherPart, tag);
    }
    if (direct) continue;  // the results are in place; the final meet publishes them

    // Allgather: copy the other shards' results out.
    if (threadIdx.x == 0) {
      for (int w = 0; w < n && ok; ++w) {
        if (w != me) ok = spinUntil(m, readyFlag(m, me, half, w, lane, kGatherPart), tag, w);
      }
    }
    if (!blockAgree(ok)) return;
    for (int w = 0; w < n; ++w) {
      if (w == me) continue;
      copyBytes(reinterpret_cast<uint8_t*>(out + w * shard + sh.begin),
                region(m, me, half, w, lane, kGatherPart), len(w) * sizeof(T));
    }
    blockAgree(true);
    if (threadIdx.x < n && threadIdx.x != me) {
      storeRelease(ackFlag(m, threadIdx.x, half, me, lane, kGatherPart), tag);
    }
  }
  if (direct && !meet(m, lane, kMeetEnd, word)) return;
  finishCollective(m, seq);
}

}  // namespace

cudaError_t twoShotAllReduce(const PeerMemory& m, const TwoShotArgs& a, DataType dtype, ReduceOp op,
                             cudaStream_t stream) {
  const int avg = avgRanksOf(m, op);
  return withTypeAndOp(dtype, op, [&](auto t, auto o) {
    return withRanks(m, [&](auto ranks) {
      return launch(twoShotKernel<decltype(t), decltype(o), decltype(ranks)::value>, a.blocks,
                    kThreads, stream, m, a, avg);
    });
  });
}

}  // namespace braid::cuda
