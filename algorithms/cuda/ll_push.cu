// Low-latency (LL) collectives on GPUs, for small and medium messages: every 8 payload bytes
// travel with their flag in one 16-byte store (primitives.cuh), so a reader polls the data
// itself. There is no fence, no separate flag and no acknowledgement: one NVLink store latency
// per hop, at the price of sending twice the bytes.
//
// Why no acknowledgement is needed: every LL operation has each rank send to and receive from
// every other rank, and the slot a writer uses alternates by the parity of the LL operation
// count. When writer w starts LL operation j, it has finished operation j - 1, so it has
// received reader r's data of j - 1, which r sends only after its operation j - 2 (the last
// user of this parity's slot) ended: kernels on a communicator run in launch order.
//
// Each thread handles kLlBatch units at once, so their loads and polls overlap.
#include "cuda/dispatch.cuh"
#include "cuda/kernels.h"

namespace braid::cuda {
namespace {

struct Op {
  uint32_t flag;
  int parity;
};
__device__ __forceinline__ Op llOperation(const PeerMemory& m) {
  const uint64_t seq = *reinterpret_cast<volatile uint64_t*>(&m.counters->llSeq);
  return Op{static_cast<uint32_t>(seq + 1), static_cast<int>(seq & 1)};
}

// Thread t handles units t + j * T (T threads in all), kLlBatch of them at a time: unit
// batchFirst + k * T for k < kLlBatch. Every loop over units below uses this same mapping, so a
// thread overwrites only units it has read itself (in place is safe).
__device__ __forceinline__ size_t threadsInAll() {
  return static_cast<size_t>(gridDim.x) * blockDim.x;
}
__device__ __forceinline__ size_t firstBatch() {
  return static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ size_t batchStride() { return kLlBatch * threadsInAll(); }

// One-shot: every rank pushes its block for each peer (input + peer * inputStride) into that
// peer's slot; every rank reduces all blocks for it in rank order. allReduce (stride 0) and
// reduceScatter (stride = block bytes).
template <typename T, typename Operator>
__global__ void __launch_bounds__(kThreads) llReduceKernel(PeerMemory m, LlArgs a, int avgRanks) {
  const Op op = llOperation(m);
  const int me = m.rank, n = m.size;
  const uint32_t others = ((1u << n) - 1) & ~(1u << me);
  const size_t units = (a.bytes + 7) / 8, step = threadsInAll();
  const auto* in = static_cast<const uint8_t*>(a.input);

  // Stride 0: the one block, loaded once, goes to every peer; else block p goes to peer p.
  const int blocks = a.inputStride == 0 ? 1 : n;
  for (size_t first = firstBatch(); first < units; first += batchStride()) {
    for (int b = 0; b < blocks; ++b) {
      if (a.inputStride != 0 && b == me) continue;
      uint2 v[kLlBatch];
#pragma unroll
      for (int k = 0; k < kLlBatch; ++k) {
        const size_t u = first + k * step;
        if (u < units) v[k] = loadUnit(in + b * a.inputStride, u, a.bytes);
      }
      for (int p = 0; p < n; ++p) {
        if (p == me || (a.inputStride != 0 && p != b)) continue;
#pragma unroll
        for (int k = 0; k < kLlBatch; ++k) {
          const size_t u = first + k * step;
          if (u < units) llStore(llSlot(m, p, op.parity, me) + u, v[k], op.flag);
        }
      }
    }
  }
  for (size_t first = firstBatch(); first < units; first += batchStride()) {
    uint32_t writers[kLlBatch];
    size_t index[kLlBatch];
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      index[k] = first + k * step;
      writers[k] = index[k] < units ? others : 0;
    }
    uint2 vals[kLlBatch][kMaxRanks];
    if (!llPollBatch(m, op.parity, op.flag, writers, index, vals)) break;
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      if (!writers[k]) continue;
      vals[k][me] = loadUnit(in + me * a.inputStride, index[k], a.bytes);
      storeUnit(a.output, index[k], a.bytes, reduceUnits<T, Operator>(vals[k], n, avgRanks));
    }
  }
  finishLaunch(m, &m.counters->llSeq);
}

// allGather: every rank pushes its block to every peer; block s lands at output + s * stride.
__global__ void __launch_bounds__(kThreads) llAllGatherKernel(PeerMemory m, LlArgs a) {
  const Op op = llOperation(m);
  const int me = m.rank, n = m.size;
  const uint32_t others = ((1u << n) - 1) & ~(1u << me);
  const size_t units = (a.bytes + 7) / 8, step = threadsInAll();
  auto* out = static_cast<uint8_t*>(a.output);
  uint8_t* own = out + me * a.outputStride;

  for (size_t first = firstBatch(); first < units; first += batchStride()) {
    uint2 v[kLlBatch];
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      if (first + k * step < units) v[k] = loadUnit(a.input, first + k * step, a.bytes);
    }
    for (int p = 0; p < n; ++p) {
      if (p == me) continue;
#pragma unroll
      for (int k = 0; k < kLlBatch; ++k) {
        const size_t u = first + k * step;
        if (u < units) llStore(llSlot(m, p, op.parity, me) + u, v[k], op.flag);
      }
    }
    if (own != a.input) {
#pragma unroll
      for (int k = 0; k < kLlBatch; ++k) {
        const size_t u = first + k * step;
        if (u < units) storeUnit(own, u, a.bytes, v[k]);
      }
    }
  }
  for (size_t first = firstBatch(); first < units; first += batchStride()) {
    uint32_t writers[kLlBatch];
    size_t index[kLlBatch];
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      index[k] = first + k * step;
      writers[k] = index[k] < units ? others : 0;
    }
    uint2 vals[kLlBatch][kMaxRanks];
    if (!llPollBatch(m, op.parity, op.flag, writers, index, vals)) break;
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      if (!writers[k]) continue;
      for (int w = 0; w < n; ++w) {
        if (w != me) storeUnit(out + w * a.outputStride, index[k], a.bytes, vals[k][w]);
      }
    }
  }
  finishLaunch(m, &m.counters->llSeq);
}

// Two-shot allReduce: the units are cut into n shards of `shard` units; shard j of every rank
// goes to rank j (the first `shard` units of its slot), rank j reduces it and pushes the result
// to every peer (the next `shard` units), unit by unit: no phase waits for a whole phase.
template <typename T, typename Operator>
__global__ void __launch_bounds__(kThreads)
    llTwoShotKernel(PeerMemory m, LlArgs a, size_t shard, int avgRanks) {
  const Op op = llOperation(m);
  const int me = m.rank, n = m.size;
  const uint32_t others = ((1u << n) - 1) & ~(1u << me);
  const size_t units = (a.bytes + 7) / 8, step = threadsInAll();
  // This rank's shard [mine, mineEnd): empty for the last ranks when units < n * shard.
  const size_t mine = me * shard < units ? me * shard : units;
  const size_t mineEnd = mine + shard < units ? mine + shard : units;

  // 1. Every unit outside this rank's shard to its owner.
  for (size_t first = firstBatch(); first < units; first += batchStride()) {
    uint2 v[kLlBatch];
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      const size_t u = first + k * step;
      if (u < units && (u < mine || u >= mineEnd)) v[k] = loadUnit(a.input, u, a.bytes);
    }
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      const size_t u = first + k * step;
      if (u >= units || (u >= mine && u < mineEnd)) continue;
      const int owner = static_cast<int>(u / shard);
      llStore(llSlot(m, owner, op.parity, me) + (u - owner * shard), v[k], op.flag);
    }
  }
  // 2. Reduce this rank's shard; the result to the output and to every peer.
  bool ok = true;
  for (size_t first = firstBatch(); first < mineEnd - mine; first += batchStride()) {
    uint32_t writers[kLlBatch];
    size_t index[kLlBatch];
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      index[k] = first + k * step;
      writers[k] = mine + index[k] < mineEnd ? others : 0;
    }
    uint2 vals[kLlBatch][kMaxRanks];
    if (!llPollBatch(m, op.parity, op.flag, writers, index, vals)) {
      ok = false;
      break;
    }
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      if (!writers[k]) continue;
      vals[k][me] = loadUnit(a.input, mine + index[k], a.bytes);
      const uint2 r = reduceUnits<T, Operator>(vals[k], n, avgRanks);
      storeUnit(a.output, mine + index[k], a.bytes, r);
      for (int p = 0; p < n; ++p) {
        if (p != me) llStore(llSlot(m, p, op.parity, me) + shard + index[k], r, op.flag);
      }
    }
  }
  // 3. The other shards' results into the output.
  for (size_t first = firstBatch(); ok && first < units; first += batchStride()) {
    uint32_t writers[kLlBatch];
    size_t index[kLlBatch];
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      const size_t u = first + k * step;
      const int owner = static_cast<int>(u / shard);
      const bool theirs = u < units && owner != me;
      writers[k] = theirs ? 1u << owner : 0;
      index[k] = theirs ? shard + (u - owner * shard) : 0;
    }
    uint2 vals[kLlBatch][kMaxRanks];
    if (!llPollBatch(m, op.parity, op.flag, writers, index, vals)) break;
#pragma unroll
    for (int k = 0; k < kLlBatch; ++k) {
      if (!writers[k]) continue;
      storeUnit(a.output, first + k * step, a.bytes, vals[k][__ffs(writers[k]) - 1]);
    }
  }
  finishLaunch(m, &m.counters->llSeq);
}

}  // namespace

size_t llTwoShotShard(const PeerMemory& m, size_t bytes) {
  return ((bytes + 7) / 8 + m.size - 1) / m.size;
}

cudaError_t llReduce(const PeerMemory& m, const LlArgs& a, DataType dtype, ReduceOp op,
                     cudaStream_t stream) {
  const int avg = op == ReduceOp::kAvg ? m.size : 0;
  return withTypeAndOp(dtype, op, [&](auto t, auto o) {
    llReduceKernel<decltype(t), decltype(o)><<<a.blocks, a.threads, 0, stream>>>(m, a, avg);
    return cudaGetLastError();
  });
}

cudaError_t llAllGather(const PeerMemory& m, const LlArgs& a, cudaStream_t stream) {
  llAllGatherKernel<<<a.blocks, a.threads, 0, stream>>>(m, a);
  return cudaGetLastError();
}

cudaError_t llTwoShotAllReduce(const PeerMemory& m, const LlArgs& a, DataType dtype, ReduceOp op,
                               cudaStream_t stream) {
  const int avg = op == ReduceOp::kAvg ? m.size : 0;
  const size_t shard = llTwoShotShard(m, a.bytes);
  return withTypeAndOp(dtype, op, [&](auto t, auto o) {
    llTwoShotKernel<decltype(t), decltype(o)>
        <<<a.blocks, a.threads, 0, stream>>>(m, a, shard, avg);
    return cudaGetLastError();
  });
}

}  // namespace braid::cuda
