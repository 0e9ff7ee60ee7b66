// Direct collectives on registered buffers: every rank's buffers are mapped in every rank
// (transports/nvlink/window.cc), so a rank reads its peers' inputs and writes their outputs in
// place, with no staging copy and no per-chunk handshake. Two barriers per launch, each lane
// (thread block) meeting the same lane of every peer: "my buffers are ready" before any access,
// "I am done with yours" after. allReduce: rank j reduces shard j of every input in rank order
// and writes the result into every output (reduce-scatter by NVLink reads, allgather by NVLink
// writes, in one pass, so both directions of every link carry data at once); reduceScatter
// reads, allGather writes.
//
// The barrier word carries the operation's sequence number and a hash of the call's arguments
// (DirectArgs::check): a peer whose word has this operation's number but another hash made a
// different call (another offset, count or type), and every rank fails with kDeviceMismatch
// instead of reading the wrong bytes.
#include "cuda/dispatch.cuh"
#include "cuda/graph_launch.cuh"
#include "cuda/kernels.h"

namespace braid::cuda {
namespace {

// Lane `lane`'s part [begin, end) of `total` units, cut at multiples of `align` units.
struct Range {
  size_t begin;
  size_t n;
};
__device__ __forceinline__ Range laneRange(size_t total, int lane, size_t align) {
  size_t per = (total + gridDim.x - 1) / gridDim.x;
  per = (per + align - 1) / align * align;
  const size_t begin = per * lane < total ? per * lane : total;
  return Range{begin, total - begin < per ? total - begin : per};
}

template <typename T, typename Op>
__global__ void __launch_bounds__(kThreads)
    directAllReduceKernel(PeerMemory m, DirectArgs a, int avgRanks) {
  const int lane = blockIdx.x, me = m.rank, n = m.size;
  const uint64_t seq = collectiveSeq(m);
  const uint64_t word = meetWord(seq, a.check);
  if (!meet(m, lane, kMeetStart, word)) return;
  // Shard j: whole 16-byte vectors (the last shards may be short or empty).
  constexpr size_t V = 16 / sizeof(T);
  const size_t shard = ((a.count + n - 1) / n + V - 1) / V * V;
  const size_t first = me * shard < a.count ? me * shard : a.count;
  const size_t len = a.count - first < shard ? a.count - first : shard;
  const Range r = laneRange(len, lane, V);
  const T* srcs[kMaxRanks];
  T* dsts[kMaxRanks];
  for (int w = 0; w < n; ++w) {
    srcs[w] = static_cast<const T*>(a.input[w]) + first + r.begin;
    dsts[w] = static_cast<T*>(a.output[w]) + first + r.begin;
  }
  reduceToAll<T, Op>(dsts, n, srcs, n, r.n, avgRanks);
  if (!meet(m, lane, kMeetEnd, word)) return;
  finishCollective(m, seq);
}

template <typename T, typename Op>
__global__ void __launch_bounds__(kThreads)
    directReduceScatterKernel(PeerMemory m, DirectArgs a, int avgRanks) {
  const int lane = blockIdx.x, me = m.rank, n = m.size;
  const uint64_t seq = collectiveSeq(m);
  const uint64_t word = meetWord(seq, a.check);
  if (!meet(m, lane, kMeetStart, word)) return;
  constexpr size_t V = 16 / sizeof(T);
  const Range r = laneRange(a.count, lane, V);
  const T* srcs[kMaxRanks];
  for (int w = 0; w < n; ++w) {
    srcs[w] = static_cast<const T*>(a.input[w]) + me * a.count + r.begin;
  }
  T* dst = static_cast<T*>(a.output[me]) + r.begin;
  reduceToAll<T, Op>(&dst, 1, srcs, n, r.n, avgRanks);
  if (!meet(m, lane, kMeetEnd, word)) return;
  finishCollective(m, seq);
}

__global__ void __launch_bounds__(kThreads) directAllGatherKernel(PeerMemory m, DirectArgs a) {
  const int lane = blockIdx.x, me = m.rank, n = m.size;
  const uint64_t seq = collectiveSeq(m);
  const uint64_t word = meetWord(seq, a.check);
  if (!meet(m, lane, kMeetStart, word)) return;
  const Range r = laneRange(a.count, lane, 16);
  uint8_t* dsts[kMaxRanks];
  for (int w = 0; w < n; ++w) dsts[w] = static_cast<uint8_t*>(a.output[w]) + me * a.count + r.begin;
  copyToAll(dsts, n, static_cast<const uint8_t*>(a.input[me]) + r.begin, r.n);
  if (!meet(m, lane, kMeetEnd, word)) return;
  finishCollective(m, seq);
}

}  // namespace

cudaError_t directAllReduce(const PeerMemory& m, const DirectArgs& a, DataType dtype, ReduceOp op,
                            cudaStream_t stream) {
  const int avg = avgRanksOf(m, op);
  return withTypeAndOp(dtype, op, [&](auto t, auto o) {
    return launch(directAllReduceKernel<decltype(t), decltype(o)>, a.blocks, kThreads, stream, m, a,
                  avg);
  });
}

cudaError_t directReduceScatter(const PeerMemory& m, const DirectArgs& a, DataType dtype,
                                ReduceOp op, cudaStream_t stream) {
  const int avg = avgRanksOf(m, op);
  return withTypeAndOp(dtype, op, [&](auto t, auto o) {
    return launch(directReduceScatterKernel<decltype(t), decltype(o)>, a.blocks, kThreads, stream,
                  m, a, avg);
  });
}

cudaError_t directAllGather(const PeerMemory& m, const DirectArgs& a, cudaStream_t stream) {
  return launch(directAllGatherKernel, a.blocks, kThreads, stream, m, a);
}

}  // namespace braid::cuda
